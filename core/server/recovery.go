package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

// Recovery on the node (see package recovery for the jobs themselves):
//
//   - automatic merge: after the route table settles (RecoveryOptions.
//     MergeDelay without a change), every backend whose owned ranges
//     changed since its last merge walks its records and moves those its
//     group's ring now gives to another backend;
//   - automatic dc: a backend that is empty when the node starts (a new
//     node, or a wiped data directory) fills its ranges from the other
//     groups once the table knows some;
//   - handoff reads: for RecoveryOptions.HandoffWindow after a route
//     change, a READ or LOOKUP that misses on the owner tries the backend
//     that owned the key before the owner joined, so a read does not
//     return "not found" for an object still on its way;
//   - RECOVERY: operators start, list, pause, resume and stop jobs.

// RecoveryOptions tune the node's recovery.
type RecoveryOptions struct {
	// Dir keeps job state so jobs resume after a restart ("" = not kept).
	Dir string
	// Limits bound every job of the node together (0 = unlimited).
	Limits recovery.Limits
	// Concurrency is how many jobs run at once (default 2).
	Concurrency int
	// Manual turns off the automatic jobs (merge after route changes, dc
	// of empty backends); operators still start jobs with RECOVERY.
	Manual bool
	// MergeDelay is how long the table must stay unchanged before an
	// automatic merge starts (default 2s): a forming cluster changes many
	// times a second.
	MergeDelay time.Duration
	// LeaveAfter is how long a backend may be out of the route table
	// before the backends that took over its arcs fill them from the other
	// groups (default DefaultLeaveAfter).
	LeaveAfter time.Duration
	// AntiEntropy is how often each backend compares all its ranges with
	// the other groups and copies what differs (a dc of everything it
	// owns; 0 = never). It should be well under TombstoneTTL: a remove
	// older than that is forgotten and a comparison brings the object
	// back from a group that missed it.
	AntiEntropy time.Duration
	// Scrub is how often an anti-entropy pass also verifies the data of
	// every local record against its checksum (recovery.Spec.Verify;
	// 0 = never).
	Scrub time.Duration
	// TombstoneTTL is how long a remove is remembered, so that older
	// copies cannot bring the object back (default DefaultTombstoneTTL; a
	// negative value keeps no tombstones).
	TombstoneTTL time.Duration
	// HandoffWindow is how long after a route change a read that misses
	// on a key's owner also asks the key's previous owner (default 10m; a
	// negative value turns it off).
	HandoffWindow time.Duration
}

// DefaultTombstoneTTL is the default of RecoveryOptions.TombstoneTTL.
const DefaultTombstoneTTL = 24 * time.Hour

const (
	defaultMergeDelay    = 2 * time.Second
	defaultHandoffWindow = 10 * time.Minute
)

func (o *RecoveryOptions) setDefaults() {
	if o.MergeDelay == 0 {
		o.MergeDelay = defaultMergeDelay
	}
	if o.TombstoneTTL == 0 {
		o.TombstoneTTL = DefaultTombstoneTTL
	}
	if o.LeaveAfter == 0 {
		o.LeaveAfter = DefaultLeaveAfter
	}
	if o.HandoffWindow == 0 {
		o.HandoffWindow = defaultHandoffWindow
	}
}

// recoveryState is the server's part of recovery.
type recoveryState struct {
	mgr        *recovery.Manager
	changed    chan struct{} // a route change, for the automatic loop
	started    time.Time     // when the node started
	lastChange time.Time
	mu         sync.Mutex
	// merged is each backend's owned ranges (a hash) at its last
	// automatic merge: an unchanged ownership needs none.
	merged map[int32]uint64
	// cover is each backend's filled ranges (coverage.go), under coverMu;
	// fillNow (under mu) fills gains without waiting.
	coverMu sync.Mutex
	cover   map[int32]*coverage
	fillNow bool
	// ready: the cluster machinery is up, the table may be read.
	ready atomic.Bool
}

// Recovery returns the node's recovery jobs.
func (s *Server) Recovery() *recovery.Manager { return s.rec.mgr }

