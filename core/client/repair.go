package client

import (
	"bytes"
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Read repair: a read that tried the session's groups in turn and found
// the object only in a later group rewrites the earlier groups that said
// "not found", in the background; ReadLatest also rewrites the groups that
// hold an older version. Only whole-object reads repair (a range holds
// too little to rewrite the object), the rewrite keeps the object's
// timestamp, user flags and expiry, and it never replaces a newer copy
// (CAS by timestamp). Repairs run at most maxRepairs at a time per Node;
// a read that finds every slot taken skips its repair (counted in
// ReadRepairs), so a burst of reads never queues unbounded work.

const maxRepairs = 16

// repairTimeout bounds one background rewrite.
const repairTimeout = 30 * time.Second

// SetReadRepair turns read repair on (the default) or off for the session.
func (s *Session) SetReadRepair(on bool) { s.noReadRepair = !on }

// ReadRepair reports whether the session's reads repair replicas.
func (s *Session) ReadRepair() bool { return !s.noReadRepair }

// ReadRepairs returns how many groups reads of this node have rewritten,
// how many rewrites failed (a newer copy kept counts as neither), and how
// many were skipped because too many ran already.
func (n *Node) ReadRepairs() (done, failed, skipped uint64) {
	return n.repaired.Load(), n.repairFailed.Load(), n.repairSkipped.Load()
}

// repair rewrites e (a whole-object read) to the groups that lack it or
// hold an older version.
func (s *Session) repair(oid id.ID, e Entry, groups []uint32) {
	if s.noReadRepair || len(groups) == 0 || e.Offset != 0 || uint64(len(e.Data)) != e.TotalSize {
		return
	}
	var ttl time.Duration
	if !e.Expire.IsZero() {
		if ttl = time.Until(e.Expire); ttl <= 0 {
			return
		}
	}
	n := s.node
	select {
	case n.repairSlots <- struct{}{}:
	default:
		n.repairSkipped.Add(uint64(len(groups)))
		return
	}
	w := s.Clone()
	w.groups = groups
	w.timestamp, w.userFlags = e.Timestamp, e.UserFlags
	w.checker = CheckAtLeastOne
	data := bytes.Clone(e.Data) // the caller owns e.Data
	go func() {
		defer func() { <-n.repairSlots }()
		ctx, cancel := context.WithTimeout(context.Background(), repairTimeout)
		defer cancel()
		res, _ := w.WriteWith(ctx, RawKey(oid).WithColumn(e.Column), data, WriteOptions{TTL: ttl, CASTimestamp: true})
		for _, r := range res.Entries {
			switch {
			case r.OK():
				n.repaired.Add(1)
			case r.Status == status.Mismatch:
				// A newer copy arrived meanwhile: nothing to repair.
			default:
				n.repairFailed.Add(1)
				n.log.Debug("read repair failed", zap.Uint32("group", r.Group), zap.String("id", oid.Short()), zap.Error(r.Err))
			}
		}
	}()
}
