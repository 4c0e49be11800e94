package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/status"
)

// IteratorKeepAlive is how often a running iterator that sends nothing
// (every record skipped by its time range, or paused) sends a progress
// entry, so the requester can tell a slow scan from a dead node (the
// original sent one every 10,000 skipped keys).
var IteratorKeepAlive = time.Second

// iterators is the node's registry of running iterators, by id.
type iterators struct {
	s    *Server
	mu   sync.Mutex
	last uint64
	m    map[uint64]*iterator
}

// iterator is one running iterator. It runs inside the ITERATOR request
// that started it, streaming its replies on that connection; closing the
// connection cancels it. Pause, continue and cancel come as other ITERATOR
// requests, from any connection, naming its id.
type iterator struct {
	id       uint64
	cancel   context.CancelCauseFunc
	backend  int32
	group    uint32
	typ      proto.IteratorType
	flags    proto.IteratorFlags
	started  time.Time
	iterated atomic.Uint64
	total    atomic.Uint64

	mu     sync.Mutex
	paused bool
	wake   chan struct{} // closed (and replaced) when the pause ends or on cancel
	state  proto.IteratorState
}

// errUserCancel is the cause of an iterator canceled by an ITERATOR cancel.
var errUserCancel = errors.New("iterator canceled")

func newIterators(s *Server) *iterators {
	return &iterators{s: s, m: map[uint64]*iterator{}}
}

func (its *iterators) add(cancel context.CancelCauseFunc, b *Backend, ir *proto.IteratorRequest) *iterator {
	its.mu.Lock()
	defer its.mu.Unlock()
	its.last++
	x := &iterator{id: its.last, cancel: cancel, wake: make(chan struct{}), state: proto.IterRunning,
		backend: b.ID, group: b.Group, typ: ir.Type, flags: ir.Flags, started: time.Now().UTC()}
	its.m[x.id] = x
	return x
}

func (its *iterators) remove(x *iterator) {
	its.mu.Lock()
	delete(its.m, x.id)
	its.mu.Unlock()
}

// list describes the running iterators, in id (start) order.
func (its *iterators) list() []proto.IteratorInfo {
	its.mu.Lock()
	xs := make([]*iterator, 0, len(its.m))
	for _, x := range its.m {
		xs = append(xs, x)
	}
	its.mu.Unlock()
	slices.SortFunc(xs, func(a, b *iterator) int { return cmp.Compare(a.id, b.id) })
	out := make([]proto.IteratorInfo, len(xs))
	for i, x := range xs {
		x.mu.Lock()
		st := x.state
		x.mu.Unlock()
		it := x.iterated.Load()
		out[i] = proto.IteratorInfo{ID: x.id, Backend: x.backend, Group: x.group, State: st, Type: x.typ,
			Flags: x.flags, Iterated: it, Total: max(x.total.Load(), it), Started: x.started}
	}
	return out
}

func (its *iterators) get(iterID uint64) (*iterator, error) {
	its.mu.Lock()
	defer its.mu.Unlock()
	x := its.m[iterID]
	if x == nil {
		return nil, status.Errorf(status.NotFound, "iterator %d not found on this node (never started, finished or canceled)", iterID)
	}
	return x, nil
}

// progress is a progress-only entry with the iterator's counters.
func (x *iterator) progress(group uint32) proto.IteratorEntry {
	x.mu.Lock()
	st := x.state
	x.mu.Unlock()
	it, tot := x.iterated.Load(), x.total.Load()
	return proto.IteratorEntry{IterID: x.id, Flags: proto.IterEntryProgress, Iterated: it, Total: max(tot, it),
		Group: group, State: st}
}

func (x *iterator) setState(st proto.IteratorState) {
	x.mu.Lock()
	x.state = st
	x.mu.Unlock()
}

