package server

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// cmdCounter counts the requests each node serves, by command.
type cmdCounter struct {
	mu sync.Mutex
	n  map[proto.Cmd]int
}

func (c *cmdCounter) get(cmd proto.Cmd) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[cmd]
}

func (c *cmdCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = map[proto.Cmd]int{}
}

// count wraps the data and bulk handlers of s; bulk false drops the bulk
// commands, as a node of an older version would not know them.
func (c *cmdCounter) count(s *Server, bulk bool) {
	if !bulk {
		delete(s.handlers, proto.CmdBulkRead)
		delete(s.handlers, proto.CmdBulkWrite)
	}
	for _, cmd := range []proto.Cmd{proto.CmdRead, proto.CmdWrite, proto.CmdBulkRead, proto.CmdBulkWrite} {
		e, ok := s.handlers[cmd]
		if !ok {
			continue
		}
		s.Handle(cmd, func(ctx context.Context, req *Request, r Replier) ([][]byte, error) {
			c.mu.Lock()
			if c.n == nil {
				c.n = map[proto.Cmd]int{}
			}
			c.n[cmd]++
			c.mu.Unlock()
			return e.fn(ctx, req, r)
		}, e.opts)
	}
}

type bulkClusterOpts struct {
	maxPayload uint64
	oldNode    bool // the second node of group 1 does not know bulk commands
}

// bulkCluster starts 2 groups × 2 nodes (one mem backend each) and a
// session on all of them with groups 1, 2.
func bulkCluster(t testing.TB, o bulkClusterOpts) ([]*Server, *client.Session, *cmdCounter) {
	t.Helper()
	if o.maxPayload == 0 {
		o.maxPayload = 1 << 20
	}
	cnt := &cmdCounter{}
	var nodes []*Server
	for i := range 4 {
		g := uint32(1 + i/2)
		opts := Options{Listen: []string{"127.0.0.1:0"}, MaxPayload: o.maxPayload,
			Backends: []BackendSpec{{ID: 0, Group: g, Backend: mem.New()}}}
		if i > 0 {
			opts.Remotes = []string{nodes[0].Addrs()[0].String()}
		}
		srv, err := New(opts)
		require.NoError(t, err)
		cnt.count(srv, !(o.oldNode && i == 1))
		require.NoError(t, srv.Start())
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		nodes = append(nodes, srv)
	}
	cn := client.NewNode(client.Config{WaitTimeout: 5 * time.Second})
	t.Cleanup(func() { cn.Close() })
	var addrs []string
	for _, srv := range nodes {
		addrs = append(addrs, srv.Addrs()[0].String())
	}
	require.NoError(t, cn.AddRemotes(context.Background(), addrs...))
	s := client.NewSession(cn)
	s.SetGroups(1, 2)
	require.NoError(t, waitBackends(s, 4))
	for _, n := range nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for n.Table().Len() != 4 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		require.Equal(t, 4, n.Table().Len(), "node routes converge")
	}
	return nodes, s, cnt
}

func bulkKeys(prefix string, n int) []client.Key {
	keys := make([]client.Key, n)
	for i := range keys {
		keys[i] = client.NewKey(fmt.Sprintf("%s-%d", prefix, i))
	}
	return keys
}

func TestBulkTwoGroups(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts bulkClusterOpts
		// most bulk requests one call may take per group (with key splits)
		maxBulk int
	}{
		{name: "bulk", maxBulk: 2},
		{name: "older node", opts: bulkClusterOpts{oldNode: true}, maxBulk: 2},
		{name: "small payload", opts: bulkClusterOpts{maxPayload: 32 << 10}, maxBulk: 1 << 10},
	} {
		for _, async := range []bool{false, true} {
			name := tc.name
			if async {
				name += "/async"
			}
			t.Run(name, func(t *testing.T) { testBulkTwoGroups(t, tc.opts, tc.maxBulk, async) })
		}
	}
}