// initRecovery runs in New, so route changes and RECOVERY requests that
// come as soon as the node listens find it ready.
func (s *Server) initRecovery() {
	s.rec.changed = make(chan struct{}, 1)
	s.rec.merged = map[int32]uint64{}
	s.rec.cover = map[int32]*coverage{}
	s.rec.mgr = recovery.New(recoveryHost{s}, recovery.Options{Dir: s.opts.Recovery.Dir,
		Limits: s.opts.Recovery.Limits, Concurrency: s.opts.Recovery.Concurrency, Logger: s.log.Named("recovery")})
}

// startRecovery loads the jobs of the previous run and starts the loop
// that resumes them and starts the automatic ones.
func (s *Server) startRecovery() {
	s.rec.started = time.Now()
	s.rec.ready.Store(true)
	if err := s.rec.mgr.Load(); err != nil {
		s.log.Warn("recovery: some jobs could not be loaded", zap.Error(err))
	}
	s.loops.Add(1)
	go s.recoveryLoop()
}

// routesChanged is called after every change of the route table.
// It may run inside client.NewNode, before s.cluster.peers is set: the
// table is read by the recovery loop, not here.
func (s *Server) routesChanged() {
	s.requestPush()
	if s.rec.ready.Load() {
		s.noteOwnership()
	}
	s.rec.mu.Lock()
	s.rec.lastChange = time.Now()
	s.rec.mu.Unlock()
	s.kickRecovery()
}

// kickRecovery wakes the automatic recovery loop.
func (s *Server) kickRecovery() {
	select {
	case s.rec.changed <- struct{}{}:
	default:
	}
}

// inHandoff reports whether reads that miss should ask previous owners.
func (s *Server) inHandoff() bool {
	if s.opts.Recovery.HandoffWindow < 0 {
		return false
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return !s.rec.lastChange.IsZero() && time.Since(s.rec.lastChange) < s.opts.Recovery.HandoffWindow
}

// recoveryLoop resumes the jobs of the previous run once the table has
// settled, then starts the automatic jobs each time it settles after a
// change, and retries what could not start (a job still running).
func (s *Server) recoveryLoop() {
	defer s.loops.Done()
	delay := s.opts.Recovery.MergeDelay
	fillEmpty := map[int32]bool{}
	for _, b := range s.backends {
		if st := b.Store(); st != nil && st.Stats().Records == 0 {
			fillEmpty[b.ID] = true
		}
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	// A change notice can be missed (notices coalesce; a table can change
	// before the loop looks): the loop also looks at the table itself
	// every second.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	var seen *route.Table
	var lastLook time.Time
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case <-poll.C:
			if t := s.Table(); t != seen {
				s.noteOwnership()
				s.kickRecovery()
			} else if ae := s.opts.Recovery.AntiEntropy; ae > 0 && time.Since(lastLook) >= min(ae/4, time.Minute) {
				s.kickRecovery() // anti-entropy may be due
			}
			continue
		case <-s.rec.changed:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(delay)
			continue
		case <-timer.C:
		}
		seen, lastLook = s.Table(), time.Now()
		s.rec.mgr.Resume()
		if s.opts.Recovery.Manual {
			continue
		}
		pending := s.autoRecover(fillEmpty)
		if pending {
			timer.Reset(delay)
		}
	}
}

