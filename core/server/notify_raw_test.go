package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

func notifyFrame(trans uint64, k string, group uint32, r proto.NotifyRequest) (proto.Header, []byte) {
	return proto.NewHeader(proto.CmdNotify, trans, key(k), group), r.Append(nil)
}

// recvEvent reads the next NOTIFY reply of trans as an event.
func (c *rawConn) recvEvent(trans uint64) (proto.Header, proto.NotifyEvent) {
	c.t.Helper()
	for {
		h, p := c.recv()
		if h.Trans != trans {
			continue
		}
		if h.IsFinal() {
			return h, proto.NotifyEvent{}
		}
		ev, err := proto.DecodeNotifyEvent(p)
		require.NoError(c.t, err)
		return h, ev
	}
}

// TestNotifyRaw drives NOTIFY frame by frame: the started reply, an event
// with the key in the header, keep-alives, a drop from another connection
// ending the stream, refusals.
func TestNotifyRaw(t *testing.T) {
	old := NotifyKeepAlive
	NotifyKeepAlive = 50 * time.Millisecond
	t.Cleanup(func() { NotifyKeepAlive = old })
	s := startServer(t, nil, nil)
	a := dialRaw(t, s)
	h, p := notifyFrame(1, "k", 1, proto.NotifyRequest{Action: proto.NotifyWatch, Queue: 8})
	a.send(h, p)
	rh, ev := a.recvEvent(1)
	require.True(t, rh.Flags.Has(proto.FlagMore))
	require.Equal(t, proto.NotifyStarted, ev.Kind)
	require.NotZero(t, ev.WatchID)
	watchID := ev.WatchID

	b := dialRaw(t, s)
	wh, parts := writeFrame(1, "k", 1, "hello", 0)
	b.send(wh, parts...)
	rep, _ := b.recv()
	require.Equal(t, status.OK, rep.Status)
	rh, ev = a.recvEvent(1)
	require.Equal(t, key("k"), rh.ID, "the key is the header's")
	require.Equal(t, proto.NotifyWrite, ev.Kind)
	require.Equal(t, uint64(5), ev.Size)
	require.Equal(t, uint32(1), ev.Group)
	require.Equal(t, watchID, ev.WatchID)
	_, ev = a.recvEvent(1)
	require.Equal(t, proto.NotifyKeepAlive, ev.Kind)

	// Refusals: unknown watch, drop without id, a group the node lacks.
	h, p = notifyFrame(2, "k", 1, proto.NotifyRequest{Action: proto.NotifyDrop, WatchID: watchID + 100})
	b.send(h, p)
	rep, _ = b.recv()
	require.Equal(t, status.NotFound, rep.Status)
	h, p = notifyFrame(3, "k", 1, proto.NotifyRequest{Action: proto.NotifyDrop})
	b.send(h, p)
	rep, _ = b.recv()
	require.Equal(t, status.Invalid, rep.Status)
	h, p = notifyFrame(4, "k", 9, proto.NotifyRequest{Action: proto.NotifyWatch})
	b.send(h, p)
	rep, _ = b.recv()
	require.Equal(t, status.NoRoute, rep.Status)
	require.Equal(t, 1, s.WatchStats().Watches)

	// A drop from another connection ends the watch: its final reply is OK.
	h, p = notifyFrame(5, "k", 1, proto.NotifyRequest{Action: proto.NotifyDrop, WatchID: watchID})
	b.send(h, p)
	rep, _ = b.recv()
	require.Equal(t, status.OK, rep.Status)
	for {
		rh, _ = a.recvEvent(1)
		if rh.IsFinal() {
			break
		}
	}
	require.Equal(t, status.OK, rh.Status)
	require.Equal(t, 0, s.WatchStats().Watches)

	// Shutdown ends a watch with ShuttingDown.
	h, p = notifyFrame(6, "k", 1, proto.NotifyRequest{Action: proto.NotifyWatch})
	a.send(h, p)
	_, ev = a.recvEvent(6)
	require.Equal(t, proto.NotifyStarted, ev.Kind)
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	for {
		rh, _ = a.recvEvent(6)
		if rh.IsFinal() {
			break
		}
	}
	require.Equal(t, status.ShuttingDown, rh.Status)
	require.NoError(t, <-done)
}
