package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// IteratorOptions describe a server-side iterator.
type IteratorOptions struct {
	// Address and Backend name the backend to iterate. When Address is
	// empty, the backend is the owner of Point in Group (0: the session's
	// first group), as the original's start_iterator(id, ...) chose it.
	Address string
	Backend int32
	Point   id.ID
	Group   uint32

	// Ranges limit the iteration to these ID ranges, both ends inclusive,
	// visited in the order given; none means every record of the backend.
	Ranges []proto.IteratorRange
	// TimeBegin and TimeEnd keep only records whose timestamp lies in
	// [TimeBegin, TimeEnd] (a zero bound is open).
	TimeBegin, TimeEnd time.Time
	// Data sends each record's data; NoMeta leaves timestamps, user flags
	// and expiry out (zero).
	Data, NoMeta bool
	// Tombstones also visits the tombstones of removed objects and columns
	// (reserved column names, see backend.ParseTombstone): for recovery.
	Tombstones bool
	// NoTotal skips the node's count of the records before it iterates
	// (a pass over them): entries carry TotalKeys 0.
	NoTotal bool

	// CopyTo makes it a copy iterator (server-send): the node writes each
	// record to these groups itself and the entries are per-group results
	// (Status Mismatch: the destination has newer data and kept it). Move
	// removes each record once every copy succeeded; Overwrite writes
	// even over newer data.
	CopyTo          []uint32
	Move, Overwrite bool

	// Buffer is the capacity of the entries channel (default 64). While it
	// is full nothing more is read from the node, which then waits.
	Buffer int
	// IdleTimeout is the longest wait for any reply (default 30s; the node
	// sends a progress entry every second while it skips records or is
	// paused).
	IdleTimeout time.Duration
}

// IteratorEntry is one record an iterator visited, or, for a copy
// iterator, the result of copying it to one group.
type IteratorEntry struct {
	IterID      uint64
	Address     string
	Group       uint32 // the destination group of a copy, else the source group
	Status      status.Code
	Err         error // nil when Status is OK
	ID          id.ID
	Column      string
	TotalSize   uint64 // the record's size
	Timestamp   time.Time
	UserFlags   uint64
	RecordFlags proto.RecordFlags
	Expire      time.Time
	Data        []byte // with IteratorOptions.Data
	// Iterated and Total are the iterator's progress when it sent the entry.
	Iterated, Total uint64
	// State is the iterator's state when it sent the entry.
	State proto.IteratorState
}

// Iterator is a running server-side iterator. Read Entries until it is
// closed, then Err. Pause, Continue and Cancel act on the node (from any
// goroutine); Close abandons the iterator, which the node then cancels.
type Iterator struct {
	s       *Session
	addr    string
	backend int32
	id      uint64
	st      *stream
	entries chan IteratorEntry
	done    chan struct{}
	quit    chan struct{}
	once    sync.Once

	iterated, total atomic.Uint64
	state           atomic.Uint32
	err             error // set before done is closed
}

