package server

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// serveOne serves one single-key command as this node would serve it from
// a client: on the local backend that owns the key, or forwarded to its
// owner. The caller orders it among the key's requests when it must.
func (s *Server) serveOne(ctx context.Context, h proto.Header, payload []byte, from *Request, fn Handler) (parts [][]byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panicked", zap.Stringer("cmd", h.Cmd), zap.Any("panic", p),
				zap.ByteString("stack", debug.Stack()))
			parts, err = nil, status.Errorf(status.IOError, "internal error serving %s", h.Cmd)
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, status.Errorf(status.Canceled, "%s of %s: %v", h.Cmd, h.ID.Short(), err)
	}
	h.Flags &^= proto.FlagReply | proto.FlagMore
	owner, remote := s.route(&h)
	if remote {
		return s.forward(ctx, owner, h, payload)
	}
	if owner.Addr != "" {
		h.Backend = owner.ID
	}
	b, st, err := s.backendFor(&h)
	if err != nil {
		return nil, err
	}
	defer b.release()
	h.Backend = b.ID
	if err := b.wait(ctx); err != nil {
		return nil, err
	}
	sub := &Request{Header: h, Payload: payload, Backend: b, Store: st}
	if from != nil {
		sub.Remote, sub.conn = from.Remote, from.conn
	}
	return fn(ctx, sub, nil)
}

// localSession runs single-key commands for code inside the node (scripts,
// their loader) the way a client session would, without a connection to
// the node itself: each key on its owner in each group, in the key's
// order when this node owns it, forwarded otherwise.
type localSession struct {
	s      *Server
	ns     string
	groups []uint32 // reads try them in order; writes and removes go to all
}

// do serves cmd on key oid in group g, in the key's order.
func (l *localSession) do(ctx context.Context, cmd proto.Cmd, oid id.ID, g uint32, payload []byte) ([][]byte, error) {
	e, ok := l.s.handlers[cmd]
	if !ok {
		return nil, status.Errorf(status.Unsupported, "command %s not supported by this node", cmd)
	}
	h := proto.NewHeader(cmd, 0, oid, g)
	if _, remote := l.s.route(&h); remote {
		// Forwarded without holding the key's queue here: the owner may
		// be forwarding a request on the same key to us meanwhile (the
		// queues are per ID, across groups), and each would wait for the
		// other.
		return l.s.serveOne(ctx, h, payload, nil, e.fn)
	}
	type result struct {
		parts [][]byte
		err   error
	}
	done := make(chan result, 1)
	l.s.keys.run(oid, func() {
		parts, err := l.s.serveOne(ctx, h, payload, nil, e.fn)
		done <- result{parts, err}
	})
	select {
	case r := <-done:
		return r.parts, r.err
	case <-ctx.Done():
		// The command still runs in its turn; its outcome is dropped.
		return nil, status.Errorf(status.Timeout, "%s of %s in group %d: %v", cmd, oid.Short(), g, ctx.Err())
	}
}

func (l *localSession) id(key string) (id.ID, error) {
	if key == "" {
		return id.ID{}, status.Errorf(status.Invalid, "empty key")
	}
	return id.FromKey(l.ns, key)
}

// read returns the data of key from the first group that has it.
func (l *localSession) read(ctx context.Context, key string, a proto.IOAttr) (proto.IOAttr, []byte, error) {
	oid, err := l.id(key)
	if err != nil {
		return a, nil, err
	}
	payload := a.Append(nil)
	var errs []error
	for _, g := range l.groups {
		parts, err := l.do(ctx, proto.CmdRead, oid, g, payload)
		if err == nil {
			ra, data, err := proto.DecodeIOAttr(joinParts(parts))
			return ra, data, err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return a, nil, firstNotNotFound(key, errs)
}

// lookup returns what key is, from the first group that has it.
func (l *localSession) lookup(ctx context.Context, key string) (proto.LookupInfo, error) {
	oid, err := l.id(key)
	if err != nil {
		return proto.LookupInfo{}, err
	}
	payload := (&proto.IOAttr{}).Append(nil)
	var errs []error
	for _, g := range l.groups {
		parts, err := l.do(ctx, proto.CmdLookup, oid, g, payload)
		if err == nil {
			return proto.DecodeLookupInfo(joinParts(parts))
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return proto.LookupInfo{}, firstNotNotFound(key, errs)
}

// firstNotNotFound is the error of a read that failed in every group: the
// first that is not "not found", else not found.
func firstNotNotFound(key string, errs []error) error {
	if len(errs) == 0 {
		return status.Errorf(status.NoRoute, "%s: no group to ask", key)
	}
	for _, err := range errs {
		if !errors.Is(err, status.ErrNotFound) {
			return err
		}
	}
	return errs[0]
}

// all runs cmd on key in every group at once. It succeeds when at least one
// group did (as a client session's default checker); found reports
// whether any group succeeded, for removes.
func (l *localSession) all(ctx context.Context, cmd proto.Cmd, key string, payload ...[]byte) error {
	oid, err := l.id(key)
	if err != nil {
		return err
	}
	body := joinParts(payload)
	errs := make([]error, len(l.groups))
	var wg sync.WaitGroup
	for i, g := range l.groups {
		wg.Go(func() { _, errs[i] = l.do(ctx, cmd, oid, g, body) })
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	if len(errs) == 0 {
		return status.Errorf(status.NoRoute, "%s %s: no group", cmd, key)
	}
	return fmt.Errorf("%s %s: %w", cmd, key, firstNotNotFound(key, errs))
}

func joinParts(parts [][]byte) []byte {
	if len(parts) == 1 {
		return parts[0]
	}
	var n int
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
