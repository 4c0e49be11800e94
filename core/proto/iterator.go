package proto

import (
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Limits of the range, iterator and server-send payloads.
const (
	MaxIteratorRanges = 4096  // key ranges in one IteratorRequest
	MaxSendGroups     = 64    // destination groups of a copy
	MaxSendKeys       = 65536 // keys in one SendRequest or SendReply
)

// RangeRequestSize is the size of an encoded RangeRequest.
const RangeRequestSize = 168

// RangeRequest is the payload of READ_RANGE and REMOVE_RANGE: the records
// of the addressed backend whose IDs are in [Start, End), in (ID, column)
// order, after skipping LimitStart of them, at most LimitNum (0 = all).
// The original's dnet_io_attr of READ_RANGE/DEL_RANGE, slimmed down.
//
//	off size field
//	  0   64 start id (inclusive)
//	 64   64 end id (exclusive)
//	128    4 io flags (IONoData: count only)
//	132    4 reserved, zero
//	136    8 offset in each value (READ_RANGE with data)
//	144    8 size: bytes of each value (0 = to the end)
//	152    8 limit start: records to skip
//	160    8 limit num: records to act on (0 = no limit)
type RangeRequest struct {
	Start, End id.ID
	Flags      IOFlags
	Offset     uint64
	Size       uint64
	LimitStart uint64
	LimitNum   uint64
}

// Append appends the encoding of r to dst.
func (r *RangeRequest) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.raw(r.Start[:])
	e.raw(r.End[:])
	e.u32(uint32(r.Flags))
	e.u32(0)
	e.u64(r.Offset)
	e.u64(r.Size)
	e.u64(r.LimitStart)
	e.u64(r.LimitNum)
	return e.b
}

// Validate checks what a decoder cannot: an empty or reversed range is
// allowed only as start == end (nothing); start > end is status.Invalid.
func (r *RangeRequest) Validate() error {
	if r.End.Less(r.Start) {
		return status.Errorf(status.Invalid, "range start %s is after its end %s", r.Start.Short(), r.End.Short())
	}
	if r.Offset+r.Size < r.Offset {
		return status.Errorf(status.Invalid, "range: offset %d + size %d overflows", r.Offset, r.Size)
	}
	return nil
}

// DecodeRangeRequest parses a READ_RANGE or REMOVE_RANGE payload.
func DecodeRangeRequest(b []byte) (RangeRequest, error) {
	d := dec{b: b, what: "range request"}
	var r RangeRequest
	copy(r.Start[:], d.bytes(id.Size))
	copy(r.End[:], d.bytes(id.Size))
	r.Flags = IOFlags(d.u32())
	d.u32()
	r.Offset = d.u64()
	r.Size = d.u64()
	r.LimitStart = d.u64()
	r.LimitNum = d.u64()
	return r, d.done()
}

// RangeResultSize is the size of an encoded RangeResult.
const RangeResultSize = 16

// RangeResult is the final reply of READ_RANGE and REMOVE_RANGE.
//
//	off size field
//	  0    8 skipped: records in the range skipped for LimitStart
//	  8    8 count: records read, counted or removed
type RangeResult struct {
	Skipped, Count uint64
}

// Append appends the encoding of r to dst.
func (r *RangeResult) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.u64(r.Skipped)
	e.u64(r.Count)
	return e.b
}

// DecodeRangeResult parses a RangeResult.
func DecodeRangeResult(b []byte) (RangeResult, error) {
	d := dec{b: b, what: "range result"}
	r := RangeResult{Skipped: d.u64(), Count: d.u64()}
	return r, d.done()
}

// RangeEntry is one record of a READ_RANGE reply (flag More): its ID, an
// IOAttr (column, offset, size of the data carried, total size, timestamp,
// user flags, expiry) and the data.
//
//	off size field
//	  0   64 key id
//	 64    … IOAttr + column
//	  …    … data (IOAttr.size bytes)
type RangeEntry struct {
	ID   id.ID
	Attr IOAttr
	Data []byte
}

// AppendRangeEntryHead appends the ID and IOAttr of a RangeEntry; the data
// follows as a separate part so it is not copied.
func AppendRangeEntryHead(dst []byte, oid id.ID, a *IOAttr) []byte {
	dst = append(dst, oid[:]...)
	return a.Append(dst)
}

