package server

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

// rangeNode starts a node with two mem backends in group 1 (so a range
// spans two owners) and one in group 2, and a client session on it.
func rangeNode(t *testing.T) (*Server, *client.Session) {
	t.Helper()
	s := startServer(t, func(o *Options) {
		o.Backends = []BackendSpec{
			{ID: 0, Group: 1, Backend: mem.New()},
			{ID: 1, Group: 1, Backend: mem.New()},
			{ID: 2, Group: 2, Backend: mem.New()},
		}
	}, nil)
	return s, clientFor(t, s)
}

func clientFor(t *testing.T, servers ...*Server) *client.Session {
	t.Helper()
	n := client.NewNode(client.Config{WaitTimeout: 5 * time.Second})
	t.Cleanup(func() { n.Close() })
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.Addrs()[0].String())
	}
	require.NoError(t, n.AddRemotes(context.Background(), addrs...))
	s := client.NewSession(n)
	s.SetGroups(1)
	return s
}

// writeKeys writes n keys to group 1 and returns their IDs, sorted.
func writeKeys(t *testing.T, s *client.Session, prefix string, n int) []id.ID {
	t.Helper()
	var ids []id.ID
	for i := range n {
		k := client.NewKey(fmt.Sprintf("%s-%d", prefix, i))
		_, err := s.Write(context.Background(), k, []byte(fmt.Sprintf("value %d", i)))
		require.NoError(t, err)
		oid, err := s.ID(k)
		require.NoError(t, err)
		ids = append(ids, oid)
	}
	slices.SortFunc(ids, func(a, b id.ID) int { return a.Compare(b) })
	return ids
}

func everything() client.Range { return client.Range{Start: id.Zero, End: id.Max} }