// autoRecover starts the automatic jobs that are due; it reports whether
// some must be tried again later.
func (s *Server) autoRecover(fillEmpty map[int32]bool) (pending bool) {
	// Held from before the table is read: a route change's noteOwnership
	// then runs wholly before (this sees its table) or after (it trims
	// what this started), never in between with a table this missed.
	s.rec.coverMu.Lock()
	defer s.rec.coverMu.Unlock()
	t := s.Table()
	self := s.cluster.peers.Self()
	s.rec.mu.Lock()
	fillNow := s.rec.fillNow
	s.rec.fillNow = false
	s.rec.mu.Unlock()
	// Each backend's owned ranges, and a hash of them: an unchanged
	// ownership needs no merge.
	owned := map[int32]uint64{}
	ownedRanges := map[int32][]recovery.IDRange{}
	for _, r := range t.Ranges(self) {
		ownedRanges[r.Backend] = append(ownedRanges[r.Backend], recovery.IDRange{Start: r.Start, End: r.End})
	}
	for id, rs := range ownedRanges {
		ownedRanges[id] = recovery.Normalize(rs)
		f := fnv.New64a()
		for _, r := range ownedRanges[id] {
			f.Write(r.Start[:])
			f.Write(r.End[:])
		}
		owned[id] = f.Sum64()
	}
	for _, b := range s.backends {
		if b.State() != proto.StateEnabled {
			continue
		}
		sig, inTable := owned[b.ID]
		if !inTable {
			continue // not announced yet
		}
		if s.fillGainsLocked(t, b, ownedRanges[b.ID], fillEmpty[b.ID], fillNow) {
			pending = true
		}
		s.rec.mu.Lock()
		last, seen := s.rec.merged[b.ID]
		s.rec.mu.Unlock()
		// A first pass after start: the backend may hold keys from before
		// a restart that others own now.
		if seen && last == sig {
			continue
		}
		_, err := s.rec.mgr.Start(recovery.Spec{Kind: recovery.Merge, Backend: b.ID, Auto: true})
		switch {
		case err == nil:
			s.rec.mu.Lock()
			s.rec.merged[b.ID] = sig
			s.rec.mu.Unlock()
		case errors.Is(err, status.ErrAlready):
			pending = true // the running pass may miss the new ownership
		default:
			s.log.Warn("recovery: cannot start merge", zap.Int32("backend", b.ID), zap.Error(err))
		}
	}
	return pending
}

func hasOtherGroups(t *route.Table, g uint32) bool {
	for _, x := range t.Groups() {
		if x != g {
			return true
		}
	}
	return false
}

// handleRecovery serves RECOVERY.
func (s *Server) handleRecovery(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	rr, err := proto.DecodeRecoveryRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	var jobs []recovery.Status
	var digests *recovery.Digests
	switch rr.Action {
	case "digests":
		sums, ok, err := recoveryHost{s}.localDigests(ctx, rr.Backend, rr.First, rr.Last)
		if err != nil {
			return nil, err
		}
		digests = &recovery.Digests{First: rr.First, Ready: ok}
		if ok {
			digests.Sums = make([]byte, 0, 8*len(sums))
			for _, v := range sums {
				digests.Sums = binary.LittleEndian.AppendUint64(digests.Sums, v)
			}
		}
	case "status":
		jobs = s.rec.mgr.Jobs()
	case "forget":
		if err := s.forgetNode(rr.Address); err != nil {
			return nil, err
		}
		jobs = s.rec.mgr.Jobs()
	case "pause", "resume", "stop":
		st, err := s.rec.mgr.Control(rr.Job, recovery.Action(rr.Action))
		if err != nil {
			return nil, err
		}
		jobs = []recovery.Status{st}
	case "start":
		var errs []error
		for _, b := range s.backends {
			if rr.Group != 0 && b.Group != rr.Group || rr.Backend >= 0 && b.ID != rr.Backend {
				continue
			}
			st, err := s.rec.mgr.Start(recovery.Spec{Kind: recovery.Kind(rr.Kind), Backend: b.ID, DryRun: rr.DryRun, Verify: rr.Verify,
				Limits: recovery.Limits{BytesPerSec: rr.BytesPerSec, ObjectsPerSec: rr.ObjectsPerSec}})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			jobs = append(jobs, st)
		}
		if len(jobs) == 0 {
			if len(errs) == 0 {
				return nil, status.Errorf(status.NotFound, "recovery: node has no backend matching group %d backend %d", rr.Group, rr.Backend)
			}
			return nil, errs[0]
		}
	}
	b, err := json.Marshal(recovery.Reply{Jobs: jobs, Digests: digests})
	if err != nil {
		return nil, fmt.Errorf("recovery: encode reply: %w", err)
	}
	return [][]byte{b}, nil
}