// DecodeRangeEntry parses a RangeEntry; Data aliases b.
func DecodeRangeEntry(b []byte) (RangeEntry, error) {
	var r RangeEntry
	if len(b) < id.Size {
		return r, status.Errorf(status.Protocol, "range entry: truncated (%d bytes)", len(b))
	}
	copy(r.ID[:], b[:id.Size])
	a, rest, err := DecodeIOAttr(b[id.Size:])
	if err != nil {
		return r, err
	}
	if a.Size != uint64(len(rest)) {
		return r, status.Errorf(status.Protocol, "range entry: io attr says %d bytes, %d follow", a.Size, len(rest))
	}
	r.Attr, r.Data = a, rest
	return r, nil
}

// IteratorFlags select what an iterator does (DNET_ITERATOR_FLAGS_* values).
type IteratorFlags uint64

const (
	IterData      IteratorFlags = 1 << 0 // send each record's data
	IterKeyRange  IteratorFlags = 1 << 1 // iterate the ranges given (set by senders when ranges are given)
	IterTSRange   IteratorFlags = 1 << 2 // only records with a timestamp in [begin, end]
	IterNoMeta    IteratorFlags = 1 << 3 // zero timestamps and user flags (index-only scan)
	IterMove      IteratorFlags = 1 << 4 // copy: remove the source record after a successful copy
	IterOverwrite IteratorFlags = 1 << 5 // copy: overwrite even newer data at the destination
	// IterTombstones also visits the tombstones of removed objects and
	// columns (their reserved column names, see backend.TombstoneColumn):
	// recovery uses it to carry removes to other groups.
	IterTombstones IteratorFlags = 1 << 6
	// IterNoTotal skips counting the records before iterating (progress
	// entries then carry total_keys 0): the count is one more pass over
	// the backend, which recovery's scans do not need.
	IterNoTotal IteratorFlags = 1 << 7
)

// Has reports whether every bit of f2 is set in f.
func (f IteratorFlags) Has(f2 IteratorFlags) bool { return f&f2 == f2 }

// IteratorType says where the records go (DNET_ITYPE_*).
type IteratorType uint32

const (
	IterTypeDisk       IteratorType = 1 // to a file on the node: not supported
	IterTypeNetwork    IteratorType = 2 // to the requester
	IterTypeServerSend IteratorType = 3 // copied to other groups by the node
)

// IteratorAction is what an ITERATOR request asks.
type IteratorAction uint32

const (
	IterStart    IteratorAction = 1
	IterPause    IteratorAction = 2
	IterContinue IteratorAction = 3
	IterCancel   IteratorAction = 4
	// IterList asks for the node's running iterators (IteratorInfos);
	// the request's other fields are ignored.
	IterList IteratorAction = 5
)

// IteratorState is the state an IteratorEntry reports.
type IteratorState uint32

const (
	IterRunning  IteratorState = 1
	IterPaused   IteratorState = 2
	IterFinished IteratorState = 3
	IterCanceled IteratorState = 4
)

func (s IteratorState) String() string {
	switch s {
	case IterRunning:
		return "running"
	case IterPaused:
		return "paused"
	case IterFinished:
		return "finished"
	case IterCanceled:
		return "canceled"
	}
	return "unknown"
}

// IteratorRange is a key range of an iterator, both ends inclusive (as the
// original's dnet_iterator_range).
type IteratorRange struct {
	Start, End id.ID
}

// IteratorRequestSize is the fixed part of an encoded IteratorRequest.
const IteratorRequestSize = 64

// IteratorRequest is the payload of ITERATOR (dnet_iterator_request).
//
//	off size field
//	  0    8 iterator id (pause, continue, cancel; 0 in a start)
//	  8    4 action (1 start, 2 pause, 3 continue, 4 cancel)
//	 12    4 type (2 network, 3 server-send)
//	 16    8 flags (IteratorFlags)
//	 24   16 time begin (seconds, nanoseconds)
//	 40   16 time end (seconds, nanoseconds)
//	 56    4 range count (<= 4096)
//	 60    4 group count (<= 64, server-send destinations)
//	 64    … range count × (start id 64, end id 64), inclusive
//	  …    … group count × u32
type IteratorRequest struct {
	ID        uint64
	Action    IteratorAction
	Type      IteratorType
	Flags     IteratorFlags
	TimeBegin time.Time
	TimeEnd   time.Time
	Ranges    []IteratorRange
	Groups    []uint32
}