// handle serves ITERATOR: start runs the iterator in this request; pause,
// continue and cancel act on a running one and reply at once.
func (its *iterators) handle(ctx context.Context, req *Request, r Replier) ([][]byte, error) {
	ir, err := proto.DecodeIteratorRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	switch ir.Action {
	case proto.IterStart:
		return its.start(req, r, &ir)
	case proto.IterList:
		return [][]byte{proto.AppendIteratorInfos(nil, its.list())}, nil
	case proto.IterPause, proto.IterContinue, proto.IterCancel:
		x, err := its.get(ir.ID)
		if err != nil {
			return nil, err
		}
		x.mu.Lock()
		if x.state == proto.IterCanceled && ir.Action != proto.IterCancel {
			// Canceled, still winding down: it will not run again, and a
			// pause must not make it look alive.
			x.mu.Unlock()
			return nil, status.Errorf(status.NotFound, "iterator %d was canceled", ir.ID)
		}
		switch ir.Action {
		case proto.IterPause:
			// Pausing a paused iterator, or continuing a running one, is
			// not an error: the iterator is in the state asked for.
			x.paused = true
			x.state = proto.IterPaused
		case proto.IterContinue:
			if x.paused {
				x.paused = false
				close(x.wake)
				x.wake = make(chan struct{})
			}
			x.state = proto.IterRunning
		case proto.IterCancel:
			x.state = proto.IterCanceled
			x.cancel(errUserCancel)
		}
		x.mu.Unlock()
		e := x.progress(req.Header.Group)
		return [][]byte{e.AppendHead(nil)}, nil
	}
	return nil, status.Errorf(status.Invalid, "unknown iterator action %d", ir.Action)
}

// start runs an iterator to its end. Its context is the connection's, not
// the request's: an iterator may run far longer than request_timeout, and
// ends when the requester goes away.
func (its *iterators) start(req *Request, r Replier, ir *proto.IteratorRequest) ([][]byte, error) {
	s := its.s
	if err := ir.Validate(); err != nil {
		return nil, err
	}
	b, st, err := s.localBackend(&req.Header)
	if err != nil {
		return nil, err
	}
	defer b.release()
	send := ir.Type == proto.IterTypeServerSend
	if send {
		for _, g := range ir.Groups {
			if g == b.Group {
				return nil, status.Errorf(status.Invalid, "destination group %d is the iterated backend's own group", g)
			}
		}
		if ir.Flags.Has(proto.IterMove) && b.ReadOnly() {
			return nil, status.Errorf(status.ReadOnly, "backend %d (group %d) is read-only: cannot move records off it", b.ID, b.Group)
		}
	}
	base := context.Background()
	if req.conn != nil {
		base = req.conn.ctx
	}
	ctx, cancel := context.WithCancelCause(base)
	defer cancel(nil)
	x := its.add(cancel, b, ir)
	defer its.remove(x)

	ranges := normalizeRanges(ir.Ranges)
	if len(ranges) == 0 {
		ranges = []recovery.IDRange{{Start: id.Zero, End: id.Max}}
	}
	// The first reply names the iterator, so the requester can pause or
	// cancel it before any record arrives.
	first := x.progress(b.Group)
	if err := r.Send(first.AppendHead(nil)); err != nil {
		return nil, err
	}
	switch {
	case len(ir.Ranges) == 0:
		x.total.Store(st.Stats().Records)
	case !ir.Flags.Has(proto.IterNoTotal):
		var n uint64
		if err := iterateRanges(ctx, st, ranges, func(backend.Record) error {
			n++
			return nil
		}); err != nil {
			return its.end(ctx, x, b, err)
		}
		x.total.Store(n)
	}

	tsBegin, tsEnd := ir.TimeBegin, ir.TimeEnd
	tsFilter := ir.Flags.Has(proto.IterTSRange) && !(tsBegin.IsZero() && tsEnd.IsZero())
	lastSent := time.Now()
	keepAlive := func() error {
		e := x.progress(b.Group)
		lastSent = time.Now()
		return r.Send(e.AppendHead(nil))
	}
	tombstones := ir.Flags.Has(proto.IterTombstones)
	visit := func(rec backend.Record) error {
		if backend.Reserved(rec.Column) && !tombstones {
			return nil // node-internal records: tombstones
		}
		x.iterated.Add(1)
		if err := x.waitRunning(ctx, s, keepAlive); err != nil {
			return err
		}
		if s.closing.Load() {
			return status.Errorf(status.ShuttingDown, "node shutting down")
		}
		if tsFilter && (rec.Timestamp.Before(tsBegin) || !tsEnd.IsZero() && rec.Timestamp.After(tsEnd)) {
			if time.Since(lastSent) >= IteratorKeepAlive {
				return keepAlive()
			}
			return nil
		}
		lastSent = time.Now()
		if send {
			for _, res := range s.copyRecord(ctx, b, st, rec.Key, ir.Groups, ir.Flags) {
				e := x.recordEntry(rec, ir.Flags)
				e.Group, e.Status = res.Group, res.Status
				if err := r.Send(e.AppendHead(nil)); err != nil {
					return err
				}
			}
			return nil
		}
		e := x.recordEntry(rec, ir.Flags)
		e.Group = b.Group
		if ir.Flags.Has(proto.IterData) {
			data, meta, err := st.Read(ctx, rec.Key, 0, 0)
			switch {
			case errors.Is(err, status.ErrNotFound):
				return nil // removed or expired since the scan
			case err != nil:
				if ctx.Err() != nil {
					return err
				}
				e.Status = status.FromError(err) // a bad record does not end the scan
			default:
				e.Data = data
				if !ir.Flags.Has(proto.IterNoMeta) {
					e.Attr.Timestamp, e.Attr.UserFlags, e.Attr.Expire = meta.Timestamp, meta.UserFlags, meta.Expire
				}
				e.Attr.TotalSize = meta.Size
			}
		}
		return r.Send(e.AppendHead(nil), e.Data)
	}
	if err := iterateRanges(ctx, st, ranges, visit); err != nil {
		return its.end(ctx, x, b, err)
	}
	return its.end(ctx, x, b, nil)
}

