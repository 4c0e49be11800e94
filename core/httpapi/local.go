package httpapi

import (
	"context"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
)

// LocalReader reads objects stored by the node the handler runs inside
// (ellipticsd's *server.Server): a read of a key that node owns skips the
// round trip through a connection to itself, which for a large object
// costs two copies of the value and a buffer.
type LocalReader interface {
	// ReadLocal serves a READ of oid in group g as the node would serve
	// it from a client (a is the request's attr), with the data the
	// backend read and verified. Any error, including a key this node
	// does not own in g, sends the read to the cluster instead.
	ReadLocal(ctx context.Context, oid id.ID, g uint32, a proto.IOAttr) (proto.IOAttr, []byte, error)
}

// read is sess.Read of key, served by Options.Local when the node it
// runs inside owns the key in the first group of sess. That is the group
// the session asks first (the local node is also the lowest-latency one);
// when the local read fails for any reason the session reads as it always
// does, trying every group and repairing those that miss the key, so the
// outcome is the session's own.
func (h *Handler) read(ctx context.Context, sess *client.Session, key client.Key, offset, size uint64) (client.Entry, error) {
	if e, ok := h.readLocal(ctx, sess, key, offset, size); ok {
		return e, nil
	}
	return sess.Read(ctx, key, offset, size)
}

func (h *Handler) readLocal(ctx context.Context, sess *client.Session, key client.Key, offset, size uint64) (client.Entry, bool) {
	if h.opts.Local == nil {
		return client.Entry{}, false
	}
	groups := sess.Groups()
	if len(groups) == 0 {
		return client.Entry{}, false
	}
	oid, err := sess.ID(key)
	if err != nil {
		return client.Entry{}, false
	}
	a := proto.IOAttr{Flags: sess.IOFlags(), Column: key.Column, Offset: offset, Size: size}
	// The session's timeout bounds each of its replies; the same for the
	// local read, which may wait behind writes of the key.
	ctx, cancel := context.WithTimeout(ctx, sess.Timeout())
	defer cancel()
	ra, data, err := h.opts.Local.ReadLocal(ctx, oid, groups[0], a)
	if err != nil {
		return client.Entry{}, false
	}
	return client.Entry{Group: groups[0], ID: oid, Column: ra.Column, Offset: ra.Offset, Size: ra.Size,
		TotalSize: ra.TotalSize, Timestamp: ra.Timestamp, UserFlags: ra.UserFlags, RecordFlags: ra.RecordFlags,
		Expire: ra.Expire, Data: data}, true
}
