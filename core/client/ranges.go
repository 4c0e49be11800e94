package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Range selects records by ID for ReadRange, CountRange and RemoveRange
// (the original's Range): every record (object column) whose ID is in
// [Start, End) in one group, in (ID, column) order, after skipping
// LimitStart of them, at most LimitNum (0 = no limit).
type Range struct {
	Start, End id.ID
	// Group is the group to act on; 0 means the session's first group.
	Group uint32
	// Offset and Size select the part of each value ReadRange returns
	// (Size 0 = to the end). A value shorter than Offset is returned
	// without data.
	Offset, Size         uint64
	LimitStart, LimitNum uint64
}

// rangePart is the piece of a Range owned by one backend: [start, end].
type rangePart struct {
	addr       string
	backend    int32
	start, end id.ID // both inclusive
}

// rangeParts splits [start, end) of group g by owner, in ID order, from
// the route table.
func (s *Session) rangeParts(start, end id.ID, g uint32) ([]rangePart, error) {
	t := s.node.Table()
	last := end.Prev()
	var parts []rangePart
	owned := false
	for _, addr := range t.Addresses() {
		for _, rg := range t.Ranges(addr) {
			if rg.Group != g {
				continue
			}
			owned = true
			lo, hi := rg.Start, rg.End
			if lo.Less(start) {
				lo = start
			}
			if last.Less(hi) {
				hi = last
			}
			if !hi.Less(lo) {
				parts = append(parts, rangePart{addr: addr, backend: rg.Backend, start: lo, end: hi})
			}
		}
	}
	if !owned {
		return nil, status.Errorf(status.NoRoute, "no known node serves group %d", g)
	}
	slices.SortFunc(parts, func(a, b rangePart) int { return a.start.Compare(b.start) })
	return parts, nil
}

// rangeGroup returns the group a range acts on.
func (s *Session) rangeGroup(g uint32) (uint32, error) {
	if g != 0 {
		return g, nil
	}
	if len(s.groups) == 0 {
		return 0, status.Errorf(status.NoRoute, "session has no groups")
	}
	return s.groups[0], nil
}

// walkRange sends cmd for each owner's piece of r in ID order, carrying
// the limit over from piece to piece, so the limit applies to the whole
// range as one sorted sequence. each (READ_RANGE with data) gets every
// entry; the result is the number of records acted on.
func (s *Session) walkRange(ctx context.Context, r Range, cmd proto.Cmd, flags proto.IOFlags,
	each func(e Entry)) (uint64, error) {
	op := map[proto.Cmd]string{proto.CmdReadRange: "read range", proto.CmdRemoveRange: "remove range"}[cmd]
	if flags.Has(proto.IONoData) {
		op = "count range"
	}
	if r.End.Less(r.Start) {
		return 0, status.Errorf(status.Invalid, "%s: start %s is after end %s", op, r.Start.Short(), r.End.Short())
	}
	if r.Offset+r.Size < r.Offset {
		return 0, status.Errorf(status.Invalid, "%s: offset %d + size %d overflows", op, r.Offset, r.Size)
	}
	if r.Start == r.End {
		return 0, nil
	}
	g, err := s.rangeGroup(r.Group)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	parts, err := s.rangeParts(r.Start, r.End, g)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	streams := map[string]*stream{}
	defer func() {
		for _, st := range streams {
			st.close()
		}
	}()
	skip, num := r.LimitStart, r.LimitNum
	var total uint64
	for _, p := range parts {
		req := proto.RangeRequest{Start: p.start, End: p.end.Next(), Flags: flags, Offset: r.Offset, Size: r.Size,
			LimitStart: skip, LimitNum: num}
		h := s.header(cmd, p.start, g)
		h.Flags |= proto.FlagDirectBackend
		h.Backend = p.backend
		var res proto.RangeResult
		if each != nil {
			res, err = s.rangeStream(ctx, streams, p, h, req.Append(nil), g, each)
		} else {
			res, err = s.rangeCall(ctx, p, h, req.Append(nil))
		}
		if err != nil {
			return total, fmt.Errorf("%s: part %s..%s of group %d on %s backend %d: %w",
				op, p.start.Short(), p.end.Short(), g, p.addr, p.backend, err)
		}
		skip -= min(skip, res.Skipped)
		total += res.Count
		if r.LimitNum > 0 {
			num -= min(num, res.Count)
			if num == 0 {
				break
			}
		}
	}
	return total, nil
}

// rangeCall sends a single-reply range request on the shared connection
// to the part's node, or to a node that relays it there.
func (s *Session) rangeCall(ctx context.Context, p rangePart, h proto.Header, payload []byte) (proto.RangeResult, error) {
	deadline := time.Now().Add(s.timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	hp, err := s.node.hopTo(dctx, p.addr)
	if err != nil {
		return proto.RangeResult{}, err
	}
	h, payload = hp.wrap(h, payload)
	rep, err := hp.c.do(ctx, deadline, h, payload)
	if err != nil {
		return proto.RangeResult{}, err
	}
	return proto.DecodeRangeResult(rep.payload)
}

// rangeStream sends a READ_RANGE on a stream to the part's node (or to a
// node that relays it there, entries included) and hands each entry to
// each. Streams are kept per node dialed, for the next parts.
func (s *Session) rangeStream(ctx context.Context, streams map[string]*stream, p rangePart, h proto.Header,
	payload []byte, g uint32, each func(e Entry)) (proto.RangeResult, error) {
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	hp, err := s.node.hopTo(dctx, p.addr)
	cancel()
	if err != nil {
		return proto.RangeResult{}, err
	}
	h, payload = hp.wrap(h, payload)
	st := streams[hp.c.addr]
	if st == nil {
		if st, err = s.node.openStream(ctx, hp.c.addr, s.timeout); err != nil {
			return proto.RangeResult{}, err
		}
		streams[hp.c.addr] = st
	}
	if err := st.send(h, payload); err != nil {
		return proto.RangeResult{}, err
	}
	for {
		rh, body, err := st.recv()
		if err != nil {
			return proto.RangeResult{}, err
		}
		if rh.IsFinal() {
			return proto.DecodeRangeResult(body)
		}
		re, err := proto.DecodeRangeEntry(body)
		if err != nil {
			return proto.RangeResult{}, err
		}
		a := &re.Attr
		each(Entry{Address: p.addr, Group: g, ID: re.ID, Column: a.Column, Offset: a.Offset, Size: a.Size,
			TotalSize: a.TotalSize, Timestamp: a.Timestamp, UserFlags: a.UserFlags, RecordFlags: a.RecordFlags,
			Expire: a.Expire, Data: re.Data})
	}
}

// ReadRange returns the records of r, sorted by (ID, column), with their
// data (Offset, Size of each value).
func (s *Session) ReadRange(ctx context.Context, r Range) ([]Entry, error) {
	var out []Entry
	_, err := s.walkRange(ctx, r, proto.CmdReadRange, 0, func(e Entry) { out = append(out, e) })
	return out, err
}

// CountRange returns how many records of r there are (limits applied),
// without reading them. Each owner's part is one request that must finish
// within the session timeout (SetTimeout for very large backends).
func (s *Session) CountRange(ctx context.Context, r Range) (uint64, error) {
	return s.walkRange(ctx, r, proto.CmdReadRange, proto.IONoData, nil)
}

// RemoveRange removes the records of r (limits applied) and returns how
// many it removed. Each record is one column: removing every column of an
// object removes the object.
func (s *Session) RemoveRange(ctx context.Context, r Range) (uint64, error) {
	return s.walkRange(ctx, r, proto.CmdRemoveRange, 0, nil)
}
