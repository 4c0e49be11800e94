package client

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Session carries the settings of a series of calls. It is cheap; make one
// per task with Clone. A Session is not safe for concurrent modification,
// but its calls may run concurrently once it is set up.
type Session struct {
	node      *Node
	groups    []uint32
	timeout   time.Duration
	namespace string
	model     id.Model
	checker   Checker
	filter    Filter
	userFlags uint64
	timestamp time.Time
	ioflags   proto.IOFlags
	cflags    proto.Flags
	traceID   uint64
	readOrder ReadOrder
	// noReadRepair turns read repair (repair.go) off.
	noReadRepair bool
}

// ReadOrder is the order in which reads and lookups (ReadAll, ReadAsync,
// LookupAll, ...) try the session's groups.
type ReadOrder int

const (
	// ReadInGroupOrder tries the groups in session order (the default, as
	// the original).
	ReadInGroupOrder ReadOrder = iota
	// ReadByLatency tries first the group whose owner connection has the
	// lowest smoothed reply latency (an EWMA of the round trips of its
	// replies, pings included). Groups whose owner has no established
	// connection or no reply yet come last; ties keep session order.
	ReadByLatency
)

// String names the order ("group", "latency").
func (o ReadOrder) String() string {
	if o == ReadByLatency {
		return "latency"
	}
	return "group"
}

// NewSession returns a session on n with the groups its nodes serve, the
// node's wait timeout, the at-least-one checker and every entry returned.
func NewSession(n *Node) *Session {
	return &Session{node: n, groups: n.Groups(), timeout: n.cfg.WaitTimeout, model: id.SHA512}
}

// Clone returns an independent copy of the session.
func (s *Session) Clone() *Session {
	c := *s
	c.groups = append([]uint32(nil), s.groups...)
	return &c
}

// Node returns the session's node.
func (s *Session) Node() *Node { return s.node }

// SetGroups sets the groups (replicas) the session uses, in read order.
func (s *Session) SetGroups(groups ...uint32) { s.groups = append([]uint32(nil), groups...) }

// Groups returns the session's groups.
func (s *Session) Groups() []uint32 { return append([]uint32(nil), s.groups...) }

// SetReadOrder sets the order in which reads and lookups try the groups.
func (s *Session) SetReadOrder(o ReadOrder) { s.readOrder = o }

// ReadOrder returns the session's read order.
func (s *Session) ReadOrder() ReadOrder { return s.readOrder }

// readGroups returns the groups a read of oid tries, in order: the session
// groups, sorted by their owner connection's latency with ReadByLatency.
// The result may be s.groups itself: callers must not change it.
func (s *Session) readGroups(oid id.ID) []uint32 {
	if s.readOrder != ReadByLatency || len(s.groups) < 2 {
		return s.groups
	}
	type groupLatency struct {
		g   uint32
		lat time.Duration
	}
	gl := make([]groupLatency, len(s.groups))
	for i, g := range s.groups {
		gl[i].g = g
		if c := s.node.liveConn(oid, g); c != nil {
			gl[i].lat = c.latency()
		}
	}
	slices.SortStableFunc(gl, func(a, b groupLatency) int {
		switch {
		case a.lat == b.lat:
			return 0
		case a.lat == 0: // unknown last
			return 1
		case b.lat == 0:
			return -1
		}
		return cmp.Compare(a.lat, b.lat)
	})
	out := make([]uint32, len(gl))
	for i := range gl {
		out[i] = gl[i].g
	}
	return out
}

// SetTimeout sets how long a call waits for each reply; 0 restores the
// node's wait timeout.
func (s *Session) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = s.node.cfg.WaitTimeout
	}
	s.timeout = d
}

// Timeout returns the session's timeout.
func (s *Session) Timeout() time.Duration { return s.timeout }

// SetNamespace sets the namespace mixed into key IDs.
func (s *Session) SetNamespace(ns string) { s.namespace = ns }

// Namespace returns the session's namespace.
func (s *Session) Namespace() string { return s.namespace }

// SetModel replaces the key-to-ID model (default id.SHA512).
func (s *Session) SetModel(m id.Model) { s.model = m }

// SetChecker sets the success policy of multi-group calls.
func (s *Session) SetChecker(c Checker) { s.checker = c }

// Checker returns the session's checker.
func (s *Session) Checker() Checker { return s.checker }

// SetFilter selects which entries results carry.
func (s *Session) SetFilter(f Filter) { s.filter = f }

// SetUserFlags sets the user flags stored with writes.
func (s *Session) SetUserFlags(f uint64) { s.userFlags = f }

// UserFlags returns the session's user flags.
func (s *Session) UserFlags() uint64 { return s.userFlags }

