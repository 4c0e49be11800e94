package client

import (
	"context"
	"slices"
	"time"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// ReadLatest reads size bytes at offset (size 0 = to the end) from the group
// that holds the newest copy of k (read_latest in the original). It looks k
// up in every session group in parallel, then reads from the groups that
// have it in newest-timestamp-first order (equal timestamps keep session
// group order) until one answers: a replica that missed the last write is
// never preferred to one that has it, whatever the group order.
//
// It returns the entry read and every entry tried: the lookups in session
// group order, then the reads. When no group has the key the error is
// status.ErrNotFound if every group said so, else the first other error (a
// group that failed may hold the key), as Read reports it.
func (s *Session) ReadLatest(ctx context.Context, k Key, offset, size uint64) (Entry, []Entry, error) {
	oid, err := s.resolve(k)
	if err != nil {
		return Entry{}, nil, err
	}
	la := proto.IOAttr{Flags: s.ioflags, Column: k.Column}
	if err := la.Validate(); err != nil {
		return Entry{}, nil, err
	}
	attr := la.Append(nil)
	looks := s.parallel(ctx, oid, k.Column, func(ctx context.Context, deadline time.Time, c *conn, h proto.Header, e *Entry) {
		r, err := c.do(ctx, deadline, h, attr)
		if setErr(e, err) {
			return
		}
		setErr(e, decodeLookup(e, r.payload))
	}, proto.CmdLookup)
	tried := slices.Clone(looks)

	var have []Entry
	for _, e := range looks {
		if e.OK() {
			have = append(have, e)
		}
	}
	if len(have) == 0 {
		return Entry{}, tried, readVerdict(looks)
	}
	slices.SortStableFunc(have, func(a, b Entry) int { return b.Timestamp.Compare(a.Timestamp) })

	one := s.Clone()
	var reads []Entry
	for _, l := range have {
		one.groups = []uint32{l.Group}
		e, rs, err := one.ReadAll(ctx, k, offset, size)
		tried = append(tried, rs...)
		if err == nil {
			var stale []uint32
			for _, lk := range looks {
				if lk.Status == status.NotFound || lk.OK() && lk.Timestamp.Before(e.Timestamp) {
					stale = append(stale, lk.Group)
				}
			}
			s.repair(oid, e, stale)
			return e, tried, nil
		}
		if len(rs) == 0 {
			return Entry{}, tried, err // the request itself is bad (offset, size): no group will do
		}
		reads = append(reads, rs...)
		if ctx.Err() != nil {
			break
		}
	}
	return Entry{}, tried, readVerdict(reads)
}
