package server

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/stats"
	"github.com/elliptics/elliptics/core/status"
)

// A node's view of the cluster lives in its peers client.Node: one outgoing
// connection to every other node (or, with Peer.ConnectOnDemand, to the
// nodes it needs), the route table built from their handshakes plus the
// node itself, failure detection by a bounded number of pings per interval,
// and member lists pulled (by digest: only what changed) and pushed. This
// file ties it to the server:
//
//   - joining: Start connects to Options.Remotes; a node that connects to us
//     with its description in the handshake is connected back, so it is in
//     our table within one round trip, and our push tells everyone else;
//   - forwarding: a data request for a key another node owns is sent there
//     and the reply relayed (Stats.Forwards);
//   - ROUTE_LIST answers with our member list (cached per route table; a
//     request may carry the digest of the list the asker holds, answered
//     with an empty list when current, or name the members it wants
//     described: client.RouteList); ROUTES_CHANGED is pushed to
//     every connection we serve (peers and clients) when our backends or
//     our table change.

// clusterState is the server's part of the cluster machinery.
type clusterState struct {
	peers    *client.Node
	version  atomic.Uint64 // of our own description; bumped on backend changes
	forwards atomic.Uint64
	relays   atomic.Uint64
	pushReq  chan struct{}
	// joined is closed once the node has learned the whole member list
	// of the remote it joined through (at once without remotes): until
	// then its table may not name the previous owners of the keys it now
	// owns.
	joined chan struct{}
	// slowLists delays ROUTE_LIST replies (tests widen the join race).
	slowLists atomic.Int64
}

func (s *Server) startCluster() {
	s.cluster.version.Store(uint64(time.Now().UnixNano()))
	s.cluster.pushReq = make(chan struct{}, 1)
	s.cluster.joined = make(chan struct{})
	cfg := s.opts.Peer
	cfg.Name = "ellipticsd " + s.address()
	cfg.Logger = s.log.Named("peers")
	cfg.Join = s.nodeInfo
	cfg.OnChange = s.routesChanged
	cfg.Auth = client.AuthConfig{ClusterSecret: s.opts.Auth.ClusterSecret}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = s.opts.RequestTimeout
	}
	s.cluster.peers = client.NewNode(cfg)
	s.loops.Add(1)
	go s.pushLoop()
	if len(s.opts.Remotes) > 0 {
		s.loops.Add(1)
		go s.join()
	} else {
		close(s.cluster.joined)
	}
}

