package server

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/transport/memnet"
)

// relayCluster starts three nodes of group 1 (slow backends, so a test can
// act while an iterator runs), the last two joining through the first, and
// waits until every table lists all three.
func relayCluster(t *testing.T) []*Server {
	t.Helper()
	var nodes []*Server
	for i := range 3 {
		opts := Options{Listen: []string{"127.0.0.1:0"}, MaxPayload: 1 << 20,
			Backends: []BackendSpec{{ID: 0, Group: 1, Backend: slowBackend{mem.New()}}}}
		if i > 0 {
			opts.Remotes = []string{nodes[0].Addrs()[0].String()}
		}
		srv, err := New(opts)
		require.NoError(t, err)
		require.NoError(t, srv.Start())
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		nodes = append(nodes, srv)
	}
	require.Eventually(t, func() bool {
		for _, n := range nodes {
			if n.Table().Len() != 3 {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "node routes converge")
	return nodes
}

// relayClients are the clients that reach only the first node: a Proxy
// client, and one whose dials to the other nodes fail (NAT).
var relayClients = []struct {
	name string
	cfg  func(only string) client.Config
}{
	{"proxy", func(string) client.Config { return client.Config{Proxy: true} }},
	{"nat", func(only string) client.Config {
		return client.Config{Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			if addr != only {
				return nil, fmt.Errorf("dial %s: no route to host (test NAT)", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}}
	}},
}

// relayClient connects a client of that kind to nodes[0] only and waits
// until it knows every backend.
func relayClient(t *testing.T, nodes []*Server, cfg func(string) client.Config) *client.Session {
	t.Helper()
	first := nodes[0].Addrs()[0].String()
	c := cfg(first)
	c.WaitTimeout = 5 * time.Second
	n := client.NewNode(c)
	t.Cleanup(func() { n.Close() })
	require.NoError(t, n.AddRemotes(context.Background(), first))
	s := client.NewSession(n)
	s.SetGroups(1)
	require.NoError(t, waitBackends(s, 3))
	return s
}

// onlyFirst checks that the client holds no connection but to nodes[0].
func onlyFirst(t *testing.T, s *client.Session, nodes []*Server) {
	t.Helper()
	for ident, dialed := range s.Node().Connections() {
		require.Equal(t, nodes[0].Addrs()[0].String(), dialed, "the client reached %s itself", ident)
	}
}

func TestRelayRanges(t *testing.T) {
	for _, kind := range relayClients {
		t.Run(kind.name, func(t *testing.T) {
			nodes := relayCluster(t)
			s := relayClient(t, nodes, kind.cfg)
			ctx := context.Background()
			ids := writeKeys(t, s, "relay-"+kind.name, 60)
			for _, n := range nodes {
				require.NotZero(t, n.byID[0].store.Stats().Records, "every node owns some keys")
			}

			for _, tc := range []struct {
				name      string
				skip, num uint64
				wantFirst int
				wantRecs  int
			}{
				{"all", 0, 0, 0, 60},
				{"skip", 7, 0, 7, 53},
				{"limit", 0, 25, 0, 25},
				{"skip and limit", 13, 31, 13, 31},
				{"past the end", 70, 5, 60, 0},
			} {
				r := everything()
				r.LimitStart, r.LimitNum = tc.skip, tc.num
				n, err := s.CountRange(ctx, r)
				require.NoError(t, err, tc.name)
				require.Equal(t, uint64(tc.wantRecs), n, "%s: count", tc.name)
				es, err := s.ReadRange(ctx, r)
				require.NoError(t, err, tc.name)
				got := make([]id.ID, 0, len(es))
				for _, e := range es {
					require.Contains(t, string(e.Data), "value ", "%s: data relayed", tc.name)
					got = append(got, e.ID)
				}
				require.Equal(t, ids[tc.wantFirst:tc.wantFirst+tc.wantRecs], got, "%s: entries in ID order", tc.name)
			}
			before := nodes[0].Relays()
			require.NotZero(t, before, "the other nodes' parts went through the first")

			r := everything()
			r.LimitStart, r.LimitNum = 10, 30
			n, err := s.RemoveRange(ctx, r)
			require.NoError(t, err)
			require.Equal(t, uint64(30), n)
			n, err = s.CountRange(ctx, everything())
			require.NoError(t, err)
			require.Equal(t, uint64(30), n)
			es, err := s.ReadRange(ctx, everything())
			require.NoError(t, err)
			got := make([]id.ID, 0, len(es))
			for _, e := range es {
				got = append(got, e.ID)
			}
			require.Equal(t, append(slices.Clone(ids[:10]), ids[40:]...), got, "the 30 after the first 10 removed")
			require.Greater(t, nodes[0].Relays(), before)
			onlyFirst(t, s, nodes)
		})
	}
}

func TestRelayIterator(t *testing.T) {
	for _, kind := range relayClients {
		t.Run(kind.name, func(t *testing.T) {
			nodes := relayCluster(t)
			s := relayClient(t, nodes, kind.cfg)
			ctx := context.Background()
			writeKeys(t, s, "relay-it-"+kind.name, 300)
			far := nodes[2]
			addr := far.Addrs()[0].String()
			records := int(far.byID[0].store.Stats().Records)
			require.NotZero(t, records)

			// Start, pause, continue: every record of the far node once.
			it, err := s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Data: true, Buffer: 1})
			require.NoError(t, err)
			require.Equal(t, addr, it.Address())
			first := <-it.Entries()
			require.Contains(t, string(first.Data), "value ")
			require.NoError(t, it.Pause(ctx))
			st, err := s.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
			require.NoError(t, err)
			require.Equal(t, proto.IterPaused, st.State)
			// The far node's list, through the relay, names it.
			list, err := s.ListIterators(ctx, addr)
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, proto.IteratorInfo{ID: it.ID(), Backend: 0, Group: 1, State: proto.IterPaused,
				Type: proto.IterTypeNetwork, Flags: proto.IterData, Iterated: list[0].Iterated, Total: uint64(records),
				Started: list[0].Started}, list[0])
			require.WithinDuration(t, time.Now(), list[0].Started, time.Minute)
			list, err = s.ListIterators(ctx, nodes[0].Addrs()[0].String())
			require.NoError(t, err)
			require.Empty(t, list, "the iterator runs on the far node only")
			time.Sleep(50 * time.Millisecond)
			st, err = s.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
			require.NoError(t, err)
			time.Sleep(100 * time.Millisecond)
			st2, err := s.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
			require.NoError(t, err)
			require.Equal(t, st.Iterated, st2.Iterated, "a paused iterator does not move")
			require.NoError(t, it.Continue(ctx))
			n := 1 + len(drain(t, it))
			require.Equal(t, records, n, "every record of the far node once")
			require.Equal(t, proto.IterFinished, it.State())

			// Cancel through the relay: the stream ends in state canceled.
			it, err = s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Buffer: 1})
			require.NoError(t, err)
			<-it.Entries()
			require.NoError(t, it.Cancel(ctx))
			for range it.Entries() {
			}
			require.NoError(t, it.Err())
			require.Equal(t, proto.IterCanceled, it.State())
			_, err = s.IteratorControl(ctx, addr, it.ID(), proto.IterContinue)
			require.ErrorIs(t, err, status.ErrNotFound, "a canceled iterator is gone")
			_, err = s.IteratorControl(ctx, addr, 987654, proto.IterPause)
			require.ErrorIs(t, err, status.ErrNotFound)

			// The client goes away: the relay closes its stream to the far
			// node, which cancels the iterator.
			direct := clientFor(t, far)
			it, err = s.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Buffer: 1})
			require.NoError(t, err)
			<-it.Entries()
			_, err = direct.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
			require.NoError(t, err, "the far node runs the iterator")
			it.Close()
			require.Eventually(t, func() bool {
				_, err := direct.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
				return err != nil
			}, 5*time.Second, 10*time.Millisecond, "the far iterator ends when the client goes away")
			_, err = direct.IteratorControl(ctx, addr, it.ID(), proto.IterPause)
			require.ErrorIs(t, err, status.ErrNotFound)
			onlyFirst(t, s, nodes)
		})
	}
}

