package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

func TestReadLatest(t *testing.T) {
	_, addr := startNode(t, 1, 2, 3)
	s := connect(t, addr)
	ctx := context.Background()
	old, mid, newest := time.Unix(1600000000, 0), time.Unix(1600000100, 0), time.Unix(1600000200, 5)

	type put struct {
		groups []uint32
		ts     time.Time
		data   string
	}
	for i, tc := range []struct {
		name      string
		puts      []put
		groups    []uint32 // session groups of the read
		offset    uint64
		size      uint64
		wantData  string
		wantGroup uint32
		wantErr   error
		wantTried int // entries returned (lookups + reads)
	}{
		{name: "newest in the last group", puts: []put{{[]uint32{1, 2}, old, "old"}, {[]uint32{3}, newest, "new"}},
			groups: []uint32{1, 2, 3}, wantData: "new", wantGroup: 3, wantTried: 4},
		{name: "newest in the first group", puts: []put{{[]uint32{2, 3}, old, "old"}, {[]uint32{1}, newest, "new"}},
			groups: []uint32{1, 2, 3}, wantData: "new", wantGroup: 1, wantTried: 4},
		{name: "three generations", puts: []put{{[]uint32{1}, old, "a"}, {[]uint32{3}, mid, "b"}, {[]uint32{2}, newest, "c"}},
			groups: []uint32{3, 1, 2}, wantData: "c", wantGroup: 2, wantTried: 4},
		{name: "only one group has it", puts: []put{{[]uint32{2}, old, "x"}},
			groups: []uint32{1, 2, 3}, wantData: "x", wantGroup: 2, wantTried: 4},
		{name: "equal timestamps keep group order", puts: []put{{[]uint32{2}, mid, "two"}, {[]uint32{3}, mid, "three"}},
			groups: []uint32{3, 2, 1}, wantData: "three", wantGroup: 3, wantTried: 4},
		{name: "offset and size", puts: []put{{[]uint32{1}, old, "0123456789"}, {[]uint32{2}, newest, "abcdefghij"}},
			groups: []uint32{1, 2}, offset: 2, size: 3, wantData: "cde", wantGroup: 2, wantTried: 3},
		{name: "an unknown group is skipped", puts: []put{{[]uint32{1}, old, "v"}},
			groups: []uint32{9, 1}, wantData: "v", wantGroup: 1, wantTried: 3},
		{name: "no group has it", groups: []uint32{1, 2, 3}, wantErr: status.ErrNotFound, wantTried: 3},
		{name: "an unknown group may hold it", groups: []uint32{1, 9}, wantErr: status.ErrNoRoute, wantTried: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := client.NewKey(fmt.Sprintf("latest-%d", i))
			for _, p := range tc.puts {
				w := s.Clone()
				w.SetGroups(p.groups...)
				w.SetTimestamp(p.ts)
				w.SetChecker(client.CheckAll)
				_, err := w.Write(ctx, key, []byte(p.data))
				require.NoError(t, err)
			}
			r := s.Clone()
			r.SetGroups(tc.groups...)
			e, tried, err := r.ReadLatest(ctx, key, tc.offset, tc.size)
			require.Len(t, tried, tc.wantTried)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantData, string(e.Data))
			require.Equal(t, tc.wantGroup, e.Group)
			require.True(t, e.OK())
			require.Equal(t, e.Group, tried[len(tried)-1].Group, "the entry read comes last")
		})
	}
}

func TestReadLatestEmptyKey(t *testing.T) {
	_, addr := startNode(t, 1)
	s := connect(t, addr)
	_, _, err := s.ReadLatest(context.Background(), client.NewKey(""), 0, 0)
	require.ErrorIs(t, err, status.ErrInvalid)
}