// join connects to the configured remotes, retrying until one answers: a
// node may start before the nodes it names.
func (s *Server) join() {
	defer s.loops.Done()
	delay := 100 * time.Millisecond
	for !s.closing.Load() {
		ctx, cancel := context.WithTimeout(s.bgCtx, 10*time.Second)
		err := s.cluster.peers.AddRemotes(ctx, s.opts.Remotes...)
		cancel()
		if err == nil {
			// AddRemotes learned the member list; a ConnectOnDemand node
			// applies it in a deferred rebuild, done here before reads
			// trust the table.
			s.cluster.peers.Rebuild()
			s.markJoined()
			s.log.Info("joined the cluster", zap.Strings("remotes", s.opts.Remotes))
			return
		}
		// No remote answers: no cluster knows us yet to route here (the
		// first node of a cluster whose peers start later), so nothing
		// waits for a member list.
		s.markJoined()
		s.log.Warn("no remote reachable yet, retrying", zap.Strings("remotes", s.opts.Remotes), zap.Error(err),
			zap.Duration("retry_in", delay))
		select {
		case <-s.bgCtx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (s *Server) markJoined() {
	select {
	case <-s.cluster.joined:
	default:
		close(s.cluster.joined)
	}
}

// Table returns the node's route table (itself included).
func (s *Server) Table() *route.Table { return s.cluster.peers.Table() }

// Peers returns the node's connections to the rest of the cluster.
func (s *Server) Peers() *client.Node { return s.cluster.peers }

// Forwards counts requests forwarded to their owners.
func (s *Server) Forwards() uint64 { return s.cluster.forwards.Load() }

// bumpVersion marks our description as changed and tells everyone.
func (s *Server) bumpVersion() {
	s.cluster.version.Add(1)
	if s.cluster.peers != nil {
		s.cluster.peers.Rebuild()
	}
	s.requestPush()
}

func (s *Server) requestPush() {
	select {
	case s.cluster.pushReq <- struct{}{}:
	default:
	}
}

// pushLoop sends ROUTES_CHANGED to every connection we serve, at most ten
// times a second however fast changes come. A push carries our description
// and the members that are new or changed since the previous push, not the
// whole list: receivers only ever add and refresh from a push, so the rest
// would be decoded for nothing (a forming cluster of N nodes would move
// O(N^3) members a second). A connection whose push was dropped (a full
// queue) gets the whole list in the next push; departures, which pushes do
// not carry, reach the others by their periodic pulls. With
// ConnectOnDemand the members carry their descriptions, since receivers
// route to them without connecting.
func (s *Server) pushLoop() {
	defer s.loops.Done()
	pushed := map[string]uint64{} // member -> version last pushed
	var pushedSelf uint64
	// missed holds the connections whose last push was dropped (a full
	// queue): the next push gives them the whole list, not a delta they
	// could not apply. Waiting for their next pull instead left a tenth of
	// a forming thousand-node cluster a RefreshInterval behind.
	missed := map[*conn]bool{}
	withNodes := s.opts.Peer.ConnectOnDemand
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case <-s.cluster.pushReq:
		}
		rc := proto.RoutesChanged{Node: s.nodeInfo()}
		all := s.cluster.peers.Members(withNodes)
		now := make(map[string]uint64, len(all))
		for _, m := range all {
			now[m.Addr] = m.Version
			if v, ok := pushed[m.Addr]; !ok || v != m.Version {
				rc.Members = append(rc.Members, m)
			}
		}
		pushed = now
		delta := len(rc.Members) > 0 || rc.Node.Version != pushedSelf
		pushedSelf = rc.Node.Version
		if !delta && len(missed) == 0 {
			continue // only departures, which pushes do not carry
		}
		var payload, full []byte
		if delta {
			payload = rc.Append(nil)
		}
		s.mu.Lock()
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			if c.shook.Load() {
				conns = append(conns, c)
			}
		}
		s.mu.Unlock()
		h := proto.Header{Major: proto.VersionMajor, Minor: proto.VersionMinor, Cmd: proto.CmdRoutesChanged, Backend: -1}
		retry := make(map[*conn]bool, len(missed))
		for _, c := range conns {
			p := payload
			if missed[c] {
				if full == nil {
					whole := proto.RoutesChanged{Node: rc.Node, Members: all}
					full = whole.Append(nil)
				}
				p = full
			}
			if p != nil && !c.trySend(h, p) {
				retry[c] = true
			}
		}
		missed = retry // closed connections drop out here
		if len(missed) > 0 {
			s.requestPush()
		}
		select {
		case <-s.bgCtx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// joined handles a node that described itself in its handshake: connect
// back, so it can own keys in our table.
func (s *Server) joined(info *proto.NodeInfo, remote net.Addr) {
	addr := client.Identity(info, remote.String())
	// Its addresses first: the connection back goes to the one on our
	// route index (client.RouteIndex), the network we joined by.
	s.cluster.peers.LearnAddresses(info, remote.String())
	s.cluster.peers.AddRemoteAsync(addr)
}

func (s *Server) handleRouteList(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	if d := s.cluster.slowLists.Load(); d > 0 {
		select {
		case <-time.After(time.Duration(d)):
		case <-ctx.Done():
		}
	}
	// The list is cached per route table; a digest or a list of addresses
	// in the request asks for only what changed (client.RouteList).
	rep, err := s.cluster.peers.RouteList(req.Payload)
	if err != nil {
		return nil, err
	}
	return [][]byte{rep}, nil
}

// route decides where a data request is served: the local backend that
// owns the key, or another node. A request with FlagDirect or
// FlagDirectBackend, or for a group with no points known, is served here.
func (s *Server) route(h *proto.Header) (owner route.Backend, remote bool) {
	if h.Flags.Has(proto.FlagDirect) || h.Flags.Has(proto.FlagDirectBackend) {
		return route.Backend{}, false
	}
	o, ok := s.Table().Owner(h.ID, h.Group)
	if !ok {
		return route.Backend{}, false
	}
	return o, o.Addr != s.cluster.peers.Self()
}

// forward sends the request to its owner and returns the owner's reply.
// Statistics count it as a proxy request of its command.
func (s *Server) forward(ctx context.Context, owner route.Backend, h proto.Header, payload []byte) ([][]byte, error) {
	s.cluster.forwards.Add(1)
	start := time.Now()
	fh := h
	fh.Flags = (h.Flags | proto.FlagDirect) &^ (proto.FlagReply | proto.FlagMore)
	fh.Status = status.OK
	rep, err := s.cluster.peers.Forward(ctx, owner.Addr, fh, payload)
	s.mon.cmds.Record(uint32(h.Cmd), stats.Proxy, time.Since(start), uint64(len(payload)+len(rep)), err != nil)
	if err != nil {
		return nil, err
	}
	return [][]byte{rep}, nil
}

// replyAddress is the node's address as reported in replies: the listen
// address, or, for a node listening on every interface (":1025",
// "0.0.0.0:1025"), the address the request came in on, which the client
// can use.
func (s *Server) replyAddress(req *Request) string {
	if !s.wildcard.Load() || req.conn == nil {
		return s.address()
	}
	return req.conn.local
}
