package proto

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/status"
)

func TestMonitorStatRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    uint64
		err     bool
	}{
		{"empty asks for all", nil, ^uint64(0), false},
		{"mask", MonitorStatRequest{Categories: 4 | 16}.Append(nil), 20, false},
		{"trailing bytes ignored", append(MonitorStatRequest{Categories: 1}.Append(nil), 9, 9), 1, false},
		{"short", []byte{1, 2, 3}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeMonitorStatRequest(tc.payload)
			if tc.err {
				require.True(t, errors.Is(err, status.ErrProtocol), "%v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, r.Categories)
		})
	}
	require.Equal(t, "MONITOR_STAT", CmdMonitorStat.String())
}

func FuzzMonitorStatRequest(f *testing.F) {
	f.Add([]byte{})
	f.Add(MonitorStatRequest{Categories: 0xff}.Append(nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeMonitorStatRequest(b)
		if err != nil {
			return
		}
		if len(b) >= MonitorStatSize {
			again, err := DecodeMonitorStatRequest(r.Append(nil))
			if err != nil || again != r {
				t.Fatalf("round trip of %x: %v %v", b, again, err)
			}
		}
	})
}
