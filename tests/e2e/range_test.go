package e2e

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// TestRangeRequests runs the original's range tests on 2 groups × 2 nodes:
// 16 keys in group 1 spread over two nodes, read back sorted with limits
// (3, 14) → 13 results, counted, removed (count, then 0), and the CLI.
func TestRangeRequests(t *testing.T) {
	nodes := newCluster(t, 2, 2)
	startAll(t, nodes)
	s := session(t, nodes[0].addr)
	waitTable(t, s, 4)
	s.SetGroups(1)
	ctx := context.Background()

	var ids []id.ID
	for i := range 16 {
		k := client.NewKey(fmt.Sprintf("range-%d", i))
		_, err := s.Write(ctx, k, []byte(fmt.Sprintf("value-%d", i)))
		require.NoError(t, err)
		oid, err := s.ID(k)
		require.NoError(t, err)
		ids = append(ids, oid)
	}
	slices.SortFunc(ids, func(a, b id.ID) int { return a.Compare(b) })
	all := client.Range{Start: id.Zero, End: id.Max}

	got, err := s.ReadRange(ctx, all)
	require.NoError(t, err)
	require.Len(t, got, 16)
	addrs := map[string]bool{}
	for i, e := range got {
		require.Equal(t, ids[i], e.ID, "sorted by ID")
		require.True(t, strings.HasPrefix(string(e.Data), "value-"))
		addrs[e.Address] = true
	}
	require.Len(t, addrs, 2, "both nodes of group 1 answered their part")

	lim := all
	lim.LimitStart, lim.LimitNum = 3, 14
	got, err = s.ReadRange(ctx, lim)
	require.NoError(t, err)
	require.Len(t, got, 13)
	require.Equal(t, ids[3], got[0].ID)
	n, err := s.CountRange(ctx, lim)
	require.NoError(t, err)
	require.Equal(t, uint64(13), n)

	out, _, code := cli(t, nil, "--remote", nodes[0].addr, "range", "count", "0", "max", "--group", "1")
	require.Equal(t, 0, code)
	require.Equal(t, "16\n", out)
	out, _, code = cli(t, nil, "--remote", nodes[0].addr, "range", "read", "0", "max", "--limit-start", "3", "--limit-num", "14")
	require.Equal(t, 0, code)
	require.Equal(t, 13, strings.Count(out, "\n"))

	// A --proxy client talks to nodes[0] only: the part of the range on
	// the other node of group 1, and an iterator there, are relayed.
	proxy := []string{"--proxy", "--remote", nodes[0].addr, "--groups", "1"}
	out, errOut, code := cli(t, nil, append(proxy, "range", "count", "0", "max")...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "16\n", out)
	out, errOut, code = cli(t, nil, append(proxy, "range", "read", "0", "max", "--limit-start", "3", "--limit-num", "14", "--data")...)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 13, strings.Count(out, "\n"))
	require.Equal(t, 13, strings.Count(out, `"value-`), "data relayed: %s", out)
	var far string
	for a := range addrs {
		if a != nodes[0].addr {
			far = a
		}
	}
	require.NotEmpty(t, far, "group 1 has a part on another node")
	out, errOut, code = cli(t, nil, append(proxy, "iterate", "--address", far, "--backend", "0")...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "started on "+far+" backend 0")
	require.NotZero(t, strings.Count(out, "\n"))
	_, errOut, code = cli(t, nil, append(proxy, "iterator", "cancel", far, "424242")...)
	require.Equal(t, 3, code, "unknown iterator on the far node: %s", errOut)
	require.Contains(t, errOut, "relay ITERATOR to "+far)

	_, err = s.ReadRange(ctx, client.Range{Start: id.Max, End: id.Zero})
	require.ErrorIs(t, err, status.ErrInvalid, "start after end")

	n, err = s.RemoveRange(ctx, all)
	require.NoError(t, err)
	require.Equal(t, uint64(16), n, "the removed count sums over the nodes")
	n, err = s.RemoveRange(ctx, all)
	require.NoError(t, err)
	require.Zero(t, n, "a second remove finds nothing")
	_, err = s.Read(ctx, client.NewKey("range-0"), 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)
}

