package httpapi

import (
	"context"
	"math/bits"
	"sync"

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
	// backend read and verified, in alloc(n) when the backend can. Any
	// error, including a key this node does not own in g, sends the read
	// to the cluster instead; after an error the buffer alloc gave must
	// not be reused.
	ReadLocal(ctx context.Context, oid id.ID, g uint32, a proto.IOAttr, alloc func(n int) []byte) (proto.IOAttr, []byte, error)
}

// read is sess.Read of key, served by Options.Local when the node it
// runs inside owns the key in the first group of sess. That is the group
// the session asks first (the local node is also the lowest-latency one);
// when the local read fails for any reason the session reads as it always
// does, trying every group and repairing those that miss the key, so the
// outcome is the session's own. buf, when not nil, holds the entry's data
// and goes back to the pool (putBuf) once the data is written.
func (h *Handler) read(ctx context.Context, sess *client.Session, key client.Key, offset, size uint64) (e client.Entry, buf *[]byte, err error) {
	if e, buf, ok := h.readLocal(ctx, sess, key, offset, size); ok {
		return e, buf, nil
	}
	e, err = sess.Read(ctx, key, offset, size)
	return e, nil, err
}

func (h *Handler) readLocal(ctx context.Context, sess *client.Session, key client.Key, offset, size uint64) (client.Entry, *[]byte, bool) {
	if h.opts.Local == nil {
		return client.Entry{}, nil, false
	}
	groups := sess.Groups()
	if len(groups) == 0 {
		return client.Entry{}, nil, false
	}
	oid, err := sess.ID(key)
	if err != nil {
		return client.Entry{}, nil, false
	}
	a := proto.IOAttr{Flags: sess.IOFlags(), Column: key.Column, Offset: offset, Size: size}
	// The session's timeout bounds each of its replies; the same for the
	// local read, which may wait behind writes of the key.
	ctx, cancel := context.WithTimeout(ctx, sess.Timeout())
	defer cancel()
	// Written by the node's goroutine that reads, before ReadLocal's
	// reply; read only after a successful one.
	var buf *[]byte
	alloc := func(n int) []byte {
		buf = getBuf(n)
		return (*buf)[:n]
	}
	ra, data, err := h.opts.Local.ReadLocal(ctx, oid, groups[0], a, alloc)
	if err != nil {
		// buf, if any, is dropped: the read may still write into it.
		return client.Entry{}, nil, false
	}
	return client.Entry{Group: groups[0], ID: oid, Column: ra.Column, Offset: ra.Offset, Size: ra.Size,
		TotalSize: ra.TotalSize, Timestamp: ra.Timestamp, UserFlags: ra.UserFlags, RecordFlags: ra.RecordFlags,
		Expire: ra.Expire, Data: data}, buf, true
}

// Read buffers are pooled by size class, powers of two from minPooled
// to maxPooled: a 1 MiB GET reuses one instead of allocating and zeroing
// it (the zeroing and the garbage cost as much as the checksum).
const (
	minPooledShift = 16 // 64 KiB: smaller reads allocate, which is cheap
	maxPooledShift = 23 // 8 MiB: two default chunks
)

var bufPools [maxPooledShift - minPooledShift + 1]sync.Pool

// poolClass is the class of a buffer of n bytes, -1 if not pooled.
func poolClass(n int) int {
	if n <= 1<<(minPooledShift-1) || n > 1<<maxPooledShift {
		return -1
	}
	return max(bits.Len(uint(n-1)), minPooledShift) - minPooledShift
}

// getBuf returns a buffer of at least n bytes, from the pool when n is
// of a pooled size.
func getBuf(n int) *[]byte {
	c := poolClass(n)
	if c < 0 {
		b := make([]byte, n)
		return &b
	}
	if b, ok := bufPools[c].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 1<<(c+minPooledShift))
	return &b
}

// putBuf returns a buffer of getBuf to the pool; nil is allowed.
func putBuf(b *[]byte) {
	if b == nil {
		return
	}
	if c := poolClass(cap(*b)); c >= 0 && cap(*b) == 1<<(c+minPooledShift) {
		*b = (*b)[:cap(*b)]
		bufPools[c].Put(b)
	}
}