func TestRangeLimits(t *testing.T) {
	srv, s := rangeNode(t)
	ctx := context.Background()
	ids := writeKeys(t, s, "range", 16)
	// The keys are spread over both backends of group 1.
	var per [2]uint64
	for i := range 2 {
		per[i] = srv.byID[int32(i)].store.Stats().Records
	}
	require.Equal(t, uint64(16), per[0]+per[1])

	for _, tc := range []struct {
		name       string
		start, num uint64
		want       []id.ID
	}{
		{"all", 0, 0, ids},
		{"original (3,14)", 3, 14, ids[3:16]},
		{"first five", 0, 5, ids[:5]},
		{"last one", 15, 0, ids[15:]},
		{"skip past the end", 20, 0, nil},
		{"middle", 4, 6, ids[4:10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := everything()
			r.LimitStart, r.LimitNum = tc.start, tc.num
			got, err := s.ReadRange(ctx, r)
			require.NoError(t, err)
			var gotIDs []id.ID
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
				require.True(t, bytes.HasPrefix(e.Data, []byte("value ")), "data %q", e.Data)
				require.Equal(t, uint32(1), e.Group)
				require.False(t, e.Timestamp.IsZero())
			}
			require.Equal(t, tc.want, gotIDs, "sorted by ID, limits applied")
			n, err := s.CountRange(ctx, r)
			require.NoError(t, err)
			require.Equal(t, uint64(len(tc.want)), n)
		})
	}

	// A sub-range: [ids[2], ids[9]) holds 7 keys.
	n, err := s.CountRange(ctx, client.Range{Start: ids[2], End: ids[9]})
	require.NoError(t, err)
	require.Equal(t, uint64(7), n)
	// Offset and size apply to every value.
	got, err := s.ReadRange(ctx, client.Range{Start: ids[0], End: ids[1], Offset: 6, Size: 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Len(t, got[0].Data, 1)
	require.Equal(t, uint64(6), got[0].Offset)
	got, err = s.ReadRange(ctx, client.Range{Start: ids[0], End: ids[1], Offset: 100})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Empty(t, got[0].Data, "a value shorter than the offset comes without data")
}

func TestRangeRemove(t *testing.T) {
	_, s := rangeNode(t)
	ctx := context.Background()
	ids := writeKeys(t, s, "rm", 16)
	r := everything()
	r.LimitStart, r.LimitNum = 3, 4
	n, err := s.RemoveRange(ctx, r)
	require.NoError(t, err)
	require.Equal(t, uint64(4), n)
	left, err := s.ReadRange(ctx, everything())
	require.NoError(t, err)
	require.Len(t, left, 12)
	require.Equal(t, ids[2], left[2].ID)
	require.Equal(t, ids[7], left[3].ID, "ids[3:7] removed")

	n, err = s.RemoveRange(ctx, everything())
	require.NoError(t, err)
	require.Equal(t, uint64(12), n)
	n, err = s.RemoveRange(ctx, everything())
	require.NoError(t, err)
	require.Equal(t, uint64(0), n, "a second remove finds nothing")
	n, err = s.CountRange(ctx, everything())
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestRangeBadInput(t *testing.T) {
	srv, s := rangeNode(t)
	ctx := context.Background()
	writeKeys(t, s, "bad", 4)
	_, err := s.ReadRange(ctx, client.Range{Start: id.Max, End: id.Zero})
	require.ErrorIs(t, err, status.ErrInvalid)
	_, err = s.RemoveRange(ctx, client.Range{Start: id.Max, End: id.Zero})
	require.ErrorIs(t, err, status.ErrInvalid)
	n, err := s.CountRange(ctx, client.Range{Start: id.Max, End: id.Max})
	require.NoError(t, err, "an empty range is not an error")
	require.Zero(t, n)
	_, err = s.CountRange(ctx, client.Range{Start: id.Zero, End: id.Max, Group: 9})
	require.ErrorIs(t, err, status.ErrNoRoute)

	// What the node itself says to a bad request.
	c := dialRaw(t, srv)
	for i, tc := range []struct {
		payload []byte
		flags   proto.Flags
		backend int32
		want    status.Code
	}{
		{(&proto.RangeRequest{Start: id.Max, End: id.Zero}).Append(nil), proto.FlagDirectBackend, 0, status.Invalid},
		{[]byte{1, 2, 3}, proto.FlagDirectBackend, 0, status.Protocol},
		{(&proto.RangeRequest{End: id.Max}).Append(nil), proto.FlagDirectBackend, 7, status.NoRoute},
		{(&proto.RangeRequest{End: id.Max}).Append(nil), proto.FlagDirectBackend, 0, status.OK},
	} {
		h := proto.NewHeader(proto.CmdRemoveRange, uint64(i+1), id.Zero, 1)
		h.Flags, h.Backend = tc.flags, tc.backend
		c.send(h, tc.payload)
		rh, _ := c.recv()
		require.Equal(t, tc.want, rh.Status, "case %d", i)
	}
}

func TestRangeSkipsExpiredAndUncommitted(t *testing.T) {
	_, s := rangeNode(t)
	ctx := context.Background()
	writeKeys(t, s, "live", 3)
	_, err := s.WriteWith(ctx, client.NewKey("ttl"), []byte("x"), client.WriteOptions{TTL: time.Millisecond})
	require.NoError(t, err)
	_, err = s.WriteWith(ctx, client.NewKey("upload"), []byte("x"), client.WriteOptions{Prepare: true, TotalSize: 10})
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond)
	n, err := s.CountRange(ctx, everything())
	require.NoError(t, err)
	require.Equal(t, uint64(3), n)
	seen := 0
	for _, b := range []int32{0, 1} {
		it, err := s.StartIterator(ctx, client.IteratorOptions{Address: s.Node().Table().Addresses()[0], Backend: b})
		require.NoError(t, err)
		seen += len(drain(t, it))
	}
	require.Equal(t, 3, seen)
}

func drain(t *testing.T, it *client.Iterator) []client.IteratorEntry {
	t.Helper()
	var out []client.IteratorEntry
	for e := range it.Entries() {
		out = append(out, e)
	}
	require.NoError(t, it.Err())
	return out
}

func TestIterator(t *testing.T) {
	_, s := rangeNode(t)
	ctx := context.Background()
	ids := writeKeys(t, s, "it", 20)
	tb := s.Node().Table()
	b0, ok := tb.Backend(tb.Addresses()[0], 0)
	require.True(t, ok)
	addr := b0.Addr

	var all []id.ID
	for _, b := range []int32{0, 1} {
		it, err := s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: b, Data: true})
		require.NoError(t, err)
		require.NotZero(t, it.ID())
		es := drain(t, it)
		require.Equal(t, proto.IterFinished, it.State())
		iterated, total := it.Progress()
		require.Equal(t, uint64(len(es)), iterated)
		require.Equal(t, iterated, total)
		for i, e := range es {
			require.True(t, bytes.HasPrefix(e.Data, []byte("value ")))
			require.Equal(t, uint64(len(e.Data)), e.TotalSize)
			require.False(t, e.Timestamp.IsZero())
			if i > 0 {
				require.True(t, es[i-1].ID.Less(e.ID), "ascending IDs")
			}
			all = append(all, e.ID)
		}
	}
	slices.SortFunc(all, func(a, b id.ID) int { return a.Compare(b) })
	require.Equal(t, ids, all, "the two backends hold every key once")

	// Key ranges, no data, no metadata.
	it, err := s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, NoMeta: true,
		Ranges: []proto.IteratorRange{{Start: id.Zero, End: id.Max}}})
	require.NoError(t, err)
	for _, e := range drain(t, it) {
		require.True(t, e.Timestamp.IsZero())
		require.Nil(t, e.Data)
	}

	// A time range that excludes everything: only keep-alives flow.
	old := IteratorKeepAlive
	IteratorKeepAlive = 0
	t.Cleanup(func() { IteratorKeepAlive = old })
	it, err = s.StartIterator(ctx, client.IteratorOptions{Point: ids[0], Group: 1,
		TimeBegin: time.Unix(1, 0), TimeEnd: time.Unix(2, 0)})
	require.NoError(t, err)
	require.Empty(t, drain(t, it))
	iterated, _ := it.Progress()
	require.NotZero(t, iterated, "the keep-alives carried progress")

	// A time range that keeps everything.
	it, err = s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0,
		TimeBegin: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.NotEmpty(t, drain(t, it))
}

