package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// ownerCheck is how often a group's watch compares its node with the
// owner the route table names now.
const ownerCheck = time.Second

// errOwnerMoved ends a group's watch whose key the route table now gives
// to another node.
var errOwnerMoved = errors.New("the key moved to another owner")

// groupWatch is one group's watch on one node.
type groupWatch struct {
	w     *Watcher
	g     uint32
	addr  string
	st    *stream
	id    uint64 // the watch's id on addr
	relay hop
	once  sync.Once // stop
}

// run keeps the group's watch established until the Watcher ends: it
// reports the outcome of the first attempt on first, then emits
// WatchStarted each time a watch is established and WatchLost each time
// one ends, retrying with exponential backoff.
func (w *Watcher) run(g uint32, first chan<- error) {
	defer w.wg.Done()
	delay := w.opts.RetryMin
	lost := false
	for w.ctx.Err() == nil {
		gw, err := w.establish(g)
		if first != nil {
			first <- err
			first = nil
		}
		if err != nil {
			if !lost {
				// One WatchLost per outage, not one per attempt.
				lost = true
				if !w.emit(WatchEvent{Kind: WatchLost, ID: w.oid, Group: g, Err: err}) {
					return
				}
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-w.ctx.Done():
				t.Stop()
				return
			}
			delay = min(2*delay, w.opts.RetryMax)
			continue
		}
		delay, lost = w.opts.RetryMin, false
		if !w.emit(WatchEvent{Kind: WatchStarted, ID: w.oid, Group: g, Address: gw.addr}) {
			gw.stop()
			return
		}
		err = gw.pump()
		gw.stop()
		if w.ctx.Err() != nil {
			return
		}
		lost = true
		w.s.node.cfg.Logger.Info("watch lost, establishing it again", zap.String("id", w.oid.Short()), zap.Uint32("group", g),
			zap.String("address", gw.addr), zap.Error(err))
		if !w.emit(WatchEvent{Kind: WatchLost, ID: w.oid, Group: g, Address: gw.addr, Err: err}) {
			return
		}
	}
}

// establish opens a stream to the key's owner in group g and starts the
// watch there; it returns once the node named the watch.
func (w *Watcher) establish(g uint32) (*groupWatch, error) {
	s := w.s
	owner, ok := s.node.Table().Owner(w.oid, g)
	if !ok {
		return nil, status.Errorf(status.NoRoute, "watch: no known node serves group %d", g)
	}
	// The owner may be out of reach (a Proxy client, NAT): then the stream
	// goes to a node that relays it, events included.
	dctx, cancel := context.WithTimeout(w.ctx, s.timeout)
	hp, err := s.node.hopTo(dctx, owner.Addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("watch in group %d on %s: %w", g, owner.Addr, err)
	}
	// Not the watcher's context: Close must still send the drop on the
	// stream before closing it (stop).
	st, err := s.node.openStream(context.WithoutCancel(w.ctx), hp.c.addr, w.opts.IdleTimeout)
	if err != nil {
		return nil, fmt.Errorf("watch in group %d on %s: %w", g, owner.Addr, err)
	}
	gw := &groupWatch{w: w, g: g, addr: owner.Addr, st: st, relay: hp}
	// Closing the watch while the first reply is awaited ends the wait.
	stopWait := context.AfterFunc(w.ctx, st.close)
	defer stopWait()
	nr := proto.NotifyRequest{Action: proto.NotifyWatch, Queue: uint32(w.opts.Queue)}
	h, payload := hp.wrap(s.header(proto.CmdNotify, w.oid, g), nr.Append(nil))
	if err := st.send(h, payload); err != nil {
		st.close()
		return nil, fmt.Errorf("watch in group %d on %s: %w", g, owner.Addr, err)
	}
	rh, body, err := st.recv()
	var ev proto.NotifyEvent
	if err == nil {
		ev, err = proto.DecodeNotifyEvent(body)
	}
	if err == nil && (rh.IsFinal() || ev.Kind != proto.NotifyStarted) {
		err = status.Errorf(status.Protocol, "watch: the node answered %s, not started", ev.Kind)
	}
	if err != nil {
		st.close()
		return nil, fmt.Errorf("watch in group %d on %s: %w", g, owner.Addr, err)
	}
	gw.id = ev.WatchID
	return gw, nil
}

// pump reads the watch's events until the stream fails, the node ends the
// watch, the key moves to another owner or the Watcher ends.
func (gw *groupWatch) pump() error {
	w := gw.w
	stopOnClose := context.AfterFunc(w.ctx, gw.stop)
	defer stopOnClose()
	lastCheck := time.Now()
	for {
		rh, body, err := gw.st.recv()
		if err != nil {
			return err
		}
		if rh.IsFinal() {
			return status.Errorf(status.Canceled, "the node ended the watch")
		}
		ev, err := proto.DecodeNotifyEvent(body)
		if err != nil {
			return err
		}
		if time.Since(lastCheck) >= ownerCheck {
			lastCheck = time.Now()
			if o, ok := w.s.node.Table().Owner(w.oid, gw.g); ok && o.Addr != gw.addr {
				return fmt.Errorf("%w (%s, was %s)", errOwnerMoved, o.Addr, gw.addr)
			}
		}
		out, ok := gw.event(&ev)
		if !ok {
			continue
		}
		if !w.emit(out) {
			return w.ctx.Err()
		}
	}
}

// event converts a node's event; false for those a reader does not see
// (keep-alives, other columns).
func (gw *groupWatch) event(ev *proto.NotifyEvent) (WatchEvent, bool) {
	out := WatchEvent{ID: gw.w.oid, Group: gw.g, Address: gw.addr, Column: ev.Column, Size: ev.Size,
		Timestamp: ev.Timestamp, UserFlags: ev.UserFlags, RecordFlags: ev.RecordFlags, Missed: ev.Missed}
	switch ev.Kind {
	case proto.NotifyWrite:
		out.Kind = WatchWrite
	case proto.NotifyRemove:
		out.Kind = WatchRemove
	case proto.NotifyMissed:
		return WatchEvent{Kind: WatchMissed, ID: gw.w.oid, Group: gw.g, Address: gw.addr, Missed: ev.Missed}, true
	default:
		return out, false
	}
	if col := gw.w.key.Column; col != "" && ev.Column != col && !(out.Kind == WatchRemove && ev.Column == "") {
		if ev.Missed == 0 {
			return out, false
		}
		// Another column's event, but the count of dropped ones is news.
		return WatchEvent{Kind: WatchMissed, ID: gw.w.oid, Group: gw.g, Address: gw.addr, Missed: ev.Missed}, true
	}
	return out, true
}

// stop tells the node to drop the watch, best effort, and closes the
// stream (closing alone also ends it, once the node notices).
func (gw *groupWatch) stop() { gw.once.Do(gw.drop) }

func (gw *groupWatch) drop() {
	nr := proto.NotifyRequest{Action: proto.NotifyDrop, WatchID: gw.id}
	h, payload := gw.relay.wrap(gw.w.s.header(proto.CmdNotify, gw.w.oid, gw.g), nr.Append(nil))
	// A transaction of its own, written directly: the stream's reader may
	// be in recv; the drop's reply is never read.
	h.Trans = 1 << 62
	_ = gw.st.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = gw.st.nc.Write(proto.AppendFrame(nil, h, payload))
	gw.st.close()
}
