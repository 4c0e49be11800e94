package client

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
)

// The asynchronous forms of the data calls (WriteAsync, ReadAsync,
// LookupAsync, RemoveAsync) send their requests on the calling goroutine
// and complete from the connections' reader goroutines: a caller that
// sleeps outside the Go scheduler (a C thread waiting on a futex in the C
// library) is then woken once per call, by the goroutine that read the
// reply, instead of by a goroutine that ran the call for it. Their
// outcomes are those of the blocking forms (checker, filter, timeouts,
// ctx).
//
// done is called exactly once: on the calling goroutine before the call
// returns (an invalid key, a canceled ctx, a dead connection), on a
// connection's reader goroutine, on its sweeper (timeouts), on ctx's
// cancelation, or on a goroutine of its own when a group's owner has no
// established connection (the call then runs in the blocking form, which
// may dial). done must not block: on a reader goroutine it holds up every
// reply of that connection. The data passed to a write must not change
// until done is called. Setters of the session called after the call
// returns do not affect it.

// liveConn is connForKey without its slow paths: the established
// connection to the owner of key in group g, or nil.
func (n *Node) liveConn(key id.ID, g uint32) *conn {
	if n.isClosed() {
		return nil
	}
	rt := n.routes.Load()
	if n.cfg.Proxy {
		return rt.anyLive()
	}
	if owner, ok := rt.table.Owner(key, g); ok {
		if c := rt.conns[owner.Addr]; c != nil && c.alive() {
			return c
		}
	}
	return nil
}

// WriteAsync is WriteWith that calls done with its outcome instead of
// returning it (see the rules above).
func (s *Session) WriteAsync(ctx context.Context, k Key, data []byte, o WriteOptions, done func(Result, error)) {
	if o.CAS != nil && len(s.groups) > 1 {
		// Two steps, the primary's decision then the copies
		// (writeCASPrimary): the blocking form, on a goroutine of its own.
		sc := s.Clone()
		go func() { done(sc.WriteWith(ctx, k, data, o)) }()
		return
	}
	oid, attr, err := s.writeAttr(k, data, o)
	if err != nil {
		done(Result{}, err)
		return
	}
	sc := *s
	s.parallelAsync(ctx, oid, k.Column, proto.CmdWrite, [][]byte{attr, data}, func(e *Entry, r reply) {
		li, err := proto.DecodeLookupInfo(r.payload)
		if setErr(e, err) {
			return
		}
		fillLookup(e, &li)
	}, func() { done(sc.WriteWith(ctx, k, data, o)) }, done)
}

// RemoveAsync is Remove that calls done with its outcome instead of
// returning it.
func (s *Session) RemoveAsync(ctx context.Context, k Key, done func(Result, error)) {
	oid, err := s.resolve(k)
	if err != nil {
		done(Result{}, err)
		return
	}
	a := proto.IOAttr{Flags: s.ioflags, Column: k.Column, Timestamp: s.stamp()}
	if err := a.Validate(); err != nil {
		done(Result{}, err)
		return
	}
	sc := *s
	s.parallelAsync(ctx, oid, k.Column, proto.CmdRemove, [][]byte{a.Append(nil)}, func(*Entry, reply) {},
		func() { done(sc.Remove(ctx, k)) }, done)
}

// ReadAsync is ReadAll that calls done with its outcome instead of
// returning it. The next group is asked from the completion of the
// previous one.
func (s *Session) ReadAsync(ctx context.Context, k Key, offset, size uint64, done func(Entry, []Entry, error)) {
	a := proto.IOAttr{Flags: s.ioflags, Column: k.Column, Offset: offset, Size: size}
	s.sequentialAsync(ctx, k, proto.CmdRead, a, decodeRead, done)
}

// LookupAsync is LookupAll that calls done with its outcome instead of
// returning it.
func (s *Session) LookupAsync(ctx context.Context, k Key, o LookupOptions, done func(Entry, []Entry, error)) {
	a := proto.IOAttr{Flags: s.ioflags, Column: k.Column}
	if o.Checksum {
		a.Flags |= proto.IOChecksum
	}
	s.sequentialAsync(ctx, k, proto.CmdLookup, a, decodeLookup, done)
}

