package server

import (
	"context"
	"errors"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/stats"
	"github.com/elliptics/elliptics/core/status"
)

// ErrNotLocal is ReadLocal's answer for a key another node owns in the
// group asked: the caller asks the cluster instead.
var ErrNotLocal = errors.New("server: key not owned by this node in that group")

// ReadLocal serves a READ of oid in group g for code running in the same
// process as the node (the built-in HTTP API) when this node owns the key
// there: as a client's READ would be served (in the key's order, on the
// owning backend once it is up, with the handoff of a moved key, the
// checksum verified by the backend), without the round trip through a
// connection to itself and its copies of the value. The data is read
// into alloc(n) when the backend can (backend.BufferedReader; nil alloc:
// the backend allocates) and is not copied. a is the request's IOAttr
// (column, offset, size, flags); the reply's IOAttr says what was read. A
// key this node does not own in g is ErrNotLocal.
//
// After an error the buffer alloc gave may still be written (a read that
// outlived ctx still runs in its turn): the caller must not reuse it.
func (s *Server) ReadLocal(ctx context.Context, oid id.ID, g uint32, a proto.IOAttr, alloc func(n int) []byte) (proto.IOAttr, []byte, error) {
	e, ok := s.handlers[proto.CmdRead]
	if !ok {
		return a, nil, status.Errorf(status.Unsupported, "command %s not supported by this node", proto.CmdRead)
	}
	if s.cluster.peers == nil {
		return a, nil, ErrNotLocal
	}
	h := proto.NewHeader(proto.CmdRead, 0, oid, g)
	// Only a key the route table gives to this node: a group the table
	// does not know is the cluster's business (the client's answer), not
	// a local backend's.
	if o, known := s.Table().Owner(oid, g); !known || o.Addr != s.cluster.peers.Self() {
		return a, nil, ErrNotLocal
	}
	payload := a.Append(nil)
	start := time.Now()
	type result struct {
		parts [][]byte
		err   error
	}
	done := make(chan result, 1)
	s.keys.run(oid, func() {
		parts, err := s.serveOne(ctx, h, payload, nil, func(ctx context.Context, req *Request, r Replier) ([][]byte, error) {
			req.alloc = alloc
			return e.fn(ctx, req, r)
		})
		done <- result{parts, err}
	})
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		// The read still runs in its turn; its outcome is dropped.
		return a, nil, status.Errorf(status.Timeout, "%s of %s in group %d: %v", proto.CmdRead, oid.Short(), g, ctx.Err())
	}
	s.recordLocal(oid, payload, r.parts, start, r.err)
	if r.err != nil {
		return a, nil, r.err
	}
	// handleRead replies with the attr and the data as separate parts;
	// a handoff relays the previous owner's reply as one.
	if len(r.parts) == 2 {
		ra, rest, err := proto.DecodeIOAttr(r.parts[0])
		if err != nil || len(rest) != 0 {
			return a, nil, status.Errorf(status.Protocol, "local read of %s: bad reply attr", oid.Short())
		}
		return ra, r.parts[1], nil
	}
	return proto.DecodeIOAttr(joinParts(r.parts))
}

// ReadBuffered forwards to the wrapped backend's, or its Read: reads tell
// no watcher.
func (ns *notifyStore) ReadBuffered(ctx context.Context, key backend.Key, offset, size uint64, alloc func(n int) []byte) ([]byte, backend.Meta, error) {
	if br, ok := ns.Backend.(backend.BufferedReader); ok {
		return br.ReadBuffered(ctx, key, offset, size, alloc)
	}
	return ns.Backend.Read(ctx, key, offset, size)
}

// recordLocal counts a local read in the node's statistics as a read from
// a client: the status page and the top keys see the API's traffic.
func (s *Server) recordLocal(oid id.ID, payload []byte, parts [][]byte, start time.Time, err error) {
	now := time.Now()
	n := uint64(len(payload))
	for _, p := range parts {
		n += uint64(len(p))
	}
	if err == nil {
		s.mon.top.Record(oid, n, now)
	}
	s.mon.cmds.Record(uint32(proto.CmdRead), stats.Storage, now.Sub(start), n, err != nil)
}
