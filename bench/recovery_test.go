package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRecoveryBenchSmall runs a tiny version of bench/recovery (2,000
// objects, a limited move) against real ellipticsd processes and checks
// what the figures rest on: the move happened, the user load ran through
// it (hardly a failed op), and afterwards every object is readable with
// its data and lives on exactly one node.
func TestRecoveryBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three ellipticsd processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, cleanup, err := FindDaemon(ctx, "")
	require.NoError(t, err)
	defer cleanup()
	b := RecoveryBench{
		Bin: bin, Objects: 2000, ValueSize: 1024, Clients: 4, ReadFraction: 0.9,
		Baseline: 500 * time.Millisecond, Warmup: 200 * time.Millisecond, After: 200 * time.Millisecond,
		MergeDelay: 300 * time.Millisecond, Settle: time.Second, MoveTimeout: time.Minute, Points: 64,
		// Limited, so the limit's configuration path is exercised too; the
		// move still takes well under a second.
		Limits: RecoveryLimits{Name: "test", Rate: "0", ObjectsRate: 2000},
		Log:    t.Logf,
	}
	res, err := b.Run(ctx)
	require.NoError(t, err)
	t.Logf("\n%s", RecoveryTable([]RecoveryResult{res}))
	require.Zero(t, res.Unreadable, "objects unreadable after the move; first: %v", res.FirstUnreadable)
	require.NotZero(t, res.Moved, "no object moved")
	require.NotZero(t, res.NodeRecords[2], "the new node holds nothing")
	require.Equal(t, b.Objects, res.NodeRecords[0]+res.NodeRecords[1]+res.NodeRecords[2],
		"records over the three nodes (%v), want each object once", res.NodeRecords)
	require.NotZero(t, res.Baseline.Hist.Count(), "no user op in the baseline")
	require.NotZero(t, res.Move.Hist.Count(), "no user op during the move")
	require.Zero(t, res.Baseline.Errors, "user ops failed in the baseline; first: %v", res.Baseline.FirstErr)
	require.Zero(t, res.Move.Errors, "user ops failed during the move; first: %v; last: %v", res.Move.FirstErr, res.Move.LastErr)
	require.Zero(t, res.After.Errors, "user ops failed after the move; first: %v", res.After.FirstErr)
	require.Positive(t, res.MoveDuration)
}