// TestRelayRaw checks the wire rules of FlagRelay: bad targets, a relay
// to the node itself, a target outside the cluster; the connection stays.
func TestRelayRaw(t *testing.T) {
	srv := startServer(t, nil, nil)
	c := dialRaw(t, srv)
	self := srv.Addrs()[0].String()
	ctrl := proto.IteratorRequest{ID: 42, Action: proto.IterPause}
	for i, tc := range []struct {
		name    string
		payload []byte
		want    status.Code
		msg     string
	}{
		{"no target", nil, status.Protocol, "relay target"},
		{"empty target", ctrl.Append(proto.AppendRelay(nil, "")), status.Invalid, "empty address"},
		{"to itself", ctrl.Append(proto.AppendRelay(nil, self)), status.NotFound, "iterator 42 not found"},
		{"not a member", ctrl.Append(proto.AppendRelay(nil, "127.0.0.1:1")), status.NoRoute, "127.0.0.1:1 is not a node of this cluster"},
	} {
		h := proto.NewHeader(proto.CmdIterator, uint64(i+1), id.ID{}, 0)
		h.Flags |= proto.FlagRelay
		c.send(h, tc.payload)
		rh, p := c.recv()
		require.Equal(t, uint64(i+1), rh.Trans, tc.name)
		require.True(t, rh.IsFinal(), tc.name)
		require.Equal(t, tc.want, rh.Status, "%s: %s", tc.name, p)
		require.Contains(t, string(p), tc.msg, tc.name)
	}
}