// StartIterator starts an iterator and returns once the node has named it.
// ctx bounds the whole iteration.
func (s *Session) StartIterator(ctx context.Context, o IteratorOptions) (*Iterator, error) {
	ir := proto.IteratorRequest{Action: proto.IterStart, Type: proto.IterTypeNetwork, Ranges: o.Ranges,
		TimeBegin: o.TimeBegin, TimeEnd: o.TimeEnd}
	if len(o.Ranges) > 0 {
		ir.Flags |= proto.IterKeyRange
	}
	if !o.TimeBegin.IsZero() || !o.TimeEnd.IsZero() {
		ir.Flags |= proto.IterTSRange
	}
	for _, f := range []struct {
		on   bool
		flag proto.IteratorFlags
	}{{o.Data, proto.IterData}, {o.NoMeta, proto.IterNoMeta}, {o.Move, proto.IterMove}, {o.Overwrite, proto.IterOverwrite}, {o.Tombstones, proto.IterTombstones}, {o.NoTotal, proto.IterNoTotal}} {
		if f.on {
			ir.Flags |= f.flag
		}
	}
	if len(o.CopyTo) > 0 {
		ir.Type, ir.Groups = proto.IterTypeServerSend, o.CopyTo
	}
	if err := ir.Validate(); err != nil {
		return nil, fmt.Errorf("start iterator: %w", err)
	}
	addr, backend, g, err := s.iteratorTarget(&o)
	if err != nil {
		return nil, fmt.Errorf("start iterator: %w", err)
	}
	idle := o.IdleTimeout
	if idle <= 0 {
		idle = 30 * time.Second
	}
	// The node running the iterator may be out of reach (a Proxy client,
	// NAT): then the stream goes to a node that relays it, every entry
	// included, and closing the stream cancels the iterator there too.
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	hp, err := s.node.hopTo(dctx, addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("start iterator on %s backend %d: %w", addr, backend, err)
	}
	st, err := s.node.openStream(ctx, hp.c.addr, idle)
	if err != nil {
		return nil, fmt.Errorf("start iterator on %s backend %d: %w", addr, backend, err)
	}
	h := s.header(proto.CmdIterator, o.Point, g)
	h.Flags |= proto.FlagDirectBackend
	h.Backend = backend
	h, payload := hp.wrap(h, ir.Append(nil))
	if err := st.send(h, payload); err != nil {
		st.close()
		return nil, fmt.Errorf("start iterator on %s backend %d: %w", addr, backend, err)
	}
	// The first reply names the iterator (or is the error that refused it).
	rh, body, err := st.recv()
	var first proto.IteratorEntry
	if err == nil {
		first, err = proto.DecodeIteratorEntry(body)
	}
	if err == nil && rh.IsFinal() {
		err = status.Errorf(status.Protocol, "iterator ended before it started")
	}
	if err != nil {
		st.close()
		return nil, fmt.Errorf("start iterator on %s backend %d: %w", addr, backend, err)
	}
	buf := o.Buffer
	if buf <= 0 {
		buf = 64
	}
	it := &Iterator{s: s, addr: addr, backend: backend, id: first.IterID, st: st,
		entries: make(chan IteratorEntry, buf), done: make(chan struct{}), quit: make(chan struct{})}
	it.progress(&first)
	go it.run()
	return it, nil
}

// iteratorTarget resolves the node and backend an iterator runs on.
func (s *Session) iteratorTarget(o *IteratorOptions) (string, int32, uint32, error) {
	if o.Address != "" {
		g := o.Group
		if b, ok := s.node.Table().Backend(o.Address, o.Backend); ok && g == 0 {
			g = b.Group
		}
		return o.Address, o.Backend, g, nil
	}
	g, err := s.rangeGroup(o.Group)
	if err != nil {
		return "", 0, 0, err
	}
	owner, ok := s.node.Table().Owner(o.Point, g)
	if !ok {
		return "", 0, 0, status.Errorf(status.NoRoute, "no known node serves group %d", g)
	}
	return owner.Addr, owner.ID, g, nil
}

func (it *Iterator) progress(e *proto.IteratorEntry) {
	it.iterated.Store(e.Iterated)
	it.total.Store(e.Total)
	if e.State != 0 {
		it.state.Store(uint32(e.State))
	}
}

// run reads the iterator's replies until the final one.
func (it *Iterator) run() {
	defer close(it.done)
	defer close(it.entries)
	defer it.st.close()
	for {
		rh, body, err := it.st.recv()
		if err != nil {
			it.err = fmt.Errorf("iterator %d on %s: %w", it.id, it.addr, err)
			return
		}
		pe, err := proto.DecodeIteratorEntry(body)
		if err != nil {
			it.err = fmt.Errorf("iterator %d on %s: %w", it.id, it.addr, err)
			return
		}
		it.progress(&pe)
		if rh.IsFinal() {
			return
		}
		if pe.Flags&proto.IterEntryProgress != 0 {
			continue // a keep-alive: progress only
		}
		a := &pe.Attr
		e := IteratorEntry{IterID: pe.IterID, Address: it.addr, Group: pe.Group, Status: pe.Status, ID: pe.Key,
			Column: a.Column, TotalSize: a.TotalSize, Timestamp: a.Timestamp, UserFlags: a.UserFlags,
			RecordFlags: a.RecordFlags, Expire: a.Expire, Data: pe.Data, Iterated: pe.Iterated, Total: pe.Total, State: pe.State}
		if pe.Status != status.OK {
			e.Err = pe.Status.Err()
		}
		select {
		case it.entries <- e:
		case <-it.quit:
			it.err = status.Errorf(status.Canceled, "iterator %d on %s: closed", it.id, it.addr)
			return
		}
	}
}