// Append appends the encoding of r to dst; ranges and groups over their
// limits are cut.
func (r *IteratorRequest) Append(dst []byte) []byte {
	rs := r.Ranges[:min(len(r.Ranges), MaxIteratorRanges)]
	gs := r.Groups[:min(len(r.Groups), MaxSendGroups)]
	e := enc{b: dst}
	e.u64(r.ID)
	e.u32(uint32(r.Action))
	e.u32(uint32(r.Type))
	e.u64(uint64(r.Flags))
	sec, nsec := timeToWire(r.TimeBegin)
	e.u64(sec)
	e.u64(nsec)
	sec, nsec = timeToWire(r.TimeEnd)
	e.u64(sec)
	e.u64(nsec)
	e.u32(uint32(len(rs)))
	e.u32(uint32(len(gs)))
	for _, x := range rs {
		e.raw(x.Start[:])
		e.raw(x.End[:])
	}
	for _, g := range gs {
		e.u32(g)
	}
	return e.b
}

// DecodeIteratorRequest parses an ITERATOR payload. It checks lengths and
// limits; Validate checks the meaning.
func DecodeIteratorRequest(b []byte) (IteratorRequest, error) {
	d := dec{b: b, what: "iterator request"}
	var r IteratorRequest
	r.ID = d.u64()
	r.Action = IteratorAction(d.u32())
	r.Type = IteratorType(d.u32())
	r.Flags = IteratorFlags(d.u64())
	bs, bn, es, en := d.u64(), d.u64(), d.u64(), d.u64()
	nr, ng := d.u32(), d.u32()
	if d.err != nil {
		return r, d.err
	}
	var err error
	if r.TimeBegin, err = timeFromWire(bs, bn); err != nil {
		return r, err
	}
	if r.TimeEnd, err = timeFromWire(es, en); err != nil {
		return r, err
	}
	if nr > MaxIteratorRanges {
		return r, status.Errorf(status.TooLarge, "iterator request: %d ranges over the limit of %d", nr, MaxIteratorRanges)
	}
	if ng > MaxSendGroups {
		return r, status.Errorf(status.TooLarge, "iterator request: %d groups over the limit of %d", ng, MaxSendGroups)
	}
	if !d.need(int(nr)*2*id.Size + int(ng)*4) {
		return r, d.err
	}
	if nr > 0 {
		r.Ranges = make([]IteratorRange, nr)
		for i := range r.Ranges {
			copy(r.Ranges[i].Start[:], d.bytes(id.Size))
			copy(r.Ranges[i].End[:], d.bytes(id.Size))
		}
	}
	if ng > 0 {
		r.Groups = make([]uint32, ng)
		for i := range r.Groups {
			r.Groups[i] = d.u32()
		}
	}
	return r, d.done()
}

// Validate checks a start request: a known type, ranges and time range in
// order, destination groups exactly for server-send.
func (r *IteratorRequest) Validate() error {
	switch r.Type {
	case IterTypeNetwork, IterTypeServerSend:
	case IterTypeDisk:
		return status.Errorf(status.Unsupported, "iterator type disk (to a file on the node) is not supported")
	default:
		return status.Errorf(status.Invalid, "unknown iterator type %d", r.Type)
	}
	for i, x := range r.Ranges {
		if x.End.Less(x.Start) {
			return status.Errorf(status.Invalid, "iterator range %d: start %s is after its end %s", i, x.Start.Short(), x.End.Short())
		}
	}
	if r.Flags.Has(IterTSRange) && !r.TimeEnd.IsZero() && r.TimeEnd.Before(r.TimeBegin) {
		return status.Errorf(status.Invalid, "iterator time range: begin %s is after end %s",
			r.TimeBegin.Format(time.RFC3339Nano), r.TimeEnd.Format(time.RFC3339Nano))
	}
	if r.Type == IterTypeServerSend && len(r.Groups) == 0 {
		return status.Errorf(status.Invalid, "server-send iterator without destination groups")
	}
	if r.Type != IterTypeServerSend && len(r.Groups) > 0 {
		return status.Errorf(status.Invalid, "destination groups given to a network iterator")
	}
	if r.Type != IterTypeServerSend && r.Flags&(IterMove|IterOverwrite) != 0 {
		return status.Errorf(status.Invalid, "move and overwrite flags need a server-send iterator")
	}
	return nil
}

// IteratorEntryFlags qualify an IteratorEntry.
type IteratorEntryFlags uint32

const (
	// IterEntryProgress: no record, only the iterator's id, state and
	// counters (keep-alive while skipping or paused, the first reply that
	// names the iterator, control replies, the final reply).
	IterEntryProgress IteratorEntryFlags = 1 << 0
)

// IteratorEntrySize is the fixed part of an encoded IteratorEntry.
const IteratorEntrySize = 104

