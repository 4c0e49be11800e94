package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// get serves GET and HEAD. A GET of a whole object reads its first chunk
// at once (one round trip for a small object: the reply carries the size
// and timestamp the headers need); HEAD and ranged GETs look the object up
// first, since the range is cut against its size. The rest is read chunk
// by chunk from the group that answered first, each chunk checked to be
// of the same version, the next read while the current chunk goes out:
// memory stays at a few chunks whatever the object's size.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	rangeHeader := r.Header.Get("Range")
	whole := r.Method == http.MethodGet && rangeHeader == ""
	var first client.Entry
	var err error
	if whole {
		var buf *[]byte
		first, buf, err = h.read(ctx, req.sess, req.key, 0, uint64(h.opts.Chunk))
		// Back to the pool once the reply is out (or cut short).
		defer putBuf(buf)
	} else {
		first, err = req.sess.Lookup(ctx, req.key)
	}
	if err != nil {
		fail(w, r, fmt.Errorf("%s %s: %w", r.Method, req.name, err))
		return
	}
	size := first.TotalSize
	v := version{etag: etagOf(first.Timestamp, size), modified: first.Timestamp}
	if code := readPrecondition(r, v); code != 0 {
		setVersionHeaders(w, v)
		if code == http.StatusNotModified {
			w.WriteHeader(code)
			return
		}
		writeError(w, r, code, status.Mismatch, fmt.Sprintf("%s: precondition failed (current version %s)", req.name, v.etag))
		return
	}
	part := byteRange{length: size}
	ranged := false
	if rangeHeader != "" && rangeApplies(r, v) {
		var rerr error
		if part, ranged, rerr = parseRange(rangeHeader, size); rerr != nil {
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatUint(size, 10))
			writeError(w, r, http.StatusRequestedRangeNotSatisfiable, status.Invalid,
				fmt.Sprintf("%s: range %q: %v (the object has %d bytes)", req.name, rangeHeader, rerr, size))
			return
		}
		if !ranged {
			part = byteRange{length: size}
		}
	}
	hd := w.Header()
	setVersionHeaders(w, v)
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", strconv.FormatUint(part.length, 10))
	code := http.StatusOK
	if ranged {
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", part.start, part.start+part.length-1, size))
		code = http.StatusPartialContent
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(h.opts.IdleTimeout))
	w.WriteHeader(code)
	if r.Method == http.MethodHead || part.length == 0 {
		return
	}
	var data []byte
	if whole {
		data = first.Data
	}
	if err := h.stream(ctx, w, rc, req, first, part, data); err != nil {
		// The status line is out: all that is left is to cut the reply
		// short, which the client sees as a body shorter than its
		// Content-Length.
		// A client that hung up is not the node's problem: debug only.
		log := h.opts.Logger.Warn
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(ctx.Err(), context.Canceled) {
			log = h.opts.Logger.Debug
		}
		log("http: reply cut short", zap.String("method", r.Method), zap.String("key", req.name),
			zap.Uint64("offset", part.start), zap.Uint64("length", part.length), zap.Error(err))
	}
}

// stream writes part of the object whose first read or lookup was first:
// data (already read, from the start of part) and then the chunks
// readAhead reads from first's group. Reading the next chunk while the
// current one goes out overlaps the cluster's latency with the client's:
// memory is then about three chunks (one written, one waiting, one read).
func (h *Handler) stream(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, req *request, first client.Entry,
	part byteRange, data []byte) error {
	end := part.start + part.length
	pos := part.start
	if len(data) > 0 {
		data = data[:min(uint64(len(data)), part.length)]
		if err := h.writeChunk(w, rc, pos, data); err != nil {
			return err
		}
		pos += uint64(len(data))
	}
	if pos >= end {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	chunks := make(chan chunk, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.readAhead(ctx, req, first, pos, end, chunks)
	}()
	defer func() {
		cancel()
		<-done
	}()
	for c := range chunks {
		if c.err != nil {
			return c.err
		}
		err := h.writeChunk(w, rc, c.pos, c.data)
		putBuf(c.buf)
		if err != nil {
			return err
		}
	}
	return nil
}

// chunk is a piece of an object read by readAhead, or its error.
type chunk struct {
	pos  uint64
	data []byte
	buf  *[]byte // holds data, for putBuf once written; nil: not pooled
	err  error
}

// readAhead reads [pos, end) of first's version from first's group, chunk
// by chunk, into out, which it closes at the end or after the first error.
func (h *Handler) readAhead(ctx context.Context, req *request, first client.Entry, pos, end uint64, out chan<- chunk) {
	defer close(out)
	pin := req.sess.Clone()
	pin.SetGroups(first.Group)
	for pos < end {
		c := chunk{pos: pos}
		e, buf, err := h.read(ctx, pin, req.key, pos, min(uint64(h.opts.Chunk), end-pos))
		switch {
		case err != nil:
			c.err = fmt.Errorf("read at byte %d: %w", pos, err)
		case e.TotalSize != first.TotalSize || !e.Timestamp.Equal(first.Timestamp):
			c.err = status.Errorf(status.Mismatch, "the object changed while read (size %d, now %d)", first.TotalSize, e.TotalSize)
		case len(e.Data) == 0:
			c.err = status.Errorf(status.Protocol, "empty read at byte %d of %d", pos, first.TotalSize)
		default:
			c.data, c.buf = e.Data[:min(uint64(len(e.Data)), end-pos)], buf
		}
		select {
		case out <- c:
		case <-ctx.Done():
			putBuf(c.buf)
			return
		}
		if c.err != nil {
			return
		}
		pos += uint64(len(c.data))
	}
}

// writeChunk writes data, at pos of the object, to the client within the
// idle timeout.
func (h *Handler) writeChunk(w http.ResponseWriter, rc *http.ResponseController, pos uint64, data []byte) error {
	_ = rc.SetWriteDeadline(time.Now().Add(h.opts.IdleTimeout))
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write at byte %d: %w", pos, err)
	}
	return nil
}
