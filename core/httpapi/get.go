package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
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
// of the same version, and written out as it comes: memory stays at about
// one chunk.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	rangeHeader := r.Header.Get("Range")
	whole := r.Method == http.MethodGet && rangeHeader == ""
	var first client.Entry
	var err error
	if whole {
		first, err = req.sess.Read(ctx, req.key, 0, uint64(h.opts.Chunk))
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
		h.opts.Logger.Warn("http: reply cut short", zap.String("method", r.Method), zap.String("key", req.name),
			zap.Uint64("offset", part.start), zap.Uint64("length", part.length), zap.Error(err))
	}
}

// stream writes part of the object whose first read or lookup was first:
// data (already read, from the start of part) and then chunk after chunk
// read from first's group, each checked to belong to first's version.
func (h *Handler) stream(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, req *request, first client.Entry,
	part byteRange, data []byte) error {
	pin := req.sess.Clone()
	pin.SetGroups(first.Group)
	end := part.start + part.length
	pos := part.start
	for {
		if len(data) > 0 {
			data = data[:min(uint64(len(data)), end-pos)]
			_ = rc.SetWriteDeadline(time.Now().Add(h.opts.IdleTimeout))
			if _, err := w.Write(data); err != nil {
				return fmt.Errorf("write at byte %d: %w", pos, err)
			}
			pos += uint64(len(data))
		}
		if pos >= end {
			return nil
		}
		e, err := pin.Read(ctx, req.key, pos, min(uint64(h.opts.Chunk), end-pos))
		if err != nil {
			return fmt.Errorf("read at byte %d: %w", pos, err)
		}
		if e.TotalSize != first.TotalSize || !e.Timestamp.Equal(first.Timestamp) {
			return status.Errorf(status.Mismatch, "the object changed while read (size %d, now %d)", first.TotalSize, e.TotalSize)
		}
		if len(e.Data) == 0 {
			return status.Errorf(status.Protocol, "empty read at byte %d of %d", pos, first.TotalSize)
		}
		data = e.Data
	}
}