// IteratorEntry is one reply of an iterator (dnet_iterator_response).
//
//	off size field
//	  0    8 iterator id
//	  8    4 status (i32: per-record result, e.g. a failed copy)
//	 12    4 entry flags (1 = progress only: no record)
//	 16    8 iterated: records visited so far
//	 24    8 total: records the iterator will visit (an estimate taken at start)
//	 32    4 group: the destination group of a server-send result, else the source group
//	 36    4 state (1 running, 2 paused, 3 finished, 4 canceled)
//	 40   64 key id
//	104    … IOAttr + column (size = bytes of data carried; total size, timestamp,
//	         user flags, record flags, expire of the record)
//	  …    … data
//
// A progress entry carries an IOAttr of zeros and no data.
type IteratorEntry struct {
	IterID   uint64
	Status   status.Code
	Flags    IteratorEntryFlags
	Iterated uint64
	Total    uint64
	Group    uint32
	State    IteratorState
	Key      id.ID
	Attr     IOAttr
	Data     []byte
}

// AppendHead appends everything but the data, which follows as its own part.
func (e *IteratorEntry) AppendHead(dst []byte) []byte {
	en := enc{b: dst}
	en.u64(e.IterID)
	en.u32(uint32(e.Status))
	en.u32(uint32(e.Flags))
	en.u64(e.Iterated)
	en.u64(e.Total)
	en.u32(e.Group)
	en.u32(uint32(e.State))
	en.raw(e.Key[:])
	a := e.Attr
	a.Size = uint64(len(e.Data))
	return a.Append(en.b)
}

// DecodeIteratorEntry parses an IteratorEntry; Data aliases b.
func DecodeIteratorEntry(b []byte) (IteratorEntry, error) {
	d := dec{b: b, what: "iterator entry"}
	var e IteratorEntry
	e.IterID = d.u64()
	e.Status = status.Code(int32(d.u32()))
	e.Flags = IteratorEntryFlags(d.u32())
	e.Iterated = d.u64()
	e.Total = d.u64()
	e.Group = d.u32()
	e.State = IteratorState(d.u32())
	copy(e.Key[:], d.bytes(id.Size))
	if d.err != nil {
		return e, d.err
	}
	a, rest, err := DecodeIOAttr(d.rest())
	if err != nil {
		return e, err
	}
	if a.Size != uint64(len(rest)) {
		return e, status.Errorf(status.Protocol, "iterator entry: io attr says %d bytes, %d follow", a.Size, len(rest))
	}
	e.Attr, e.Data = a, rest
	if len(e.Data) == 0 {
		e.Data = nil
	}
	return e, nil
}

// SendKey names one record of a SendRequest.
type SendKey struct {
	ID     id.ID
	Column string
}

// SendRequest is the payload of SEND (dnet_server_send_request): copy the
// listed records of the addressed backend to other groups.
//
//	off size field
//	  0    8 flags (IteratorFlags: IterMove, IterOverwrite)
//	  8    4 key count (<= 65536)
//	 12    4 group count (1..64)
//	 16    … group count × u32
//	  …    … key count × (id 64, column str16)
type SendRequest struct {
	Flags  IteratorFlags
	Groups []uint32
	Keys   []SendKey
}

// Append appends the encoding of r to dst; keys and groups over their limits
// are cut.
func (r *SendRequest) Append(dst []byte) []byte {
	gs := r.Groups[:min(len(r.Groups), MaxSendGroups)]
	ks := r.Keys[:min(len(r.Keys), MaxSendKeys)]
	e := enc{b: dst}
	e.u64(uint64(r.Flags))
	e.u32(uint32(len(ks)))
	e.u32(uint32(len(gs)))
	for _, g := range gs {
		e.u32(g)
	}
	for _, k := range ks {
		e.raw(k.ID[:])
		e.str16(truncate(k.Column, MaxColumnLen))
	}
	return e.b
}

// DecodeSendRequest parses a SEND payload.
func DecodeSendRequest(b []byte) (SendRequest, error) {
	d := dec{b: b, what: "send request"}
	var r SendRequest
	r.Flags = IteratorFlags(d.u64())
	nk, ng := d.u32(), d.u32()
	if d.err != nil {
		return r, d.err
	}
	if nk > MaxSendKeys {
		return r, status.Errorf(status.TooLarge, "send request: %d keys over the limit of %d", nk, MaxSendKeys)
	}
	if ng > MaxSendGroups {
		return r, status.Errorf(status.TooLarge, "send request: %d groups over the limit of %d", ng, MaxSendGroups)
	}
	if !d.need(int(ng)*4 + int(nk)*(id.Size+2)) {
		return r, d.err
	}
	r.Groups = make([]uint32, ng)
	for i := range r.Groups {
		r.Groups[i] = d.u32()
	}
	r.Keys = make([]SendKey, 0, nk)
	for i := uint32(0); i < nk && d.err == nil; i++ {
		var k SendKey
		copy(k.ID[:], d.bytes(id.Size))
		k.Column = d.str16(MaxColumnLen)
		r.Keys = append(r.Keys, k)
	}
	return r, d.done()
}

