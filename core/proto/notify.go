package proto

import (
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// NotifyAction is what a NOTIFY request asks.
type NotifyAction uint32

const (
	// NotifyWatch subscribes to the header's key in the header's group; the
	// request lives until dropped, streaming one NotifyEvent (flag More)
	// per event.
	NotifyWatch NotifyAction = 1
	// NotifyDrop ends the watch named by NotifyRequest.WatchID (from any
	// connection); the watch's stream then gets its final reply.
	NotifyDrop NotifyAction = 2
)

// MaxNotifyQueue bounds the queue a watcher may ask for.
const MaxNotifyQueue = 1 << 16

// NotifyRequestSize is the size of an encoded NotifyRequest.
const NotifyRequestSize = 16

// NotifyRequest is the payload of NOTIFY (the original's dnet_io_attr with
// ATTR_DROP_NOTIFICATION, made explicit).
//
//	off size field
//	  0    4 action (1 watch, 2 drop)
//	  4    4 queue: events the node queues for this watcher (watch; 0 = the node's default, <= 65536)
//	  8    8 watch id (drop; 0 in a watch)
type NotifyRequest struct {
	Action  NotifyAction
	Queue   uint32
	WatchID uint64
}

// Append appends the encoding of r to dst.
func (r *NotifyRequest) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.u32(uint32(r.Action))
	e.u32(r.Queue)
	e.u64(r.WatchID)
	return e.b
}

// DecodeNotifyRequest parses a NOTIFY payload and checks its fields.
func DecodeNotifyRequest(b []byte) (NotifyRequest, error) {
	d := dec{b: b, what: "notify request"}
	r := NotifyRequest{Action: NotifyAction(d.u32()), Queue: d.u32(), WatchID: d.u64()}
	if err := d.done(); err != nil {
		return r, err
	}
	switch r.Action {
	case NotifyWatch:
		if r.Queue > MaxNotifyQueue {
			return r, status.Errorf(status.TooLarge, "notify request: queue of %d events over the limit of %d", r.Queue, MaxNotifyQueue)
		}
	case NotifyDrop:
		if r.WatchID == 0 {
			return r, status.Errorf(status.Invalid, "notify request: drop without a watch id")
		}
	default:
		return r, status.Errorf(status.Invalid, "notify request: unknown action %d", r.Action)
	}
	return r, nil
}

// NotifyKind says what a NotifyEvent reports.
type NotifyKind uint32

const (
	NotifyWrite  NotifyKind = 1 // a write, append or commit changed the key
	NotifyRemove NotifyKind = 2 // the key (or a column) was removed
	// NotifyMissed: only a marker; the node dropped Missed events because
	// the watcher's queue was full.
	NotifyMissed NotifyKind = 3
	// NotifyKeepAlive is sent when nothing happened for a while, so the
	// watcher can tell a quiet key from a dead node.
	NotifyKeepAlive NotifyKind = 4
	// NotifyStarted is the first reply of a watch: the node registered it
	// (events from now on are reported) and names it (WatchID).
	NotifyStarted NotifyKind = 5
)

func (k NotifyKind) String() string {
	switch k {
	case NotifyWrite:
		return "write"
	case NotifyRemove:
		return "remove"
	case NotifyMissed:
		return "missed"
	case NotifyKeepAlive:
		return "keep-alive"
	case NotifyStarted:
		return "started"
	}
	return "unknown"
}

// NotifyEventSize is the fixed part of an encoded NotifyEvent; the column
// name follows.
const NotifyEventSize = 66

// NotifyEvent is one reply of a watch. The key ID is the reply header's.
//
//	off size field
//	  0    8 watch id
//	  8    4 kind (1 write, 2 remove, 3 missed marker, 4 keep-alive, 5 started)
//	 12    4 group
//	 16    8 size: the column's size after a write (0 for a remove)
//	 24    8 timestamp seconds (the record's, or the remove's time)
//	 32    8 timestamp nanoseconds
//	 40    8 user flags
//	 48    8 record flags (RecordAppend, RecordUncommitted)
//	 56    8 missed: events dropped just before this one (queue full)
//	 64    2 column name length (<= 255), name follows
type NotifyEvent struct {
	WatchID     uint64
	Kind        NotifyKind
	Group       uint32
	Size        uint64
	Timestamp   time.Time
	UserFlags   uint64
	RecordFlags RecordFlags
	Missed      uint64
	Column      string
}

// Append appends the encoding of e to dst; a column over MaxColumnLen is cut.
func (e *NotifyEvent) Append(dst []byte) []byte {
	col := truncate(e.Column, MaxColumnLen)
	en := enc{b: dst}
	en.u64(e.WatchID)
	en.u32(uint32(e.Kind))
	en.u32(e.Group)
	en.u64(e.Size)
	sec, nsec := timeToWire(e.Timestamp)
	en.u64(sec)
	en.u64(nsec)
	en.u64(e.UserFlags)
	en.u64(uint64(e.RecordFlags))
	en.u64(e.Missed)
	en.str16(col)
	return en.b
}

// DecodeNotifyEvent parses a NotifyEvent.
func DecodeNotifyEvent(b []byte) (NotifyEvent, error) {
	d := dec{b: b, what: "notify event"}
	var e NotifyEvent
	e.WatchID = d.u64()
	e.Kind = NotifyKind(d.u32())
	e.Group = d.u32()
	e.Size = d.u64()
	sec, nsec := d.u64(), d.u64()
	e.UserFlags = d.u64()
	e.RecordFlags = RecordFlags(d.u64())
	e.Missed = d.u64()
	e.Column = d.str16(MaxColumnLen)
	if err := d.done(); err != nil {
		return e, err
	}
	if e.Kind < NotifyWrite || e.Kind > NotifyStarted {
		return e, status.Errorf(status.Protocol, "notify event: unknown kind %d", e.Kind)
	}
	var err error
	e.Timestamp, err = timeFromWire(sec, nsec)
	return e, err
}

// NotifyKey names what a watch watches: a key in one group.
type NotifyKey struct {
	ID    id.ID
	Group uint32
}
