package client_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

func TestBulkWriteRead(t *testing.T) {
	_, addr := startNode(t, 1, 2)
	s := connect(t, addr)
	ctx := context.Background()

	const n = 300 // more than the keys in flight at once
	keys := make([]client.Key, n)
	datas := make([][]byte, n)
	for i := range keys {
		keys[i] = client.NewKey(fmt.Sprintf("bulk-%d", i))
		datas[i] = []byte(fmt.Sprintf("value-%d", i))
	}
	seen := make([]int, n)
	var inside atomic.Int32
	require.NoError(t, s.BulkWrite(ctx, keys, datas, func(i int, r client.Result, err error) {
		require.Equal(t, int32(1), inside.Add(1), "each is called one at a time")
		defer inside.Add(-1)
		require.NoError(t, err)
		require.Equal(t, 2, r.Succeeded)
		seen[i]++
	}))
	for i, c := range seen {
		require.Equal(t, 1, c, "key %d reported once", i)
	}

	// One key never written: reported missing, the rest read back.
	keys = append(keys, client.NewKey("bulk-missing"))
	got := make(map[int]string)
	missing := -1
	require.NoError(t, s.BulkRead(ctx, keys, func(i int, e client.Entry, err error) {
		if err != nil {
			require.ErrorIs(t, err, status.ErrNotFound)
			missing = i
			return
		}
		got[i] = string(e.Data)
	}))
	require.Equal(t, n, missing)
	require.Len(t, got, n)
	for i := range n {
		require.Equal(t, fmt.Sprintf("value-%d", i), got[i])
	}
}

func TestBulkWriteReportsFailures(t *testing.T) {
	_, addr := startNode(t, 1)
	s := connect(t, addr)
	ctx := context.Background()

	err := s.BulkWrite(ctx, []client.Key{client.NewKey("a")}, nil, nil)
	require.ErrorContains(t, err, "1 keys but 0 values")

	s.SetGroups(1, 7) // group 7 does not exist
	s.SetChecker(client.CheckAll)
	keys := []client.Key{client.NewKey("a"), client.NewKey("b")}
	err = s.BulkWrite(ctx, keys, [][]byte{[]byte("1"), []byte("2")}, nil)
	require.ErrorIs(t, err, status.ErrNoRoute)
	require.ErrorContains(t, err, "2 of 2 keys failed")
}