// bulkWrite and bulkRead are BulkWrite and BulkRead, or with async their
// asynchronous forms waited for.
func bulkWrite(ctx context.Context, s *client.Session, async bool, keys []client.Key, datas [][]byte,
	each func(i int, r client.Result, err error)) error {
	if !async {
		return s.BulkWrite(ctx, keys, datas, each)
	}
	ch := make(chan error, 1)
	s.BulkWriteAsync(ctx, keys, datas, each, func(err error) { ch <- err })
	return <-ch
}

func bulkRead(ctx context.Context, s *client.Session, async bool, keys []client.Key, each func(i int, e client.Entry, err error)) error {
	if !async {
		return s.BulkRead(ctx, keys, each)
	}
	ch := make(chan error, 1)
	s.BulkReadAsync(ctx, keys, each, func(err error) { ch <- err })
	return <-ch
}

func testBulkTwoGroups(t *testing.T, opts bulkClusterOpts, maxBulk int, async bool) {
	ctx := context.Background()
	_, s, cnt := bulkCluster(t, opts)
	const n = 1000
	keys := bulkKeys("bulk", n)
	value := func(i int) []byte { return []byte(fmt.Sprintf("value-%d-%0200d", i, i)) }
	// i%10 == 0: missing; i%10 == 1: only in group 2; else in both.
	var both, only2 []int
	for i := range n {
		switch i % 10 {
		case 0:
		case 1:
			only2 = append(only2, i)
		default:
			both = append(both, i)
		}
	}
	write := func(s *client.Session, idx []int) {
		ks := make([]client.Key, len(idx))
		ds := make([][]byte, len(idx))
		for j, i := range idx {
			ks[j], ds[j] = keys[i], value(i)
		}
		var calls atomic.Int32
		require.NoError(t, bulkWrite(ctx, s, async, ks, ds, func(j int, r client.Result, err error) {
			calls.Add(1)
			require.NoError(t, err)
			require.Equal(t, len(s.Groups()), r.Succeeded)
		}))
		require.Equal(t, int32(len(idx)), calls.Load())
	}
	cnt.reset()
	write(s, both)
	g2 := s.Clone()
	g2.SetGroups(2)
	write(g2, only2)
	if !opts.oldNode {
		require.Zero(t, cnt.get(proto.CmdWrite), "no single writes")
	} else {
		require.NotZero(t, cnt.get(proto.CmdWrite), "the older node gets single writes")
	}
	bulkWrites := cnt.get(proto.CmdBulkWrite)
	require.LessOrEqual(t, bulkWrites, 3*2*maxBulk)
	if opts.maxPayload != 0 {
		require.Greater(t, bulkWrites, 6, "requests split under the payload limit")
	}

	cnt.reset()
	found := map[int]uint32{}
	var missing []int
	require.NoError(t, bulkRead(ctx, s, async, keys, func(i int, e client.Entry, err error) {
		if err != nil {
			require.ErrorIs(t, err, status.ErrNotFound, "key %d", i)
			require.Equal(t, status.NotFound, e.Status)
			require.Equal(t, uint32(2), e.Group, "the last group tried")
			missing = append(missing, i)
			return
		}
		_, dup := found[i]
		require.False(t, dup, "key %d reported twice", i)
		require.Equal(t, string(value(i)), string(e.Data))
		found[i] = e.Group
	}))
	require.Len(t, missing, n/10)
	for _, i := range missing {
		require.Zero(t, i%10)
	}
	require.Len(t, found, n-n/10)
	for i, g := range found {
		if i%10 == 1 {
			require.Equal(t, uint32(2), g, "key %d only in group 2", i)
		} else {
			require.Equal(t, uint32(1), g, "key %d from the first group", i)
		}
	}
	if !opts.oldNode {
		require.Zero(t, cnt.get(proto.CmdRead), "no single reads")
	} else {
		require.NotZero(t, cnt.get(proto.CmdRead))
	}
	bulkReads := cnt.get(proto.CmdBulkRead)
	require.NotZero(t, bulkReads)
	require.LessOrEqual(t, bulkReads, 4*maxBulk)
	if opts.maxPayload != 0 {
		require.Greater(t, bulkReads, 4, "replies bounded by the payload limit")
	}
}