// SetTimestamp sets the timestamp stored with writes and removes; zero
// means this process's clock at the time of the call. Either way every
// group gets the same timestamp, so replicas of one write are one version
// (recovery compares them by timestamp and range hashes).
func (s *Session) SetTimestamp(t time.Time) { s.timestamp = t }

// stamp is the timestamp of a write or remove sent now.
func (s *Session) stamp() time.Time {
	if s.timestamp.IsZero() {
		return time.Now().UTC()
	}
	return s.timestamp
}

// Timestamp returns the session's write timestamp.
func (s *Session) Timestamp() time.Time { return s.timestamp }

// SetIOFlags sets io flags added to every data command.
func (s *Session) SetIOFlags(f proto.IOFlags) { s.ioflags = f }

// IOFlags returns the session's io flags.
func (s *Session) IOFlags() proto.IOFlags { return s.ioflags }

// SetCFlags sets command flags added to every request.
func (s *Session) SetCFlags(f proto.Flags) { s.cflags = f }

// CFlags returns the session's command flags.
func (s *Session) CFlags() proto.Flags { return s.cflags }

// SetTraceID sets the trace id sent with requests.
func (s *Session) SetTraceID(t uint64) { s.traceID = t }

// ID returns the ID of a key in this session (namespace and model applied).
func (s *Session) ID(k Key) (id.ID, error) { return s.resolve(k) }

// WriteOptions modify a write.
type WriteOptions struct {
	// Offset places the data inside the existing value (see Append).
	Offset uint64
	// Append adds the data after the current end.
	Append bool
	// TTL gives the value a lifetime on the node's clock (0 = none;
	// negative is status.ErrInvalid). Once it ends the value is invisible
	// to every read, lookup and iteration. An offset write, append or plain
	// chunk without a TTL keeps the value's current one; on a Prepare alone
	// it is the deadline of the upload (default: the node's upload_timeout,
	// 24h). WriteFrom streams a whole upload from an io.Reader.
	TTL time.Duration
	// CAS, when set, makes the write conditional: it succeeds only if the
	// SHA-512 of the stored value equals *CAS, or the key is absent;
	// otherwise status.ErrMismatch. With several groups the primary (the
	// first reachable session group) decides and the others copy it; see
	// writeCASPrimary. Use WriteCAS for read-modify-write.
	CAS *id.ID
	// CASTimestamp makes the write fail with status.ErrMismatch if the
	// stored timestamp is newer than the write's (the session timestamp,
	// or the node's clock when unset).
	CASTimestamp bool
	// Prepare, Plain and Commit are the steps of a chunked upload: a
	// prepare reserves TotalSize bytes and writes the data at Offset;
	// plain writes put chunks at their offsets; a commit writes its chunk,
	// sets the final size to TotalSize (at most the reservation) and makes
	// the value visible. Until then reads and lookups answer
	// status.ErrNotFound. Each chunk is one request, so a caller streams an
	// object of any size with one chunk in memory at a time.
	Prepare, Plain, Commit bool
	// TotalSize is the reservation of a Prepare and the final size of a
	// Commit.
	TotalSize uint64
	// Tombstone (between nodes: recovery) writes no data but applies a
	// remove made at the session timestamp: the key's column, or with
	// WholeObject every column, goes where it is not newer, and the
	// tombstone is recorded (proto.IOTombstone).
	Tombstone, WholeObject bool
}

// attr builds the io attr of a write, checking the options.
func (o *WriteOptions) attr(s *Session, column string, size int) (proto.IOAttr, error) {
	a := proto.IOAttr{Flags: s.ioflags, Column: column, Offset: o.Offset, Size: uint64(size),
		Timestamp: s.stamp(), UserFlags: s.userFlags, TTL: o.TTL, TotalSize: o.TotalSize}
	if o.TTL < 0 {
		return a, status.Errorf(status.Invalid, "write: negative ttl %s (0 = no lifetime)", o.TTL)
	}
	if o.Append && (o.Prepare || o.Plain || o.Commit) {
		return a, status.Errorf(status.Invalid, "write: append cannot be part of a chunked upload")
	}
	if o.TotalSize != 0 && !o.Prepare && !o.Commit {
		return a, status.Errorf(status.Invalid, "write: TotalSize needs Prepare or Commit")
	}
	for _, f := range []struct {
		on   bool
		flag proto.IOFlags
	}{{o.Append, proto.IOAppend}, {o.Prepare, proto.IOPrepare}, {o.Plain, proto.IOPlainWrite},
		{o.Commit, proto.IOCommit}, {o.CAS != nil, proto.IOCompareAndSwap}, {o.CASTimestamp, proto.IOCASTimestamp},
		{o.Tombstone, proto.IOTombstone}, {o.WholeObject, proto.IOWholeObject}} {
		if f.on {
			a.Flags |= f.flag
		}
	}
	return a, a.Validate()
}