// slowBackend takes a millisecond per record it iterates, so a test can
// act while an iterator runs.
type slowBackend struct{ backend.Backend }

func (b slowBackend) Iterate(ctx context.Context, opts backend.IterateOptions, fn func(backend.Record) error) error {
	return b.Backend.Iterate(ctx, opts, func(r backend.Record) error {
		time.Sleep(time.Millisecond)
		return fn(r)
	})
}

func TestIteratorPauseContinueCancel(t *testing.T) {
	srv := startServer(t, func(o *Options) {
		o.Backends = []BackendSpec{{ID: 0, Group: 1, Backend: slowBackend{mem.New()}}}
	}, nil)
	s := clientFor(t, srv)
	ctx := context.Background()
	writeKeys(t, s, "pc", 300)
	addr := srv.Addrs()[0].String()
	it, err := s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Buffer: 1})
	require.NoError(t, err)
	<-it.Entries()
	require.NoError(t, it.Pause(ctx))
	st, err := s.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
	require.NoError(t, err, "pausing a paused iterator is fine")
	// Paused: the count stops moving once what was under way is sent.
	time.Sleep(50 * time.Millisecond)
	st, err = s.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
	require.NoError(t, err)
	before := st.Iterated
	time.Sleep(100 * time.Millisecond)
	st, err = s.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
	require.NoError(t, err)
	require.Equal(t, before, st.Iterated, "a paused iterator does not move")
	require.NoError(t, it.Continue(ctx))
	n := 1 + len(drain(t, it))
	require.Equal(t, int(srv.byID[0].store.Stats().Records), n, "every record once, none lost to the pause")

	// Cancel: the iterator ends cleanly in state canceled.
	it, err = s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Buffer: 1})
	require.NoError(t, err)
	<-it.Entries()
	require.NoError(t, it.Cancel(ctx))
	for range it.Entries() {
	}
	require.NoError(t, it.Err())
	require.Equal(t, proto.IterCanceled, it.State())

	// Unknown ids, and an iterator that ended, are not found.
	_, err = s.IteratorControl(ctx, addr, 987654, proto.IterPause)
	require.ErrorIs(t, err, status.ErrNotFound)
	require.ErrorIs(t, it.Continue(ctx), status.ErrNotFound)

	// Closing the stream cancels the iterator on the node.
	it, err = s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Buffer: 1})
	require.NoError(t, err)
	<-it.Entries()
	it.Close()
	require.Eventually(t, func() bool {
		_, err := s.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
		return err != nil
	}, 5*time.Second, 10*time.Millisecond)
}