// TestBulkPerKeyRules: every key of a bulk goes through the single READ and
// WRITE paths: uncommitted uploads and expired values are not found, a
// read-only backend fails its keys only, a compare-and-swap mismatch fails
// its key only.
func TestBulkPerKeyRules(t *testing.T) {
	ctx := context.Background()
	nodes, s, _ := bulkCluster(t, bulkClusterOpts{})
	s.SetGroups(1)

	_, err := s.WriteWith(ctx, client.NewKey("uncommitted"), []byte("x"), client.WriteOptions{Prepare: true, TotalSize: 10})
	require.NoError(t, err)
	_, err = s.WriteWith(ctx, client.NewKey("expired"), []byte("x"), client.WriteOptions{TTL: time.Millisecond})
	require.NoError(t, err)
	_, err = s.Write(ctx, client.NewKey("live"), []byte("live"))
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond)
	keys := []client.Key{client.NewKey("uncommitted"), client.NewKey("expired"), client.NewKey("live"),
		client.NewKey("x").WithColumn(string(make([]byte, proto.MaxColumnLen+1)))}
	errs := make([]error, len(keys))
	require.NoError(t, s.BulkRead(ctx, keys, func(i int, e client.Entry, err error) {
		errs[i] = err
		if i == 2 {
			require.Equal(t, "live", string(e.Data))
		}
	}))
	require.ErrorIs(t, errs[0], status.ErrNotFound)
	require.ErrorIs(t, errs[1], status.ErrNotFound)
	require.NoError(t, errs[2])
	require.ErrorIs(t, errs[3], status.ErrTooLarge)

	// Node 1 of group 1 read-only: its keys fail, the others succeed.
	nodes[1].Backends()[0].SetReadOnly(true)
	keys = bulkKeys("ro", 100)
	datas := make([][]byte, len(keys))
	for i := range datas {
		datas[i] = []byte("v")
	}
	var ro, ok int
	err = s.BulkWrite(ctx, keys, datas, func(i int, r client.Result, err error) {
		if err != nil {
			require.ErrorIs(t, err, status.ErrReadOnly)
			ro++
			return
		}
		ok++
	})
	require.ErrorContains(t, err, fmt.Sprintf("%d of 100 keys failed", ro))
	require.NotZero(t, ro)
	require.NotZero(t, ok)
	nodes[1].Backends()[0].SetReadOnly(false)

	// A raw bulk write with a compare-and-swap: the mismatch is per key.
	var wrong id.ID
	wrong[0] = 1
	a := proto.IOAttr{Flags: proto.IOCompareAndSwap, Size: 1}
	cas := append(append(a.Append(nil), wrong[:]...), 'z')
	plain := append((&proto.IOAttr{Size: 1}).Append(nil), 'y')
	owner, _ := nodes[0].Table().Owner(key("live"), 1)
	var srv *Server
	for _, n := range nodes {
		if n.Addrs()[0].String() == owner.Addr {
			srv = n
		}
	}
	require.NotNil(t, srv)
	c := dialRaw(t, srv)
	c.send(proto.NewHeader(proto.CmdBulkWrite, 1, id.Zero, 1),
		proto.AppendBulkRequest(nil, []proto.BulkKey{{ID: key("live"), Payload: cas}, {ID: key("other"), Payload: plain},
			{ID: key("bad"), Payload: []byte{1, 2}}}))
	h, p := c.recv()
	require.Equal(t, status.OK, h.Status)
	rs, err := proto.DecodeBulkReply(p)
	require.NoError(t, err)
	require.Len(t, rs, 3)
	got := map[uint32]status.Code{}
	for _, r := range rs {
		got[r.Index] = r.Status
	}
	require.Equal(t, map[uint32]status.Code{0: status.Mismatch, 1: status.OK, 2: status.Protocol}, got)
	e, err := s.Read(ctx, client.NewKey("live"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "live", string(e.Data), "the mismatched write changed nothing")
	e, err = s.Read(ctx, client.NewKey("other"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "y", string(e.Data), "a key another node owns is forwarded")
}

// TestBulkReplyBound: a bulk read whose values do not fit one reply is
// answered in several; a value too big for a bulk reply is read alone.
func TestBulkReplyBound(t *testing.T) {
	ctx := context.Background()
	_, s, cnt := bulkCluster(t, bulkClusterOpts{maxPayload: 64 << 10})
	s.SetGroups(1)
	keys := bulkKeys("big", 20)
	datas := make([][]byte, len(keys))
	for i := range datas {
		datas[i] = make([]byte, 20<<10)
		datas[i][0] = byte(i)
	}
	// One value just under what a single READ reply can carry.
	datas[3] = make([]byte, 64<<10-proto.IOAttrSize-8)
	datas[3][0] = 3
	require.NoError(t, s.BulkWrite(ctx, keys, datas, nil))
	cnt.reset()
	n := 0
	require.NoError(t, s.BulkRead(ctx, keys, func(i int, e client.Entry, err error) {
		require.NoError(t, err)
		require.Equal(t, len(datas[i]), len(e.Data))
		require.Equal(t, byte(i), e.Data[0])
		n++
	}))
	require.Equal(t, len(keys), n)
	require.Greater(t, cnt.get(proto.CmdBulkRead), 2)
	require.Equal(t, 1, cnt.get(proto.CmdRead), "the value too big for a bulk reply")
}

// perKey runs do(0..n-1), 64 at a time: what BulkRead and BulkWrite did
// before bulk requests (one READ or WRITE per key and group).
func perKey(n int, do func(i int)) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			do(i)
		}()
	}
	wg.Wait()
}

