package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Range requests (READ_RANGE, REMOVE_RANGE) and iterators act on one
// backend of this node, never on a key's owner elsewhere: their replies are
// a stream, which forwarding (one final reply) cannot relay. Clients split
// an ID range by owner from their route table and address each backend.

// localBackend picks the backend of a range, iterator or send request: the
// one named in the header with FlagDirectBackend (or by a backend ID of the
// header's group), else the local owner of the header's key in its group.
// The caller releases it.
func (s *Server) localBackend(h *proto.Header) (*Backend, backend.Backend, error) {
	hh := *h
	if !hh.Flags.Has(proto.FlagDirectBackend) {
		owner, remote := s.route(&hh)
		if remote {
			return nil, nil, status.Errorf(status.NoRoute, "key %s of group %d is owned by %s (backend %d): send %s there",
				hh.ID.Short(), hh.Group, owner.Addr, owner.ID, hh.Cmd)
		}
		if owner.Addr != "" {
			hh.Backend = owner.ID
		}
	}
	return s.backendFor(&hh)
}

// errLimit ends an iteration once a range request's limit is reached.
var errLimit = errors.New("range limit reached")

// handleRange serves READ_RANGE (read, or count with IONoData) and
// REMOVE_RANGE over [start, end) of one backend, in (ID, column) order.
// Removal runs outside the per-key queue (the range spans many keys), like
// a request with FlagNoLock: a write racing with it on the same key may
// land before or after.
func (s *Server) handleRange(ctx context.Context, req *Request, r Replier) ([][]byte, error) {
	rr, err := proto.DecodeRangeRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	if err := rr.Validate(); err != nil {
		return nil, err
	}
	b, st, err := s.localBackend(&req.Header)
	if err != nil {
		return nil, err
	}
	defer b.release()
	remove := req.Header.Cmd == proto.CmdRemoveRange
	if remove && b.ReadOnly() {
		return nil, status.Errorf(status.ReadOnly, "backend %d (group %d) is read-only", b.ID, b.Group)
	}
	var res proto.RangeResult
	if rr.Start == rr.End {
		return [][]byte{res.Append(nil)}, nil // an empty range: nothing to do
	}
	countOnly := !remove && rr.Flags.Has(proto.IONoData)
	err = st.Iterate(ctx, backend.IterateOptions{Start: rr.Start, End: rr.End.Prev()}, func(rec backend.Record) error {
		if backend.Reserved(rec.Column) {
			return nil // node-internal records: tombstones
		}
		if res.Skipped < rr.LimitStart {
			res.Skipped++
			return nil
		}
		if rr.LimitNum > 0 && res.Count >= rr.LimitNum {
			return errLimit
		}
		switch {
		case remove:
			err := st.Remove(ctx, rec.ID, backend.RemoveOptions{Column: rec.Column, OnlyColumn: true})
			if errors.Is(err, status.ErrNotFound) {
				return nil // removed meanwhile: not ours to count
			}
			if err != nil {
				return err
			}
			s.notifyRemove(b.Group, &rec.ID, rec.Column, time.Time{})
			if ttl := s.opts.Recovery.TombstoneTTL; ttl > 0 {
				now := time.Now().UTC()
				if err := backend.WriteTombstone(ctx, st, rec.ID, rec.Column, false, now, now.Add(ttl)); err != nil {
					return fmt.Errorf("record the tombstone of %s/%q: %w", rec.ID.Short(), rec.Column, err)
				}
			}
		case countOnly:
		default:
			var data []byte
			meta := rec.Meta
			if rr.Offset <= rec.Size {
				var err error
				data, meta, err = st.Read(ctx, rec.Key, rr.Offset, rr.Size)
				if errors.Is(err, status.ErrNotFound) {
					return nil // removed or expired since the scan
				}
				if err != nil {
					return err
				}
			}
			a := proto.IOAttr{Column: rec.Column, Offset: rr.Offset, Size: uint64(len(data)), TotalSize: meta.Size,
				Timestamp: meta.Timestamp, UserFlags: meta.UserFlags, Expire: meta.Expire}
			// A fresh head per entry: a queued frame keeps its parts until
			// the writer has sent it.
			if err := r.Send(proto.AppendRangeEntryHead(nil, rec.ID, &a), data); err != nil {
				return err
			}
		}
		res.Count++
		return nil
	})
	if err != nil && !errors.Is(err, errLimit) {
		return nil, err
	}
	return [][]byte{res.Append(nil)}, nil
}