// parallelAsync is parallel for calls whose groups all have established
// connections: one request per group sent from here, the verdict given by
// the last completion. Otherwise it runs slow (the blocking form) on a
// goroutine.
func (s *Session) parallelAsync(ctx context.Context, oid id.ID, column string, cmd proto.Cmd, parts [][]byte,
	decode func(e *Entry, r reply), slow func(), done func(Result, error)) {
	var one [1]*conn
	conns := one[:0]
	if len(s.groups) > 1 {
		conns = make([]*conn, 0, len(s.groups))
	}
	for _, g := range s.groups {
		c := s.node.liveConn(oid, g)
		if c == nil {
			go slow()
			return
		}
		conns = append(conns, c)
	}
	entries := make([]Entry, len(s.groups))
	checker, filter := s.checker, s.filter
	if len(entries) == 0 {
		done(verdict(entries, checker, filter))
		return
	}
	for i, g := range s.groups {
		entries[i] = Entry{Group: g, ID: oid, Column: column, Address: conns[i].addr}
	}
	deadline := time.Now().Add(s.timeout)
	left := new(atomic.Int32)
	left.Store(int32(len(entries)))
	for i, c := range conns {
		e := &entries[i]
		c.start(ctx, deadline, s.header(cmd, oid, e.Group), parts, func(r reply, err error) {
			if !setErr(e, err) {
				decode(e, r)
			}
			if left.Add(-1) == 0 {
				done(verdict(entries, checker, filter))
			}
		})
	}
}

// seqCall is one sequentialAsync call: the groups are tried in turn, each
// from the completion of the previous one.
type seqCall struct {
	s      Session // a copy: the caller may change its session meanwhile
	ctx    context.Context
	oid    id.ID
	column string
	cmd    proto.Cmd
	parts  [][]byte
	decode func(e *Entry, payload []byte) error
	done   func(Entry, []Entry, error)
	tried  []Entry
}

func (s *Session) sequentialAsync(ctx context.Context, k Key, cmd proto.Cmd, a proto.IOAttr,
	decode func(e *Entry, payload []byte) error, done func(Entry, []Entry, error)) {
	oid, err := s.resolve(k)
	if err != nil {
		done(Entry{}, nil, err)
		return
	}
	if err := a.Validate(); err != nil {
		done(Entry{}, nil, err)
		return
	}
	q := &seqCall{s: *s, ctx: ctx, oid: oid, column: k.Column, cmd: cmd, parts: [][]byte{a.Append(nil)},
		decode: decode, done: done, tried: make([]Entry, 0, len(s.groups))}
	q.s.groups = s.readGroups(oid) // read order; never modified
	q.next()
}

// next asks the next group, or gives the verdict when every group was
// tried.
func (q *seqCall) next() {
	if len(q.tried) == len(q.s.groups) {
		q.done(Entry{}, q.tried, readVerdict(q.tried))
		return
	}
	g := q.s.groups[len(q.tried)]
	q.tried = append(q.tried, Entry{Group: g, ID: q.oid, Column: q.column})
	e := &q.tried[len(q.tried)-1]
	deadline := time.Now().Add(q.s.timeout)
	h := q.s.header(q.cmd, q.oid, g)
	c := q.s.node.liveConn(q.oid, g)
	if c == nil {
		// The slow path may dial: off the caller's (or a reader's)
		// goroutine.
		go func() {
			c, err := q.s.node.connForKey(q.ctx, deadline, q.oid, g)
			if setErr(e, err) {
				q.after(e)
				return
			}
			e.Address = c.addr
			r, err := c.do(q.ctx, deadline, h, q.parts...)
			q.replied(e, r, err)
		}()
		return
	}
	e.Address = c.addr
	c.start(q.ctx, deadline, h, q.parts, func(r reply, err error) { q.replied(e, r, err) })
}

func (q *seqCall) replied(e *Entry, r reply, err error) {
	if !setErr(e, err) {
		setErr(e, q.decode(e, r.payload))
	}
	q.after(e)
}

func (q *seqCall) after(e *Entry) {
	if e.OK() {
		q.done(*e, q.tried, nil)
		return
	}
	if q.ctx.Err() != nil {
		q.done(Entry{}, q.tried, readVerdict(q.tried))
		return
	}
	q.next()
}