// ID returns the iterator's id on its node.
func (it *Iterator) ID() uint64 { return it.id }

// Address returns the node the iterator runs on.
func (it *Iterator) Address() string { return it.addr }

// Backend returns the backend the iterator runs on, on its node.
func (it *Iterator) Backend() int32 { return it.backend }

// Entries returns the channel of entries; it is closed when the iterator
// ends (then see Err and State).
func (it *Iterator) Entries() <-chan IteratorEntry { return it.entries }

// Err waits for the end of the iterator and returns why it failed, or nil
// when it finished or was canceled with Cancel (State tells which).
func (it *Iterator) Err() error {
	<-it.done
	return it.err
}

// Progress returns the records visited so far and the total expected.
func (it *Iterator) Progress() (iterated, total uint64) { return it.iterated.Load(), it.total.Load() }

// State returns the last state the node reported.
func (it *Iterator) State() proto.IteratorState { return proto.IteratorState(it.state.Load()) }

// Pause stops the iterator on its node until Continue.
func (it *Iterator) Pause(ctx context.Context) error {
	_, err := it.s.IteratorControl(ctx, it.addr, it.id, proto.IterPause)
	return err
}

// Continue resumes a paused iterator.
func (it *Iterator) Continue(ctx context.Context) error {
	_, err := it.s.IteratorControl(ctx, it.addr, it.id, proto.IterContinue)
	return err
}

// Cancel stops the iterator; Entries is then closed and State is canceled.
func (it *Iterator) Cancel(ctx context.Context) error {
	_, err := it.s.IteratorControl(ctx, it.addr, it.id, proto.IterCancel)
	return err
}

// Close abandons the iterator: the stream is closed and the node cancels
// it. Entries not read yet are dropped.
func (it *Iterator) Close() {
	it.once.Do(func() { close(it.quit) })
	it.st.close()
	<-it.done
}

