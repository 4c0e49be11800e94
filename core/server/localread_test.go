package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/backendtest"
	"github.com/elliptics/elliptics/core/backend/blob"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/server/clustertest"
	"github.com/elliptics/elliptics/core/status"
)

// ReadLocal serves the keys its node owns, as a READ would (ranges, missing
// keys, a checksum that fails), and refuses the others.
func TestReadLocal(t *testing.T) {
	ctx := context.Background()
	dirs := []string{t.TempDir(), t.TempDir()}
	// Both nodes in group 1: each owns part of the keys.
	c, _, sess := startCluster(t, clustertest.Options{Nodes: 2, Groups: 1,
		Backend: func(i int) (backend.Backend, error) {
			return blob.Open(dirs[i], blob.Options{Sync: blob.SyncNone})
		}})
	sess.SetGroups(1)
	// owner is the index of the node ReadLocal serves key on; the other
	// must say ErrNotLocal.
	var alloc func(int) []byte // of the next owner call
	owner := func(key string, a proto.IOAttr) (int, proto.IOAttr, []byte, error) {
		t.Helper()
		oid, err := sess.ID(client.NewKey(key))
		require.NoError(t, err)
		found := -1
		var ra proto.IOAttr
		var data []byte
		var rerr error
		for i, n := range c.Nodes {
			r, d, err := n.ReadLocal(ctx, oid, 1, a, alloc)
			if errors.Is(err, server.ErrNotLocal) {
				continue
			}
			require.Equal(t, -1, found, "%s is local to nodes %d and %d", key, found, i)
			found, ra, data, rerr = i, r, d, err
		}
		require.NotEqual(t, -1, found, "%s is local to no node", key)
		return found, ra, data, rerr
	}

	value := bytes.Repeat([]byte("local-read-"), 1000)
	seen := map[int]bool{}
	for i := range 20 {
		key := fmt.Sprint("key-", i)
		_, err := sess.Write(ctx, client.NewKey(key), value)
		require.NoError(t, err)
		n, ra, data, err := owner(key, proto.IOAttr{})
		require.NoError(t, err)
		require.Equal(t, value, data)
		require.Equal(t, uint64(len(value)), ra.TotalSize)
		seen[n] = true
	}
	require.Len(t, seen, 2, "20 keys, all on one node of two")

	t.Run("range", func(t *testing.T) {
		_, ra, data, err := owner("key-3", proto.IOAttr{Offset: 100, Size: 50})
		require.NoError(t, err)
		require.Equal(t, value[100:150], data)
		require.Equal(t, uint64(100), ra.Offset)
		require.Equal(t, uint64(len(value)), ra.TotalSize)
	})
	t.Run("buffered", func(t *testing.T) {
		var buf []byte
		alloc = func(n int) []byte {
			buf = bytes.Repeat([]byte{0xaa}, n)
			return buf
		}
		defer func() { alloc = nil }()
		_, _, data, err := owner("key-5", proto.IOAttr{Offset: 10})
		require.NoError(t, err)
		require.Equal(t, value[10:], data)
		// The blob read the record into the buffer given.
		require.Equal(t, value, buf)
	})
	t.Run("missing", func(t *testing.T) {
		_, _, _, err := owner("never-written", proto.IOAttr{})
		require.ErrorIs(t, err, status.ErrNotFound)
	})
	t.Run("unknown group", func(t *testing.T) {
		oid, err := sess.ID(client.NewKey("key-1"))
		require.NoError(t, err)
		for _, n := range c.Nodes {
			_, _, err := n.ReadLocal(ctx, oid, 7, proto.IOAttr{}, nil)
			require.ErrorIs(t, err, server.ErrNotLocal)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		bad := bytes.Repeat([]byte("to-be-corrupted-"), 500)
		_, err := sess.Write(ctx, client.NewKey("bad"), bad)
		require.NoError(t, err)
		n, _, _, err := owner("bad", proto.IOAttr{})
		require.NoError(t, err)
		backendtest.CorruptValue(t, dirs[n], bad)
		alloc = func(n int) []byte { return make([]byte, n) }
		defer func() { alloc = nil }()
		_, _, data, err := owner("bad", proto.IOAttr{})
		require.ErrorIs(t, err, status.ErrCorrupt)
		require.Nil(t, data)
	})
}