// handoff sends a data request that its owner served to the backend that
// owned the key before the owner joined, during a handoff window. tried is
// false when there is no such backend (or no window, or the request was
// already addressed to a backend).
func (s *Server) handoff(ctx context.Context, req *Request) (parts [][]byte, tried bool, err error) {
	h := &req.Header
	if req.Backend == nil || h.Flags.Has(proto.FlagDirectBackend) {
		return nil, false, nil
	}
	select {
	case <-s.cluster.joined:
	default:
		// Clients may route here as soon as the node we joined through
		// tells them of us, before our table names anyone else: wait for
		// the member list rather than answer "not found" from a table of
		// one (the join race of docs/recovery.md).
		t := time.NewTimer(joinWait)
		defer t.Stop()
		select {
		case <-s.cluster.joined:
		case <-t.C:
		case <-ctx.Done():
			return nil, true, fmt.Errorf("still joining the cluster, previous owners unknown: %w", ctx.Err())
		}
	}
	if !s.inHandoff() {
		return nil, false, nil
	}
	self := s.cluster.peers.Self()
	prev, ok := s.Table().OwnerExcluding(h.ID, h.Group, self, req.Backend.ID)
	if !ok {
		return nil, false, nil
	}
	fh := *h
	// NoLock: this request holds the key's queue here while the previous
	// owner serves it; were it queued there behind a request of that node
	// forwarded here (a stale table), the two queues would wait for each
	// other.
	fh.Flags = (h.Flags | proto.FlagDirectBackend | proto.FlagNoLock) &^ (proto.FlagReply | proto.FlagMore)
	fh.Backend = prev.ID
	fh.Status = status.OK
	if prev.Addr == self {
		b := s.byID[prev.ID]
		if b == nil || b == req.Backend {
			return nil, false, nil
		}
		st, err := b.acquire()
		if err != nil {
			return nil, true, err
		}
		defer b.release()
		sub := &Request{Header: fh, Payload: req.Payload, Remote: req.Remote, Backend: b, Store: st, conn: req.conn}
		parts, err := s.handlers[h.Cmd].fn(ctx, sub, nil)
		return parts, true, err
	}
	rep, err := s.cluster.peers.Forward(ctx, prev.Addr, fh, req.Payload)
	if err != nil {
		return nil, true, err
	}
	return [][]byte{rep}, true, nil
}

// joinWait bounds how long a miss waits for the join's member list: the
// race it covers lasts a round trip or two.
const joinWait = 2 * time.Second

// withHandoff wraps a READ or LOOKUP handler: a miss on the owner during a
// handoff window is retried on the key's previous owner.
func (s *Server) withHandoff(fn Handler) Handler {
	return func(ctx context.Context, req *Request, r Replier) ([][]byte, error) {
		parts, err := fn(ctx, req, r)
		if !errors.Is(err, status.ErrNotFound) {
			return parts, err
		}
		prev, tried, herr := s.handoff(ctx, req)
		switch {
		case !tried || errors.Is(herr, status.ErrNotFound):
			return parts, err
		case herr != nil:
			// The previous owner may hold the object but cannot be asked:
			// "not found" would be a lie.
			return nil, fmt.Errorf("not on its owner; its previous owner cannot be asked: %w", herr)
		}
		return prev, nil
	}
}

// removeWithHandoff serves REMOVE; during a handoff window it also removes
// the key at its previous owner, whose copy would otherwise come back with
// the merge.
func (s *Server) removeWithHandoff(ctx context.Context, req *Request, r Replier) ([][]byte, error) {
	parts, err := s.handleRemove(ctx, req, r)
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return parts, err
	}
	if _, tried, herr := s.handoff(ctx, req); tried && herr == nil && err != nil {
		return nil, nil // not here yet, removed where it was
	}
	return parts, err
}

// recoveryHost is the node as package recovery sees it.
type recoveryHost struct{ s *Server }

func (h recoveryHost) Self() string        { return h.s.cluster.peers.Self() }
func (h recoveryHost) Table() *route.Table { return h.s.Table() }

func (h recoveryHost) Local(backendID int32) (recovery.Local, error) {
	b := h.s.byID[backendID]
	if b == nil {
		return recovery.Local{}, status.Errorf(status.NotFound, "node has no backend %d", backendID)
	}
	st, err := b.acquire()
	if err != nil {
		return recovery.Local{}, err
	}
	// Recovery's writes here (dc copies, pulls) tell this backend's
	// watchers; its removes after a merge moved a record away do not: the
	// key lives on at its new owner.
	return recovery.Local{ID: b.ID, Group: b.Group, Store: h.s.notifying(st, b.Group), Release: b.release}, nil
}