// Write stores data under key in every group of the session.
func (s *Session) Write(ctx context.Context, k Key, data []byte) (Result, error) {
	return s.WriteWith(ctx, k, data, WriteOptions{})
}

// WriteWith stores data with options (offset, append, lifetime,
// compare-and-swap, chunked upload).
//
// With CAS and several groups the condition is checked in the primary
// group only and the others copy its outcome (writeCASPrimary), so the
// replicas converge even when they held different values.
func (s *Session) WriteWith(ctx context.Context, k Key, data []byte, o WriteOptions) (Result, error) {
	if o.CAS != nil && len(s.groups) > 1 {
		return s.writeCASPrimary(ctx, k, data, o)
	}
	oid, attr, err := s.writeAttr(k, data, o)
	if err != nil {
		return Result{}, err
	}
	entries := s.parallel(ctx, oid, k.Column, func(ctx context.Context, deadline time.Time, c *conn, h proto.Header, e *Entry) {
		r, err := c.do(ctx, deadline, h, attr, data)
		if setErr(e, err) {
			return
		}
		setErr(e, decodeLookup(e, r.payload))
	}, proto.CmdWrite)
	return verdict(entries, s.checker, s.filter)
}

// writeAttr resolves a write's key and encodes its io attr.
func (s *Session) writeAttr(k Key, data []byte, o WriteOptions) (id.ID, []byte, error) {
	oid, err := s.resolve(k)
	if err != nil {
		return id.ID{}, nil, err
	}
	a, err := o.attr(s, k.Column, len(data))
	if err != nil {
		return id.ID{}, nil, err
	}
	attr := a.Append(nil)
	if o.CAS != nil {
		// The expected checksum travels between the column and the data
		// (there is no 64-byte field in the io attr for it).
		attr = append(attr, o.CAS[:]...)
	}
	return oid, attr, nil
}

// decodeRead fills a read's entry from its reply.
func decodeRead(e *Entry, payload []byte) error {
	ra, data, err := proto.DecodeIOAttr(payload)
	if err != nil {
		return err
	}
	e.Column, e.Offset, e.Size, e.TotalSize = ra.Column, ra.Offset, ra.Size, ra.TotalSize
	e.Timestamp, e.UserFlags, e.RecordFlags = ra.Timestamp, ra.UserFlags, ra.RecordFlags
	e.Expire, e.Data = ra.Expire, data
	return nil
}

// decodeLookup fills a lookup's entry from its reply.
func decodeLookup(e *Entry, payload []byte) error {
	li, err := proto.DecodeLookupInfo(payload)
	if err != nil {
		return err
	}
	fillLookup(e, &li)
	return nil
}

// Read reads size bytes at offset (size 0 = to the end) from the first
// group that has the key.
func (s *Session) Read(ctx context.Context, k Key, offset, size uint64) (Entry, error) {
	e, _, err := s.ReadAll(ctx, k, offset, size)
	return e, err
}

// ReadAll is Read that also returns the entries of the groups tried.
func (s *Session) ReadAll(ctx context.Context, k Key, offset, size uint64) (Entry, []Entry, error) {
	a := proto.IOAttr{Flags: s.ioflags, Column: k.Column, Offset: offset, Size: size}
	return s.sequential(ctx, k, proto.CmdRead, a, decodeRead)
}

// LookupOptions modify a lookup.
type LookupOptions struct {
	// Checksum asks the node for the SHA-512 of the data.
	Checksum bool
}

// Lookup returns where and what the object is, from the first group that
// has it.
func (s *Session) Lookup(ctx context.Context, k Key) (Entry, error) {
	return s.LookupWith(ctx, k, LookupOptions{})
}

// LookupWith is Lookup with options.
func (s *Session) LookupWith(ctx context.Context, k Key, o LookupOptions) (Entry, error) {
	e, _, err := s.LookupAll(ctx, k, o)
	return e, err
}

// LookupAll is LookupWith that also returns the entries of the groups tried.
func (s *Session) LookupAll(ctx context.Context, k Key, o LookupOptions) (Entry, []Entry, error) {
	a := proto.IOAttr{Flags: s.ioflags, Column: k.Column}
	if o.Checksum {
		a.Flags |= proto.IOChecksum
	}
	return s.sequential(ctx, k, proto.CmdLookup, a, decodeLookup)
}

// Remove deletes the object (or, for a key with a column, that column) from
// every group of the session.
func (s *Session) Remove(ctx context.Context, k Key) (Result, error) {
	oid, err := s.resolve(k)
	if err != nil {
		return Result{}, err
	}
	a := proto.IOAttr{Flags: s.ioflags, Column: k.Column, Timestamp: s.stamp()}
	if err := a.Validate(); err != nil {
		return Result{}, err
	}
	attr := a.Append(nil)
	entries := s.parallel(ctx, oid, k.Column, func(ctx context.Context, deadline time.Time, c *conn, h proto.Header, e *Entry) {
		_, err := c.do(ctx, deadline, h, attr)
		setErr(e, err)
	}, proto.CmdRemove)
	return verdict(entries, s.checker, s.filter)
}

