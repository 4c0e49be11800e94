package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/blob"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/server/clustertest"
)

// BenchmarkDCEqualGroups times a dc of a backend whose group already holds
// everything the other group does (an anti-entropy pass with nothing to
// do), comparing range hashes first or every record's metadata:
//
//	go test -run '^$' -bench DCEqualGroups -benchtime 5x ./core/server/
func BenchmarkDCEqualGroups(b *testing.B) {
	ctx := context.Background()
	c, _, sess := startCluster(b, clustertest.Options{Nodes: 2, Groups: 2, Recovery: server.RecoveryOptions{Manual: true}})
	const n = 50000
	keys := make([]client.Key, n)
	datas := make([][]byte, n)
	for i := range n {
		keys[i], datas[i] = client.NewKey(fmt.Sprint("k", i)), []byte("value")
	}
	require.NoError(b, sess.BulkWrite(ctx, keys, datas, nil))
	for _, mode := range []struct {
		name   string
		before time.Time // set: compare records (range hashes cover every record)
	}{{"hashes", time.Time{}}, {"records", time.Now().Add(time.Hour)}} {
		b.Run(mode.name, func(b *testing.B) {
			var scanned uint64
			for b.Loop() {
				st, err := c.Nodes[0].Recovery().Start(recovery.Spec{Kind: recovery.DC, Backend: 0, Before: mode.before})
				require.NoError(b, err)
				for !st.State.Finished() {
					time.Sleep(time.Millisecond)
					for _, j := range c.Nodes[0].Recovery().Jobs() {
						if j.ID == st.ID {
							st = j
						}
					}
				}
				require.Equal(b, recovery.Done, st.State, st.Err)
				require.Zero(b, st.Moved)
				scanned = st.Scanned
			}
			b.ReportMetric(float64(scanned), "records-scanned/op")
		})
	}
}

// BenchmarkRemoveTombstone times REMOVE on a blob backend (sync always)
// with tombstones (the default tombstone_ttl) and without:
//
//	go test -run '^$' -bench RemoveTombstone -benchtime 2000x ./core/server/
func BenchmarkRemoveTombstone(b *testing.B) {
	for _, mode := range []struct {
		name string
		ttl  time.Duration
	}{{"tombstones", 0}, {"none", -1}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			_, _, sess := startCluster(b, clustertest.Options{Nodes: 1, Groups: 1,
				Recovery: server.RecoveryOptions{Manual: true, TombstoneTTL: mode.ttl},
				Backend:  func(int) (backend.Backend, error) { return blob.Open(dir, blob.Options{}) }})
			sess.SetGroups(1)
			keys := make([]client.Key, b.N)
			for i := range keys {
				keys[i] = client.NewKey(fmt.Sprint("k", i))
				_, err := sess.Write(ctx, keys[i], []byte("value"))
				require.NoError(b, err)
			}
			b.ResetTimer()
			for i := range b.N {
				_, err := sess.Remove(ctx, keys[i])
				require.NoError(b, err)
			}
		})
	}
}
