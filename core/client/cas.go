package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// DefaultCASAttempts is what WriteCAS uses for count <= 0 (the original's
// write_cas default).
const DefaultCASAttempts = 10

// WriteCAS is a read-modify-write that loses no concurrent update (the
// original's write_cas(key, converter, offset, count)): it reads the newest
// copy of k (ReadLatest), computes fn(current), and writes the result only
// if the stored value still has the checksum of what was read. When another
// writer got there first (status.ErrMismatch) it starts over, at most count
// times in all (count <= 0: DefaultCASAttempts).
//
// fn gets nil when the key does not exist, and must not keep or modify its
// argument; its error ends WriteCAS at once. For a missing key the write is
// conditional on the key still being absent (an all-zero expected checksum,
// which no stored value has). With several groups the condition is checked
// in the primary group alone and the others copy its value (WriteWith):
// fn gets the newest copy and the write expects the primary's checksum,
// so a primary that missed the newest write still takes the change.
//
// The error after the last attempt wraps status.ErrMismatch.
func (s *Session) WriteCAS(ctx context.Context, k Key, fn func(current []byte) ([]byte, error), count int) (Result, error) {
	if count <= 0 {
		count = DefaultCASAttempts
	}
	var last error
	for attempt := 1; attempt <= count; attempt++ {
		var cur []byte
		var sum id.ID // zero: "absent"
		e, tried, err := s.ReadLatest(ctx, k, 0, 0)
		switch {
		case err == nil:
			cur = e.Data
			if sum, err = s.primarySum(ctx, k, e, tried); err != nil {
				return Result{}, fmt.Errorf("write cas %s: %w", k, err)
			}
		case errors.Is(err, status.ErrNotFound):
		default:
			return Result{}, fmt.Errorf("write cas %s: read the current value: %w", k, err)
		}
		next, err := fn(cur)
		if err != nil {
			return Result{}, fmt.Errorf("write cas %s: %w", k, err)
		}
		res, err := s.WriteWith(ctx, k, next, WriteOptions{CAS: &sum})
		if err == nil || !errors.Is(err, status.ErrMismatch) {
			return res, err
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return Result{}, fmt.Errorf("write cas %s: gave up after %d attempts: %w", k, count, last)
}

// primarySum is the checksum a WriteCAS that read e (the newest copy, from
// ReadLatest, whose first entries are its lookups in session group order)
// expects in the primary: the first group whose node was reached.
func (s *Session) primarySum(ctx context.Context, k Key, e Entry, tried []Entry) (id.ID, error) {
	if len(s.groups) < 2 {
		return id.Transform(e.Data), nil
	}
	for _, l := range tried[:min(len(s.groups), len(tried))] {
		switch {
		case l.Address == "":
			continue // unreachable: not the primary
		case l.Group == e.Group:
			return id.Transform(e.Data), nil
		case l.Status == status.NotFound:
			return id.ID{}, nil // absent: any expected checksum matches
		}
		p := s.Clone()
		p.groups = []uint32{l.Group}
		pl, err := p.LookupWith(ctx, k, LookupOptions{Checksum: true})
		if err != nil {
			return id.ID{}, fmt.Errorf("checksum in primary group %d: %w", l.Group, err)
		}
		return pl.Checksum, nil
	}
	return id.Transform(e.Data), nil
}

// writeCASPrimary is WriteWith with o.CAS in several groups. A condition
// checked in every group separately leaves the replicas diverged when only
// some of them hold the expected value, and lets two writers win in
// different groups; so the primary, the first session group (in session
// order) whose node takes the request, decides alone (a group without a
// connection, or whose connection is lost or node shutting down, or that
// no node has a route to, is skipped; a timeout is not, since the write may still happen there). A refusal there (or any other
// failure of the write there) changes no group: the other groups' entries
// say status.Canceled and the error is the primary's (status.ErrMismatch
// for a refused CAS). After a success the other groups get the new value
// with the primary's timestamp and CASTimestamp, so a value written there
// meanwhile by a newer write is kept (that group's entry says Mismatch). An
// offset write or append is copied as the whole value read back from the
// primary, since the other groups' older values may differ from its (the
// steps of a chunked upload are copied as they are: an upload replaces the
// whole value, and an uncommitted one cannot be read back).
//
// The entries list every group in session order and the session's checker
// judges them as for Write.
func (s *Session) writeCASPrimary(ctx context.Context, k Key, data []byte, o WriteOptions) (Result, error) {
	oid, err := s.resolve(k)
	if err != nil {
		return Result{}, err
	}
	// One timestamp for every group: the replicas are one version.
	one := s.Clone()
	one.timestamp = s.stamp()
	_, attr, err := one.writeAttr(k, data, o)
	if err != nil {
		return Result{}, err
	}
	entries := make([]Entry, len(s.groups))
	for i, g := range s.groups {
		entries[i] = Entry{Group: g, ID: oid, Column: k.Column}
	}
	prim := -1
	for i := range entries {
		e := &entries[i]
		deadline := time.Now().Add(s.timeout)
		c, err := s.node.connForKey(ctx, deadline, oid, e.Group)
		if setErr(e, err) {
			if ctx.Err() != nil {
				break
			}
			continue // unreachable: the next group decides
		}
		e.Address = c.addr
		r, err := c.do(ctx, deadline, s.header(proto.CmdWrite, oid, e.Group), attr, data)
		if !setErr(e, err) {
			setErr(e, decodeLookup(e, r.payload))
		}
		if (e.Status == status.ConnectionLost || e.Status == status.ShuttingDown || e.Status == status.NoRoute) && ctx.Err() == nil {
			// The node went away (a connection not yet known dead), or
			// the request went through another node (the owner's
			// connection was just lost) that has no route to the group:
			// nothing was written, as with a refused connection.
			continue
		}
		prim = i
		break
	}
	if prim < 0 || !entries[prim].OK() {
		for i := prim + 1; i < len(entries); i++ {
			skip := fmt.Errorf("not written: %w", status.ErrCanceled)
			if prim >= 0 {
				skip = fmt.Errorf("not written, the write in primary group %d failed: %w", entries[prim].Group, status.ErrCanceled)
			}
			setErr(&entries[i], skip)
		}
		res, err := verdict(entries, s.checker, s.filter)
		if prim >= 0 {
			err = fmt.Errorf("write cas %s in primary group %d: %w", k, entries[prim].Group, entries[prim].Err)
		}
		return res, err
	}

	rest := one.Clone()
	rest.groups = s.groups[prim+1:]
	co := o
	co.CAS, co.CASTimestamp = nil, true
	body := data
	if (o.Offset != 0 || o.Append) && !o.Prepare && !o.Plain && !o.Commit {
		whole := one.Clone()
		whole.groups = s.groups[prim : prim+1]
		whole.noReadRepair = true
		cur, err := whole.Read(ctx, k, 0, 0)
		if err != nil {
			for i := prim + 1; i < len(entries); i++ {
				setErr(&entries[i], fmt.Errorf("copy from primary group %d: read it back: %w", entries[prim].Group, err))
			}
			return verdict(entries, s.checker, s.filter)
		}
		body, co = cur.Data, WriteOptions{CASTimestamp: true}
		rest.timestamp = cur.Timestamp
		if !cur.Expire.IsZero() {
			co.TTL = max(time.Until(cur.Expire), time.Millisecond)
		}
	}
	if len(rest.groups) > 0 {
		rest.checker, rest.filter = CheckNone, FilterAll
		res, _ := rest.WriteWith(ctx, k, body, co)
		copy(entries[prim+1:], res.Entries)
	}
	return verdict(entries, s.checker, s.filter)
}