func (h recoveryHost) Copy(ctx context.Context, src backend.Backend, key backend.Key, g uint32) (backend.Meta, error) {
	info, err := src.Lookup(ctx, key, backend.LookupOptions{})
	if err != nil {
		return backend.Meta{}, err
	}
	meta := info.Meta
	if col, whole, ok := backend.ParseTombstone(key.Column); ok {
		return meta, h.copyTombstone(ctx, key.ID, col, whole, g, meta)
	}
	if meta.Size <= recovery.BigObject {
		data, meta, err := src.Read(ctx, key, 0, 0)
		if err != nil {
			return meta, err
		}
		return meta, h.s.writeCopy(ctx, key, g, data, meta, false)
	}
	var ttl time.Duration
	if !meta.Expire.IsZero() {
		if ttl = time.Until(meta.Expire); ttl <= 0 {
			return meta, status.Errorf(status.NotFound, "record expired before it was sent")
		}
	}
	r := &storeReader{ctx: ctx, st: src, key: key, size: meta.Size}
	owner, known := h.s.Table().Owner(key.ID, g)
	if known && owner.Addr != h.Self() {
		sess := h.session(g)
		sess.SetTimestamp(meta.Timestamp)
		sess.SetUserFlags(meta.UserFlags)
		_, err := sess.WriteFrom(ctx, client.RawKey(key.ID).WithColumn(key.Column), r, meta.Size,
			client.StreamOptions{Chunk: copyChunk, TTL: ttl, CASTimestamp: true})
		return meta, err
	}
	hd := proto.Header{Group: g, Backend: -1}
	if known {
		hd.Backend = owner.ID
	}
	b, dst, err := h.s.backendFor(&hd)
	if err != nil {
		return meta, err
	}
	defer b.release()
	return meta, h.s.uploadLocal(ctx, h.s.notifying(dst, b.Group), key, r, meta)
}

// copyTombstone carries a remove to the owner of the key in group g.
func (h recoveryHost) copyTombstone(ctx context.Context, oid id.ID, col string, whole bool, g uint32, meta backend.Meta) error {
	owner, known := h.s.Table().Owner(oid, g)
	if known && owner.Addr != h.Self() {
		sess := h.session(g)
		sess.SetTimestamp(meta.Timestamp)
		_, err := sess.WriteWith(ctx, client.RawKey(oid).WithColumn(col), nil, client.WriteOptions{Tombstone: true, WholeObject: whole})
		return err
	}
	hd := proto.Header{Group: g, Backend: -1}
	if known {
		hd.Backend = owner.ID
	}
	b, dst, err := h.s.backendFor(&hd)
	if err != nil {
		return err
	}
	defer b.release()
	return h.ApplyTombstone(ctx, h.s.notifying(dst, b.Group), backend.Record{Key: backend.Key{ID: oid, Column: backend.TombstoneColumn(col, whole)}, Meta: meta})
}

func (h recoveryHost) ApplyTombstone(ctx context.Context, dst backend.Backend, rec backend.Record) error {
	col, whole, ok := backend.ParseTombstone(rec.Column)
	if !ok {
		return status.Errorf(status.Invalid, "%q is not a tombstone", rec.Column)
	}
	expire := rec.Expire
	if expire.IsZero() {
		expire = time.Now().Add(h.s.opts.Recovery.TombstoneTTL)
	}
	err := h.WithKey(ctx, rec.ID, func() error {
		return backend.ApplyTombstone(ctx, dst, rec.ID, col, whole, rec.Timestamp, expire)
	})
	if ns, ok := dst.(*notifyStore); ok && err == nil {
		ns.s.notifyRemove(ns.group, &rec.ID, col, rec.Timestamp)
	}
	return err
}

// Pull copies a big record from its owner in group g into dst, in chunks.
func (h recoveryHost) Pull(ctx context.Context, key backend.Key, g uint32, meta backend.Meta, dst backend.Backend) error {
	pr, pw := io.Pipe()
	go func() {
		_, err := h.session(g).ReadTo(ctx, client.RawKey(key.ID).WithColumn(key.Column), pw, client.StreamOptions{Chunk: copyChunk})
		pw.CloseWithError(err)
	}()
	err := h.s.uploadLocal(ctx, dst, key, pr, meta)
	pr.CloseWithError(err) // stops the reader if the upload failed first
	return err
}

