package server

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/notify"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// NotifyKeepAlive is how often a watch on which nothing happened sends a
// keep-alive event: well inside a client's default wait timeout (5 s), so
// a watcher tells a quiet key from a dead node.
var NotifyKeepAlive = time.Second

// WatchStats returns the figures of the node's watch registry: watches,
// events queued, events dropped on full queues.
func (s *Server) WatchStats() notify.Stats { return s.watches.Stats() }

// handleNotify serves NOTIFY: a watch lives in its request, streaming
// events on its connection until dropped, until the connection closes or
// until the node stops; a drop ends a watch by id.
func (s *Server) handleNotify(_ context.Context, req *Request, r Replier) ([][]byte, error) {
	nr, err := proto.DecodeNotifyRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	if nr.Action == proto.NotifyDrop {
		if !s.watches.Drop(nr.WatchID) {
			return nil, status.Errorf(status.NotFound, "watch %d not found on this node (never started, or ended)", nr.WatchID)
		}
		return nil, nil
	}
	// Only the owner sees every change of the key; the backend is not held
	// open: a watch may last for days, and a disable waits for holders.
	b, _, err := s.localBackend(&req.Header)
	if err != nil {
		return nil, err
	}
	group := b.Group
	b.release()
	sub, ok := s.watches.Subscribe(notify.Key{ID: req.Header.ID, Group: group}, int(nr.Queue))
	if !ok {
		return nil, status.Errorf(status.ShuttingDown, "node shutting down")
	}
	defer sub.Close()
	log := s.log.With(zap.Uint64("watch", sub.ID()), zap.String("id", req.Header.ID.Short()), zap.Uint32("group", group),
		zap.Stringer("remote", req.Remote))
	log.Debug("watch started", zap.Uint32("queue", nr.Queue))
	defer log.Debug("watch ended")
	// Not the request's context: a watch outlives request_timeout, and
	// ends when the watcher's connection does.
	base := context.Background()
	if req.conn != nil {
		base = req.conn.ctx
	}
	started := proto.NotifyEvent{WatchID: sub.ID(), Kind: proto.NotifyStarted, Group: group}
	if err := r.Send(started.Append(nil)); err != nil {
		return nil, err
	}
	tick := time.NewTicker(NotifyKeepAlive)
	defer tick.Stop()
	lastSent := time.Now()
	var batch []notify.Event
	for {
		select {
		case <-sub.Ready():
			batch = sub.Take(batch[:0])
			for i := range batch {
				// Sending waits while the connection's writer queue is full:
				// meanwhile the watch's own queue fills and counts drops. A
				// queued frame keeps its bytes: one buffer per event.
				if err := r.Send(batch[i].Append(nil)); err != nil {
					return nil, err
				}
			}
			clear(batch) // let column strings go
			lastSent = time.Now()
		case <-tick.C:
			// The key may have moved to another node (a join, a leave):
			// its changes are served there now, so the watch must move
			// too. The watcher learns it from the final reply.
			if owner, remote := s.route(&req.Header); remote {
				return nil, status.Errorf(status.NoRoute, "watch %d: key %s of group %d moved to %s (backend %d): watch it there",
					sub.ID(), req.Header.ID.Short(), group, owner.Addr, owner.ID)
			}
			if time.Since(lastSent) < NotifyKeepAlive {
				continue
			}
			ka := proto.NotifyEvent{WatchID: sub.ID(), Kind: proto.NotifyKeepAlive, Group: group}
			if err := r.Send(ka.Append(nil)); err != nil {
				return nil, err
			}
			lastSent = time.Now()
		case <-sub.Done():
			if s.closing.Load() {
				return nil, status.Errorf(status.ShuttingDown, "node shutting down")
			}
			return nil, nil // dropped
		case <-base.Done():
			return nil, status.Errorf(status.Canceled, "watch %d: connection closed", sub.ID())
		}
	}
}

// notifyWrite tells the key's watchers of a committed write; meta is the
// column's after the write. It inlines to one atomic load when nothing is
// watched (BenchmarkNotifyWrite); publishWrite builds the event.
func (s *Server) notifyWrite(group uint32, key *backend.Key, meta *backend.Meta, rf proto.RecordFlags) {
	if s.watches.Watching() {
		s.publishWrite(group, key, meta, rf)
	}
}

func (s *Server) publishWrite(group uint32, key *backend.Key, meta *backend.Meta, rf proto.RecordFlags) {
	s.watches.Publish(notify.Key{ID: key.ID, Group: group}, notify.Event{Kind: proto.NotifyWrite, Group: group,
		Column: key.Column, Size: meta.Size, Timestamp: meta.Timestamp, UserFlags: meta.UserFlags, RecordFlags: rf})
}

// notifyRemove tells the key's watchers of a removal (column "" with
// whole set: the whole object) at ts (zero: now). Inlined like
// notifyWrite.
func (s *Server) notifyRemove(group uint32, oid *id.ID, column string, ts time.Time) {
	if s.watches.Watching() {
		s.publishRemove(group, oid, column, ts)
	}
}

func (s *Server) publishRemove(group uint32, oid *id.ID, column string, ts time.Time) {
	if ts.IsZero() {
		ts = time.Now().UTC()
	}
	s.watches.Publish(notify.Key{ID: *oid, Group: group}, notify.Event{Kind: proto.NotifyRemove, Group: group,
		Column: column, Timestamp: ts})
}