// TestIteratorPauseContinue pauses an iterator that streams more than the
// sockets can hold, checks it stands still, continues it and gets every
// record once.
func TestIteratorPauseContinue(t *testing.T) {
	d, _, _ := blobNode(t)
	s := session(t, d.Addr)
	s.SetGroups(1)
	ctx := context.Background()
	value := bytes.Repeat([]byte("x"), 100<<10)
	const keys = 200
	for i := range keys {
		_, err := s.Write(ctx, client.NewKey(fmt.Sprintf("it-%d", i)), value)
		require.NoError(t, err)
	}
	it, err := s.StartIterator(ctx, client.IteratorOptions{Address: d.Addr, Backend: 0, Data: true, Buffer: 1})
	require.NoError(t, err)
	defer it.Close()
	<-it.Entries()
	require.NoError(t, it.Pause(ctx))
	time.Sleep(200 * time.Millisecond)
	st1, err := s.IteratorControl(ctx, d.Addr, it.ID(), proto.IterPause)
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	st2, err := s.IteratorControl(ctx, d.Addr, it.ID(), proto.IterPause)
	require.NoError(t, err)
	require.Equal(t, st1.Iterated, st2.Iterated, "paused")
	require.Less(t, st2.Iterated, uint64(keys), "paused before the end")
	require.Equal(t, uint64(keys), st2.Total)
	require.NoError(t, it.Continue(ctx))
	n := 1
	for e := range it.Entries() {
		require.Len(t, e.Data, len(value))
		n++
	}
	require.NoError(t, it.Err())
	require.Equal(t, keys, n)
	require.Equal(t, proto.IterFinished, it.State())
	_, err = s.IteratorControl(ctx, d.Addr, it.ID(), proto.IterContinue)
	require.ErrorIs(t, err, status.ErrNotFound, "a finished iterator is gone")
}

// TestCopyKeepsNewer copies group 1 to group 2 with server-send: a key that
// is newer in group 2 is refused per key (Mismatch) and both copies stay;
// the others arrive with their timestamps; the CLI's iterate --copy-to
// reports the same.
func TestCopyKeepsNewer(t *testing.T) {
	nodes := newCluster(t, 2, 1)
	startAll(t, nodes)
	s := session(t, nodes[0].addr)
	waitTable(t, s, 2)
	ctx := context.Background()
	s.SetGroups(1)
	s.SetTimestamp(time.Unix(1_000_000, 0))
	keys := []client.Key{client.NewKey("copy-a"), client.NewKey("copy-b"), client.NewKey("copy-c")}
	for _, k := range keys {
		_, err := s.Write(ctx, k, []byte("old "+k.Name))
		require.NoError(t, err)
	}
	g2 := s.Clone()
	g2.SetGroups(2)
	g2.SetTimestamp(time.Unix(2_000_000, 0))
	_, err := g2.Write(ctx, keys[1], []byte("newer"))
	require.NoError(t, err)

	res, err := s.ServerSend(ctx, keys, []uint32{2}, 0)
	require.Error(t, err)
	require.Len(t, res, 3)
	for _, r := range res {
		if r.Key.Name == "copy-b" {
			require.ErrorIs(t, r.Err, status.ErrMismatch)
		} else {
			require.NoError(t, r.Err)
		}
	}
	e, err := g2.Read(ctx, keys[1], 0, 0)
	require.NoError(t, err)
	require.Equal(t, "newer", string(e.Data), "newer data kept")
	e, err = s.Read(ctx, keys[1], 0, 0)
	require.NoError(t, err)
	require.Equal(t, "old copy-b", string(e.Data), "source kept")
	e, err = g2.Read(ctx, keys[0], 0, 0)
	require.NoError(t, err)
	require.Equal(t, "old copy-a", string(e.Data))
	require.Equal(t, int64(1_000_000), e.Timestamp.Unix())

	out, errOut, code := cli(t, nil, "--remote", nodes[0].addr, "iterate", "--address", nodes[0].addr, "--backend", "0",
		"--copy-to", "2", "--move")
	require.Equal(t, 1, code, "one record failed: %s", errOut)
	require.Equal(t, 3, strings.Count(out, "\n"))
	require.Contains(t, out, "compare-and-swap mismatch")
	n, err := s.CountRange(ctx, client.Range{Start: id.Zero, End: id.Max})
	require.NoError(t, err)
	require.Equal(t, uint64(1), n, "moved records left group 1; the refused one stayed")
}