func TestIteratorBadInput(t *testing.T) {
	srv, s := rangeNode(t)
	ctx := context.Background()
	addr := srv.Addrs()[0].String()
	_, err := s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0,
		Ranges: []proto.IteratorRange{{Start: id.Max, End: id.Zero}}})
	require.ErrorIs(t, err, status.ErrInvalid)
	_, err = s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0,
		TimeBegin: time.Unix(10, 0), TimeEnd: time.Unix(5, 0)})
	require.ErrorIs(t, err, status.ErrInvalid)
	_, err = s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 9})
	require.ErrorIs(t, err, status.ErrNoRoute)
	_, err = s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 2, CopyTo: []uint32{2}})
	require.ErrorIs(t, err, status.ErrInvalid, "copying a group onto itself")
	_, err = s.IteratorControl(ctx, addr, 1, proto.IteratorAction(9))
	require.ErrorIs(t, err, status.ErrInvalid)

	c := dialRaw(t, srv)
	for i, tc := range []struct {
		req  proto.IteratorRequest
		want status.Code
	}{
		{proto.IteratorRequest{Action: proto.IterStart, Type: proto.IterTypeDisk}, status.Unsupported},
		{proto.IteratorRequest{Action: proto.IterStart, Type: 77}, status.Invalid},
		{proto.IteratorRequest{Action: 42}, status.Invalid},
		{proto.IteratorRequest{Action: proto.IterCancel, ID: 5555}, status.NotFound},
	} {
		h := proto.NewHeader(proto.CmdIterator, uint64(i+1), id.Zero, 1)
		h.Flags, h.Backend = proto.FlagDirectBackend, 0
		c.send(h, tc.req.Append(nil))
		rh, _ := c.recv()
		require.Equal(t, tc.want, rh.Status, "case %d", i)
	}
}