func (h recoveryHost) session(g uint32) *client.Session {
	sess := client.NewSession(h.s.cluster.peers)
	sess.SetGroups(g)
	sess.SetTimeout(h.s.opts.RequestTimeout)
	return sess
}

func (h recoveryHost) Lookup(ctx context.Context, key backend.Key, g uint32) (backend.Meta, error) {
	owner, ok := h.s.Table().Owner(key.ID, g)
	if !ok {
		return backend.Meta{}, status.Errorf(status.NoRoute, "no known node serves group %d", g)
	}
	if owner.Addr == h.Self() {
		loc, err := h.Local(owner.ID)
		if err != nil {
			return backend.Meta{}, err
		}
		defer loc.Release()
		info, err := loc.Store.Lookup(ctx, key, backend.LookupOptions{})
		return info.Meta, err
	}
	e, err := h.session(g).Lookup(ctx, client.RawKey(key.ID).WithColumn(key.Column))
	if err != nil {
		return backend.Meta{}, err
	}
	return backend.Meta{Size: e.TotalSize, Timestamp: e.Timestamp, UserFlags: e.UserFlags, Expire: e.Expire}, nil
}

func (h recoveryHost) Scan(ctx context.Context, owner route.Backend, ranges []recovery.IDRange, before time.Time,
	fn func(backend.Record) error) error {
	if len(ranges) == 0 {
		return nil
	}
	if owner.Addr == h.Self() {
		loc, err := h.Local(owner.ID)
		if err != nil {
			return err
		}
		defer loc.Release()
		return iterateRanges(ctx, loc.Store, ranges, func(rec backend.Record) error {
			if !before.IsZero() && !rec.Timestamp.Before(before) {
				return nil
			}
			return fn(rec)
		})
	}
	o := client.IteratorOptions{Address: owner.Addr, Backend: owner.ID, Group: owner.Group, Tombstones: true, NoTotal: true}
	for _, r := range ranges {
		o.Ranges = append(o.Ranges, proto.IteratorRange{Start: r.Start, End: r.End})
	}
	if !before.IsZero() {
		o.TimeEnd = before.Add(-time.Nanosecond) // the iterator's bounds are inclusive
	}
	it, err := h.session(owner.Group).StartIterator(ctx, o)
	if err != nil {
		return err
	}
	defer it.Close()
	for e := range it.Entries() {
		if e.Err != nil {
			continue
		}
		rec := backend.Record{Key: backend.Key{ID: e.ID, Column: e.Column},
			Meta: backend.Meta{Size: e.TotalSize, Timestamp: e.Timestamp, UserFlags: e.UserFlags, Expire: e.Expire}}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return it.Err()
}

// localDigests returns the range hashes of a backend of this node; ok is
// false when it keeps none or they are not built yet.
func (h recoveryHost) localDigests(ctx context.Context, backendID int32, first, last int) ([]uint64, bool, error) {
	loc, err := h.Local(backendID)
	if err != nil {
		return nil, false, err
	}
	defer loc.Release()
	d, ok := backend.As[backend.Digester](loc.Store)
	if !ok {
		return nil, false, nil
	}
	return d.Digests(ctx, first, last)
}

func (h recoveryHost) Digests(ctx context.Context, owner route.Backend, first, last int) ([]uint64, bool, error) {
	if owner.Addr == h.Self() {
		return h.localDigests(ctx, owner.ID, first, last)
	}
	return h.session(owner.Group).RangeDigests(ctx, owner.Addr, owner.ID, first, last)
}

func (h recoveryHost) WithKey(ctx context.Context, key id.ID, fn func() error) error {
	return h.s.withKey(ctx, key, fn)
}

func (h recoveryHost) Fetch(ctx context.Context, keys []backend.Key, g uint32,
	each func(i int, data []byte, meta backend.Meta, err error)) error {
	ck := make([]client.Key, len(keys))
	for i, k := range keys {
		ck[i] = client.RawKey(k.ID).WithColumn(k.Column)
	}
	return h.session(g).BulkRead(ctx, ck, func(i int, e client.Entry, err error) {
		each(i, e.Data, backend.Meta{Size: e.TotalSize, Timestamp: e.Timestamp, UserFlags: e.UserFlags, Expire: e.Expire}, err)
	})
}