// SendResult is the outcome of copying one record to one group.
type SendResult struct {
	ID     id.ID
	Column string
	Group  uint32
	Status status.Code
}

// AppendSendResults encodes the SEND reply: count u32, then count × (id 64,
// column str16, group u32, status i32).
func AppendSendResults(dst []byte, rs []SendResult) []byte {
	rs = rs[:min(len(rs), MaxSendKeys*MaxSendGroups)]
	e := enc{b: dst}
	e.u32(uint32(len(rs)))
	for _, r := range rs {
		e.raw(r.ID[:])
		e.str16(truncate(r.Column, MaxColumnLen))
		e.u32(r.Group)
		e.u32(uint32(r.Status))
	}
	return e.b
}

// DecodeSendResults parses a SEND reply.
func DecodeSendResults(b []byte) ([]SendResult, error) {
	d := dec{b: b, what: "send reply"}
	n := d.u32()
	if d.err == nil && uint64(n) > MaxSendKeys*MaxSendGroups {
		return nil, status.Errorf(status.TooLarge, "send reply: %d results over the limit of %d", n, MaxSendKeys*MaxSendGroups)
	}
	if !d.need(int(n) * (id.Size + 10)) {
		return nil, d.err
	}
	out := make([]SendResult, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		var r SendResult
		copy(r.ID[:], d.bytes(id.Size))
		r.Column = d.str16(MaxColumnLen)
		r.Group = d.u32()
		r.Status = status.Code(int32(d.u32()))
		out = append(out, r)
	}
	return out, d.done()
}

// IteratorInfoSize is the size of one encoded IteratorInfo.
const IteratorInfoSize = 64

// MaxIteratorList bounds the iterators one ITERATOR list reply describes.
const MaxIteratorList = 4096

// IteratorInfo describes an iterator running on a node (ITERATOR list).
//
//	off size field
//	  0    8 iterator id
//	  8    4 backend (i32)
//	 12    4 group of the backend
//	 16    4 state (1 running, 2 paused, 4 canceled: winding down)
//	 20    4 type (2 network, 3 server-send)
//	 24    8 flags (IteratorFlags)
//	 32    8 iterated
//	 40    8 total
//	 48   16 started (seconds, nanoseconds)
type IteratorInfo struct {
	ID       uint64
	Backend  int32
	Group    uint32
	State    IteratorState
	Type     IteratorType
	Flags    IteratorFlags
	Iterated uint64
	Total    uint64
	Started  time.Time
}

// AppendIteratorInfos appends an ITERATOR list reply: a u32 count, four
// zero bytes, then count IteratorInfos. Infos past MaxIteratorList are cut.
func AppendIteratorInfos(dst []byte, infos []IteratorInfo) []byte {
	infos = infos[:min(len(infos), MaxIteratorList)]
	e := enc{b: dst}
	e.u32(uint32(len(infos)))
	e.u32(0)
	for _, x := range infos {
		e.u64(x.ID)
		e.u32(uint32(x.Backend))
		e.u32(x.Group)
		e.u32(uint32(x.State))
		e.u32(uint32(x.Type))
		e.u64(uint64(x.Flags))
		e.u64(x.Iterated)
		e.u64(x.Total)
		sec, nsec := timeToWire(x.Started)
		e.u64(sec)
		e.u64(nsec)
	}
	return e.b
}

// DecodeIteratorInfos parses an ITERATOR list reply.
func DecodeIteratorInfos(b []byte) ([]IteratorInfo, error) {
	d := dec{b: b, what: "iterator list"}
	n := d.u32()
	d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if n > MaxIteratorList {
		return nil, status.Errorf(status.TooLarge, "iterator list: %d iterators over the limit of %d", n, MaxIteratorList)
	}
	if !d.need(int(n) * IteratorInfoSize) {
		return nil, d.err
	}
	out := make([]IteratorInfo, n)
	for i := range out {
		x := &out[i]
		x.ID = d.u64()
		x.Backend = int32(d.u32())
		x.Group = d.u32()
		x.State = IteratorState(d.u32())
		x.Type = IteratorType(d.u32())
		x.Flags = IteratorFlags(d.u64())
		x.Iterated = d.u64()
		x.Total = d.u64()
		t, err := timeFromWire(d.u64(), d.u64())
		if err != nil {
			return nil, err
		}
		x.Started = t
	}
	return out, d.done()
}