// Ping checks that a node serving each session group answers (with a
// BACKEND_STATUS request, as the original did); the session's checker
// judges the outcome.
func (s *Session) Ping(ctx context.Context) (Result, error) {
	entries := s.parallel(ctx, id.ID{}, "", func(ctx context.Context, deadline time.Time, c *conn, h proto.Header, e *Entry) {
		_, err := c.do(ctx, deadline, h)
		setErr(e, err)
	}, proto.CmdBackendStatus)
	return verdict(entries, s.checker, s.filter)
}

func setErr(e *Entry, err error) bool {
	if err == nil {
		return false
	}
	e.Err = err
	e.Status = status.FromError(err)
	return true
}

func fillLookup(e *Entry, li *proto.LookupInfo) {
	e.Column, e.Offset, e.Size, e.TotalSize = li.Column, li.Offset, li.Size, li.TotalSize
	e.Timestamp, e.UserFlags, e.RecordFlags = li.Timestamp, li.UserFlags, li.RecordFlags
	e.Checksum, e.Path, e.Expire = li.Checksum, li.Path, li.Expire
	if li.Address != "" {
		e.Address = li.Address
	}
}

func (s *Session) header(cmd proto.Cmd, oid id.ID, g uint32) proto.Header {
	h := proto.NewHeader(cmd, 0, oid, g)
	h.Flags = s.cflags
	h.TraceID = s.traceID
	if s.traceID != 0 {
		h.Flags |= proto.FlagTrace
	}
	return h
}

// parallel runs do once per session group concurrently and returns one
// entry per group in group order. Each group's call gets the session
// timeout, enforced by its connection's sweeper (no timer per call); ctx may
// cancel or end it earlier.
func (s *Session) parallel(ctx context.Context, oid id.ID, column string,
	do func(ctx context.Context, deadline time.Time, c *conn, h proto.Header, e *Entry), cmd proto.Cmd) []Entry {
	entries := make([]Entry, len(s.groups))
	deadline := time.Now().Add(s.timeout)
	if len(entries) == 1 {
		s.one(ctx, deadline, oid, column, do, cmd, 0, &entries[0])
		return entries
	}
	var wg sync.WaitGroup
	for i := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.one(ctx, deadline, oid, column, do, cmd, i, &entries[i])
		}()
	}
	wg.Wait()
	return entries
}

// one is parallel's call to group s.groups[i].
func (s *Session) one(ctx context.Context, deadline time.Time, oid id.ID, column string,
	do func(ctx context.Context, deadline time.Time, c *conn, h proto.Header, e *Entry), cmd proto.Cmd, i int, e *Entry) {
	g := s.groups[i]
	e.Group, e.ID, e.Column = g, oid, column
	c, err := s.node.connForKey(ctx, deadline, oid, g)
	if setErr(e, err) {
		return
	}
	e.Address = c.addr
	do(ctx, deadline, c, s.header(cmd, oid, g), e)
}

// sequential tries the session groups in read order (readGroups) until one
// succeeds, each with the session timeout.
// missingIn returns the groups of the entries that said "not found".
func missingIn(tried []Entry) []uint32 {
	var gs []uint32
	for _, t := range tried {
		if t.Status == status.NotFound {
			gs = append(gs, t.Group)
		}
	}
	return gs
}

func (s *Session) sequential(ctx context.Context, k Key, cmd proto.Cmd, a proto.IOAttr,
	decode func(e *Entry, payload []byte) error) (Entry, []Entry, error) {
	oid, err := s.resolve(k)
	if err != nil {
		return Entry{}, nil, err
	}
	if err := a.Validate(); err != nil {
		return Entry{}, nil, err
	}
	attr := a.Append(nil)
	groups := s.readGroups(oid)
	tried := make([]Entry, 0, len(groups))
	for _, g := range groups {
		tried = append(tried, Entry{Group: g, ID: oid, Column: k.Column})
		e := &tried[len(tried)-1]
		deadline := time.Now().Add(s.timeout)
		if c, err := s.node.connForKey(ctx, deadline, oid, g); !setErr(e, err) {
			e.Address = c.addr
			r, err := c.do(ctx, deadline, s.header(cmd, oid, g), attr)
			if !setErr(e, err) {
				setErr(e, decode(e, r.payload))
			}
		}
		if e.OK() {
			if cmd == proto.CmdRead && !a.Flags.Has(proto.IONoData) {
				s.repair(oid, *e, missingIn(tried))
			}
			return *e, tried, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return Entry{}, tried, readVerdict(tried)
}
