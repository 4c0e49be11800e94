package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// TestBulkReadWrite runs 2 groups × 2 daemons: the original's test (bulk
// read of 2 keys, 1 missing → 1 result), then a bulk write and read of many
// keys, some only in group 2, directly and through one node (proxy, where
// the node forwards each key another node owns).
func TestBulkReadWrite(t *testing.T) {
	nodes := newCluster(t, 2, 2)
	startAll(t, nodes)
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr)
		waitTable(t, session(t, n.addr), 4) // every node knows every node
	}
	s := session(t, addrs...)
	waitTable(t, s, 4)
	s.SetGroups(1, 2)
	ctx := context.Background()

	_, err := s.Write(ctx, client.NewKey("bulk-present"), []byte("here"))
	require.NoError(t, err)
	var got []string
	require.NoError(t, s.BulkRead(ctx, []client.Key{client.NewKey("bulk-present"), client.NewKey("bulk-absent")},
		func(i int, e client.Entry, err error) {
			if err != nil {
				require.ErrorIs(t, err, status.ErrNotFound)
				return
			}
			got = append(got, string(e.Data))
		}))
	require.Equal(t, []string{"here"}, got, "2 keys, 1 missing: 1 result")

	const n = 300
	keys := make([]client.Key, n)
	datas := make([][]byte, n)
	for i := range keys {
		keys[i] = client.NewKey(fmt.Sprintf("bulk-%d", i))
		datas[i] = []byte(fmt.Sprintf("value-%d", i))
	}
	// Even keys in both groups, odd keys only in group 2.
	var evenK, oddK []client.Key
	var evenD, oddD [][]byte
	for i := range keys {
		if i%2 == 0 {
			evenK, evenD = append(evenK, keys[i]), append(evenD, datas[i])
		} else {
			oddK, oddD = append(oddK, keys[i]), append(oddD, datas[i])
		}
	}
	s.SetChecker(client.CheckAll)
	require.NoError(t, s.BulkWrite(ctx, evenK, evenD, func(i int, r client.Result, err error) {
		require.NoError(t, err)
		require.Equal(t, 2, r.Succeeded)
	}))
	g2 := s.Clone()
	g2.SetGroups(2)
	require.NoError(t, g2.BulkWrite(ctx, oddK, oddD, nil))

	pn := client.NewNode(client.Config{Proxy: true, WaitTimeout: 3 * time.Second})
	defer pn.Close()
	require.NoError(t, pn.AddRemotes(ctx, nodes[0].addr))
	proxy := client.NewSession(pn)
	proxy.SetGroups(1, 2)
	all := append(keys, client.NewKey("bulk-never-written"))
	for name, sess := range map[string]*client.Session{"direct": s, "proxy": proxy} {
		seen := 0
		require.NoError(t, sess.BulkRead(ctx, all, func(i int, e client.Entry, err error) {
			seen++
			if i == n {
				require.ErrorIs(t, err, status.ErrNotFound, name)
				return
			}
			require.NoError(t, err, "%s key %d", name, i)
			require.Equal(t, string(datas[i]), string(e.Data), name)
			require.Equal(t, uint32(1+i%2), e.Group, "%s key %d", name, i)
		}))
		require.Equal(t, len(all), seen, name)
	}
}