// IteratorControl pauses, continues or cancels the iterator iterID running
// on the node at addr (started by any client) and returns its state and
// progress. An id the node does not know is status.ErrNotFound.
func (s *Session) IteratorControl(ctx context.Context, addr string, iterID uint64, action proto.IteratorAction) (IteratorEntry, error) {
	name := map[proto.IteratorAction]string{proto.IterPause: "pause", proto.IterContinue: "continue",
		proto.IterCancel: "cancel"}[action]
	if name == "" {
		return IteratorEntry{}, status.Errorf(status.Invalid, "iterator control: action %d is not pause, continue or cancel", action)
	}
	deadline := time.Now().Add(s.timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	hp, err := s.node.hopTo(dctx, addr)
	if err != nil {
		return IteratorEntry{}, fmt.Errorf("%s iterator %d: %w", name, iterID, err)
	}
	ir := proto.IteratorRequest{ID: iterID, Action: action}
	h, payload := hp.wrap(s.header(proto.CmdIterator, id.ID{}, 0), ir.Append(nil))
	rep, err := hp.c.do(ctx, deadline, h, payload)
	if err != nil {
		return IteratorEntry{}, fmt.Errorf("%s iterator %d on %s: %w", name, iterID, addr, err)
	}
	pe, err := proto.DecodeIteratorEntry(rep.payload)
	if err != nil {
		return IteratorEntry{}, fmt.Errorf("%s iterator %d on %s: %w", name, iterID, addr, err)
	}
	return IteratorEntry{IterID: pe.IterID, Address: addr, Group: pe.Group, Iterated: pe.Iterated, Total: pe.Total,
		State: pe.State}, nil
}

// ListIterators returns the iterators running on the node at addr (any
// client's, started there), in start order: id, backend, state, progress.
// A node reached through another one (proxy, NAT) is asked through it.
func (s *Session) ListIterators(ctx context.Context, addr string) ([]proto.IteratorInfo, error) {
	deadline := time.Now().Add(s.timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	hp, err := s.node.hopTo(dctx, addr)
	if err != nil {
		return nil, fmt.Errorf("list iterators: %w", err)
	}
	ir := proto.IteratorRequest{Action: proto.IterList}
	h, payload := hp.wrap(s.header(proto.CmdIterator, id.ID{}, 0), ir.Append(nil))
	rep, err := hp.c.do(ctx, deadline, h, payload)
	if err != nil {
		return nil, fmt.Errorf("list iterators on %s: %w", addr, err)
	}
	infos, err := proto.DecodeIteratorInfos(rep.payload)
	if err != nil {
		return nil, fmt.Errorf("list iterators on %s: %w", addr, err)
	}
	return infos, nil
}

// SendResult is the outcome of copying one key to one group (ServerSend).
type SendResult struct {
	Key     Key
	ID      id.ID
	Group   uint32
	Address string // the source node
	Status  status.Code
	Err     error
}

// sendBatch bounds the keys of one SEND request, so one request's work
// stays well inside the node's request timeout.
const sendBatch = 1024

// ServerSend asks the nodes that hold keys in the session's first group to
// copy them to groups themselves (the original's server_send): flags
// proto.IterMove removes the source after a successful copy,
// proto.IterOverwrite overwrites newer data. There is one result per key
// and group; without IterOverwrite a destination with newer data keeps it
// and the result is status.Mismatch. ServerSend fails if any copy failed,
// naming how many.
func (s *Session) ServerSend(ctx context.Context, keys []Key, groups []uint32, flags proto.IteratorFlags) ([]SendResult, error) {
	if len(groups) == 0 {
		return nil, status.Errorf(status.Invalid, "server send: no destination group")
	}
	src, err := s.rangeGroup(0)
	if err != nil {
		return nil, fmt.Errorf("server send: %w", err)
	}
	type target struct {
		addr    string
		backend int32
	}
	type item struct {
		i   int
		oid id.ID
	}
	byOwner := map[target][]item{}
	var order []target
	var out []SendResult
	t := s.node.Table()
	for i, k := range keys {
		oid, err := s.resolve(k)
		if err != nil {
			return nil, fmt.Errorf("server send: key %s: %w", k, err)
		}
		owner, ok := t.Owner(oid, src)
		if !ok {
			return nil, status.Errorf(status.NoRoute, "server send: no known node serves group %d", src)
		}
		tg := target{owner.Addr, owner.ID}
		if _, seen := byOwner[tg]; !seen {
			order = append(order, tg)
		}
		byOwner[tg] = append(byOwner[tg], item{i, oid})
	}
	for _, tg := range order {
		items := byOwner[tg]
		for len(items) > 0 {
			batch := items[:min(len(items), sendBatch)]
			items = items[len(batch):]
			req := proto.SendRequest{Flags: flags, Groups: groups}
			for _, it := range batch {
				req.Keys = append(req.Keys, proto.SendKey{ID: it.oid, Column: keys[it.i].Column})
			}
			res, err := s.sendOne(ctx, tg.addr, tg.backend, src, batch[0].oid, &req)
			if err != nil {
				for _, it := range batch {
					for _, g := range groups {
						out = append(out, SendResult{Key: keys[it.i], ID: it.oid, Group: g, Address: tg.addr,
							Status: status.FromError(err), Err: err})
					}
				}
				continue
			}
			for j, r := range res {
				k := keys[batch[min(j/len(groups), len(batch)-1)].i]
				sr := SendResult{Key: k, ID: r.ID, Group: r.Group, Address: tg.addr, Status: r.Status}
				if r.Status != status.OK {
					sr.Err = r.Status.Err()
				}
				out = append(out, sr)
			}
		}
	}
	failed := 0
	var first error
	for _, r := range out {
		if r.Err != nil {
			if failed == 0 {
				first = r.Err
			}
			failed++
		}
	}
	if failed > 0 {
		return out, fmt.Errorf("server send: %d of %d copies failed, first: %w", failed, len(out), first)
	}
	return out, nil
}

func (s *Session) sendOne(ctx context.Context, addr string, backend int32, src uint32, first id.ID, req *proto.SendRequest) ([]proto.SendResult, error) {
	deadline := time.Now().Add(s.timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	hp, err := s.node.hopTo(dctx, addr)
	if err != nil {
		return nil, err
	}
	h := s.header(proto.CmdSend, first, src)
	h.Flags |= proto.FlagDirectBackend
	h.Backend = backend
	h, payload := hp.wrap(h, req.Append(nil))
	rep, err := hp.c.do(ctx, deadline, h, payload)
	if err != nil {
		return nil, fmt.Errorf("send to %s backend %d: %w", addr, backend, err)
	}
	return proto.DecodeSendResults(rep.payload)
}
