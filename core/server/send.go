package server

import (
	"context"
	"errors"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Server-send (SEND, and ITERATOR of type server-send): the node reads its
// own records and writes them to other groups itself, so a recovery moves
// data between nodes without passing it through the client. A destination
// backend on this node is written directly; one on another node through
// the node's peer connections with an ordinary WRITE. Unless asked to
// overwrite, each write carries IOCASTimestamp, so newer data at the
// destination is kept and the key's result is status.Mismatch.

// handleSend serves SEND: copy (or move) the listed records of the addressed
// backend to the groups, one result per key and group.
func (s *Server) handleSend(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	sr, err := proto.DecodeSendRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	if len(sr.Groups) == 0 {
		return nil, status.Errorf(status.Invalid, "send: no destination group")
	}
	b, st, err := s.localBackend(&req.Header)
	if err != nil {
		return nil, err
	}
	defer b.release()
	for _, g := range sr.Groups {
		if g == b.Group {
			return nil, status.Errorf(status.Invalid, "send: destination group %d is the source backend's own group", g)
		}
	}
	if sr.Flags.Has(proto.IterMove) && b.ReadOnly() {
		return nil, status.Errorf(status.ReadOnly, "backend %d (group %d) is read-only: cannot move records off it", b.ID, b.Group)
	}
	out := make([]proto.SendResult, 0, len(sr.Keys)*len(sr.Groups))
	for _, k := range sr.Keys {
		out = append(out, s.copyRecord(ctx, b, st, backend.Key{ID: k.ID, Column: k.Column}, sr.Groups, sr.Flags)...)
	}
	return [][]byte{proto.AppendSendResults(nil, out)}, nil
}

// copyRecord copies one record of src to every group and, with IterMove,
// removes it once every copy succeeded. A record that is missing, expired
// or an uncommitted upload is not sent (NotFound for each group).
func (s *Server) copyRecord(ctx context.Context, src *Backend, st backend.Backend, key backend.Key,
	groups []uint32, flags proto.IteratorFlags) []proto.SendResult {
	out := make([]proto.SendResult, len(groups))
	for i, g := range groups {
		out[i] = proto.SendResult{ID: key.ID, Column: key.Column, Group: g}
	}
	fail := func(err error) []proto.SendResult {
		for i := range out {
			if out[i].Status == status.OK {
				out[i].Status = status.FromError(err)
			}
		}
		return out
	}
	data, meta, err := st.Read(ctx, key, 0, 0)
	if err != nil {
		return fail(err)
	}
	ok := true
	for i, g := range groups {
		if err := s.writeCopy(ctx, key, g, data, meta, flags.Has(proto.IterOverwrite)); err != nil {
			out[i].Status = status.FromError(err)
			ok = false
		}
	}
	if ok && flags.Has(proto.IterMove) {
		err := st.Remove(ctx, key.ID, backend.RemoveOptions{Column: key.Column, OnlyColumn: true})
		if err != nil && !errors.Is(err, status.ErrNotFound) {
			// Copied but not moved: the key's results say so.
			return fail(err)
		}
		if err == nil {
			s.notifyRemove(src.Group, &key.ID, key.Column, time.Time{})
		}
	}
	return out
}

// writeCopy writes one record to its owner in group g, keeping its
// timestamp, user flags and expiry.
func (s *Server) writeCopy(ctx context.Context, key backend.Key, g uint32, data []byte, meta backend.Meta, overwrite bool) error {
	var ttl time.Duration
	if !meta.Expire.IsZero() {
		if ttl = time.Until(meta.Expire); ttl <= 0 {
			return status.Errorf(status.NotFound, "record expired before it was sent")
		}
	}
	owner, known := s.Table().Owner(key.ID, g)
	if known && owner.Addr != s.cluster.peers.Self() {
		sess := client.NewSession(s.cluster.peers)
		sess.SetGroups(g)
		sess.SetTimestamp(meta.Timestamp)
		sess.SetUserFlags(meta.UserFlags)
		sess.SetTimeout(s.opts.RequestTimeout)
		_, err := sess.WriteWith(ctx, client.RawKey(key.ID).WithColumn(key.Column), data,
			client.WriteOptions{TTL: ttl, CASTimestamp: !overwrite})
		return err
	}
	// The owner is a backend of this node (or the group has no ring
	// points known and this node serves it).
	h := proto.Header{Group: g, Backend: -1}
	if known {
		h.Backend = owner.ID
	}
	b, dst, err := s.backendFor(&h)
	if err != nil {
		return err
	}
	defer b.release()
	dst = s.notifying(dst, b.Group)
	if b.ReadOnly() {
		return status.Errorf(status.ReadOnly, "backend %d (group %d) is read-only", b.ID, b.Group)
	}
	// In the key's queue, so no client write lands between the check and
	// the write (and is then overwritten by this older copy).
	return s.withKey(ctx, key.ID, func() error {
		if !overwrite {
			cond := backend.Condition{NotOlder: true, Timestamp: meta.Timestamp}
			if err := cond.Check(ctx, dst, key); err != nil {
				return err
			}
		}
		_, err := dst.Write(ctx, &backend.WriteRequest{Key: key, Data: data, Timestamp: meta.Timestamp,
			UserFlags: meta.UserFlags, Expire: meta.Expire})
		return err
	})
}