// TestRelayBackpressure: a relayed iterator whose requester reads nothing
// stalls on the far node once the bounded buffers on the way are full (two
// writer queues of 256 frames, the relay's and the client's 64 KiB read
// buffers, 4 KiB per memnet direction), instead of the relaying node
// draining the far stream into memory; reading again gets every record.
func TestRelayBackpressure(t *testing.T) {
	nw := memnet.New()
	nw.BufSize = 4 << 10
	var nodes []*Server
	for i := range 2 {
		opts := Options{Listen: []string{fmt.Sprintf("node%d:1025", i)}, Transport: nw,
			Backends: []BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}}}
		if i > 0 {
			opts.Remotes = []string{nodes[0].Addrs()[0].String()}
		}
		srv, err := New(opts)
		require.NoError(t, err)
		require.NoError(t, srv.Start())
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		nodes = append(nodes, srv)
	}
	far, farAddr := nodes[1], nodes[1].Addrs()[0].String()
	const records = 4000
	ctx := context.Background()
	for i := range records {
		k, _ := id.FromKey("", fmt.Sprintf("bp-%d", i))
		_, err := far.byID[0].store.Write(ctx, &backend.WriteRequest{Key: backend.Key{ID: k}, Data: []byte("v"),
			Timestamp: time.Now()})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return nodes[0].Table().Len() == 2 }, 10*time.Second, 10*time.Millisecond)

	n := client.NewNode(client.Config{Proxy: true, Dial: nw.Dial})
	t.Cleanup(func() { n.Close() })
	require.NoError(t, n.AddRemotes(ctx, nodes[0].Addrs()[0].String()))
	s := client.NewSession(n)
	s.SetGroups(1)
	it, err := s.StartIterator(ctx, client.IteratorOptions{Address: farAddr, Backend: 0, Buffer: 1})
	require.NoError(t, err)
	defer it.Close()

	// Continue on a running iterator changes nothing and reports progress.
	progress := func() uint64 {
		e, err := s.IteratorControl(ctx, farAddr, it.ID(), proto.IterContinue)
		require.NoError(t, err)
		return e.Iterated
	}
	last := progress()
	require.Eventually(t, func() bool {
		time.Sleep(50 * time.Millisecond)
		now := progress()
		stalled := now == last
		last = now
		return stalled
	}, 10*time.Second, time.Millisecond, "the far iterator stalls")
	require.Less(t, last, uint64(records/2), "the relay buffered what the client did not read")
	t.Logf("stalled after %d of %d records", last, records)

	got := 0
	for range it.Entries() {
		got++
	}
	require.NoError(t, it.Err())
	require.Equal(t, records, got)
	require.Greater(t, nodes[0].Relays(), uint64(0))
}