// TestServerSend copies between a node's own groups (local writes) and to
// another node (writes through the peer connections), never over newer
// data unless asked.
func TestServerSend(t *testing.T) {
	a, s := rangeNode(t)
	ctx := context.Background()
	b := startServer(t, func(o *Options) {
		o.Backends = []BackendSpec{{ID: 0, Group: 3, Backend: mem.New()}}
		o.Remotes = []string{a.Addrs()[0].String()}
	}, nil)
	s = clientFor(t, a, b)
	require.NoError(t, waitBackends(s, 4))
	require.Eventually(t, func() bool { return a.Table().Len() == 4 }, 5*time.Second, 10*time.Millisecond)

	old, newer := time.Unix(1000, 0), time.Unix(2000, 0)
	keys := []client.Key{client.NewKey("s1"), client.NewKey("s2"), client.NewKey("s3")}
	s.SetTimestamp(old)
	for _, k := range keys {
		_, err := s.Write(ctx, k, []byte("old "+k.Name))
		require.NoError(t, err)
	}
	// s2 is newer in groups 2 and 3 already.
	s2 := s.Clone()
	s2.SetGroups(2, 3)
	s2.SetTimestamp(newer)
	_, err := s2.Write(ctx, keys[1], []byte("newer"))
	require.NoError(t, err)

	res, err := s.ServerSend(ctx, keys, []uint32{2, 3}, 0)
	require.Error(t, err)
	require.Len(t, res, 6)
	for _, r := range res {
		if r.Key.Name == "s2" {
			require.ErrorIs(t, r.Err, status.ErrMismatch, "group %d kept its newer data", r.Group)
		} else {
			require.NoError(t, r.Err, "%s to group %d", r.Key, r.Group)
		}
	}
	for _, g := range []uint32{2, 3} {
		rs := s.Clone()
		rs.SetGroups(g)
		e, err := rs.Read(ctx, keys[1], 0, 0)
		require.NoError(t, err)
		require.Equal(t, "newer", string(e.Data))
		e, err = rs.Read(ctx, keys[0], 0, 0)
		require.NoError(t, err)
		require.Equal(t, "old s1", string(e.Data))
		require.True(t, old.Equal(e.Timestamp), "the copy keeps the source timestamp, got %s", e.Timestamp)
	}
	e, err := s.Read(ctx, keys[1], 0, 0)
	require.NoError(t, err, "the source is kept")
	require.Equal(t, "old s2", string(e.Data))

	// Overwrite and move.
	res, err = s.ServerSend(ctx, keys[1:2], []uint32{3}, proto.IterOverwrite|proto.IterMove)
	require.NoError(t, err)
	require.Len(t, res, 1)
	rs := s.Clone()
	rs.SetGroups(3)
	e, err = rs.Read(ctx, keys[1], 0, 0)
	require.NoError(t, err)
	require.Equal(t, "old s2", string(e.Data))
	_, err = s.Read(ctx, keys[1], 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound, "moved off group 1")

	// A missing key is reported per group.
	res, err = s.ServerSend(ctx, []client.Key{client.NewKey("missing")}, []uint32{2}, 0)
	require.Error(t, err)
	require.ErrorIs(t, res[0].Err, status.ErrNotFound)
}

func TestCopyIterator(t *testing.T) {
	a, s := rangeNode(t)
	ctx := context.Background()
	addr := a.Addrs()[0].String()
	s.SetTimestamp(time.Unix(1000, 0))
	writeKeys(t, s, "ci", 10)
	newer := s.Clone()
	newer.SetGroups(2)
	newer.SetTimestamp(time.Unix(5000, 0))
	_, err := newer.Write(ctx, client.NewKey("ci-3"), []byte("newest"))
	require.NoError(t, err)

	var results []client.IteratorEntry
	for _, b := range []int32{0, 1} {
		it, err := s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: b, CopyTo: []uint32{2}})
		require.NoError(t, err)
		results = append(results, drain(t, it)...)
	}
	require.Len(t, results, 10)
	mismatches := 0
	for _, r := range results {
		require.Equal(t, uint32(2), r.Group)
		if r.Status == status.Mismatch {
			mismatches++
		} else {
			require.Equal(t, status.OK, r.Status)
		}
	}
	require.Equal(t, 1, mismatches, "only the key that is newer at the destination")
	n, err := newer.CountRange(ctx, client.Range{Start: id.Zero, End: id.Max, Group: 2})
	require.NoError(t, err)
	require.Equal(t, uint64(10), n)
	e, err := newer.Read(ctx, client.NewKey("ci-3"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "newest", string(e.Data))
}

func waitBackends(s *client.Session, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Node().WaitRoutes(ctx, func(tb *route.Table) bool { return tb.Len() == n })
}