// recordEntry is the entry of one record, without data.
func (x *iterator) recordEntry(rec backend.Record, flags proto.IteratorFlags) proto.IteratorEntry {
	e := x.progress(0)
	e.Flags = 0
	e.Key = rec.ID
	e.Attr = proto.IOAttr{Column: rec.Column, TotalSize: rec.Size}
	if !flags.Has(proto.IterNoMeta) {
		e.Attr.Timestamp, e.Attr.UserFlags, e.Attr.Expire = rec.Timestamp, rec.UserFlags, rec.Expire
	}
	return e
}

// end builds the final reply: a progress entry in state finished, or
// canceled when a cancel request ended it; other errors are the reply's
// status.
func (its *iterators) end(ctx context.Context, x *iterator, b *Backend, err error) ([][]byte, error) {
	if errors.Is(context.Cause(ctx), errUserCancel) {
		x.setState(proto.IterCanceled)
		e := x.progress(b.Group)
		return [][]byte{e.AppendHead(nil)}, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.Errorf(status.Canceled, "iterator %d: connection closed", x.id)
		}
		return nil, fmt.Errorf("iterator %d on backend %d: %w", x.id, b.ID, err)
	}
	x.setState(proto.IterFinished)
	// The total was an estimate taken at start (records written or gone
	// since, expired records still counted by the backend): the final
	// entry says what was visited.
	x.total.Store(x.iterated.Load())
	e := x.progress(b.Group)
	return [][]byte{e.AppendHead(nil)}, nil
}

// waitRunning returns when the iterator is not paused, sending keep-alives
// while it is; it fails when the iterator is canceled or the node stops.
func (x *iterator) waitRunning(ctx context.Context, s *Server, keepAlive func() error) error {
	for {
		x.mu.Lock()
		paused, wake := x.paused, x.wake
		x.mu.Unlock()
		if !paused {
			return ctx.Err()
		}
		t := time.NewTimer(IteratorKeepAlive)
		select {
		case <-wake:
		case <-ctx.Done():
		case <-t.C:
			// A stopping node does not wait for a paused iterator.
			if s.closing.Load() {
				t.Stop()
				return status.Errorf(status.ShuttingDown, "node shutting down")
			}
			if err := keepAlive(); err != nil {
				t.Stop()
				return err
			}
		}
		t.Stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