const benchKeys = 1000

func benchData(n int) ([]client.Key, [][]byte) {
	keys := bulkKeys("bench", n)
	datas := make([][]byte, n)
	for i := range datas {
		datas[i] = make([]byte, 1<<10)
	}
	return keys, datas
}

// BenchmarkBulkWrite writes 1,000 keys of 1 KiB to 2 groups × 2 nodes:
// with BulkWrite (a BULK_WRITE per node) and with a WRITE per key.
func BenchmarkBulkWrite(b *testing.B) {
	_, s, _ := bulkCluster(b, bulkClusterOpts{maxPayload: proto.DefaultMaxPayload})
	ctx := context.Background()
	keys, datas := benchData(benchKeys)
	b.Run("bulk", func(b *testing.B) {
		b.SetBytes(int64(benchKeys << 10))
		for range b.N {
			require.NoError(b, s.BulkWrite(ctx, keys, datas, nil))
		}
	})
	b.Run("per-key", func(b *testing.B) {
		b.SetBytes(int64(benchKeys << 10))
		for range b.N {
			perKey(benchKeys, func(i int) {
				if _, err := s.Write(ctx, keys[i], datas[i]); err != nil {
					b.Error(err)
				}
			})
		}
	})
}

// BenchmarkBulkRead reads 1,000 keys of 1 KiB from 2 groups × 2 nodes:
// with BulkRead (a BULK_READ per node) and with a READ per key.
func BenchmarkBulkRead(b *testing.B) {
	_, s, _ := bulkCluster(b, bulkClusterOpts{maxPayload: proto.DefaultMaxPayload})
	ctx := context.Background()
	keys, datas := benchData(benchKeys)
	require.NoError(b, s.BulkWrite(ctx, keys, datas, nil))
	b.Run("bulk", func(b *testing.B) {
		b.SetBytes(int64(benchKeys << 10))
		for range b.N {
			require.NoError(b, s.BulkRead(ctx, keys, func(i int, e client.Entry, err error) {
				if err != nil {
					b.Error(err)
				}
			}))
		}
	})
	b.Run("per-key", func(b *testing.B) {
		b.SetBytes(int64(benchKeys << 10))
		for range b.N {
			perKey(benchKeys, func(i int) {
				if _, err := s.Read(ctx, keys[i], 0, 0); err != nil {
					b.Error(err)
				}
			})
		}
	})
}
