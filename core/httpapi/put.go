package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// put serves PUT: the body replaces the object. A body of at most a chunk
// is one write; a bigger one is a chunked upload (client.WriteFrom), a few
// chunks in memory at a time, invisible until its last chunk commits it. A
// body without a Content-Length (chunked transfer encoding) bigger than a
// chunk is spooled to a temporary file first, because an upload reserves
// its size at the first chunk.
func (h *Handler) put(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	if r.ContentLength > h.opts.MaxBody {
		writeError(w, r, http.StatusRequestEntityTooLarge, status.TooLarge,
			fmt.Sprintf("%s: body of %d bytes over the limit of %d", req.name, r.ContentLength, h.opts.MaxBody))
		return
	}
	cas, created, err := h.putCondition(ctx, r, req)
	if err != nil {
		fail(w, r, err)
		return
	}
	// One timestamp for every chunk and group: the object's version (its
	// ETag) is fixed when the request starts.
	sess := req.sess.Clone()
	sess.SetTimestamp(time.Now().UTC())
	ahead := 0
	if r.ContentLength > int64(h.opts.Chunk) {
		ahead = h.opts.Chunk // an upload: worth overlapping
	}
	body := newBodyReader(http.MaxBytesReader(w, r.Body, h.opts.MaxBody), http.NewResponseController(w),
		h.opts.IdleTimeout, ahead)
	res, err := h.write(ctx, sess, req, body, r.ContentLength, cas)
	body.stop()
	setGroupsHeader(w, res)
	if err != nil {
		fail(w, r, fmt.Errorf("PUT %s: %w", req.name, err))
		return
	}
	for _, e := range res.Entries {
		if e.OK() {
			setVersionHeaders(w, version{etag: etagOf(e.Timestamp, e.TotalSize), modified: e.Timestamp})
			break
		}
	}
	if created {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// write stores the body of length bytes (-1: unknown) under the key.
func (h *Handler) write(ctx context.Context, sess *client.Session, req *request, body io.Reader, length int64,
	cas *id.ID) (client.Result, error) {
	chunk := int64(h.opts.Chunk)
	if length > chunk {
		return sess.WriteFrom(ctx, req.key, body, uint64(length), client.StreamOptions{Chunk: h.opts.Chunk, CAS: cas})
	}
	if length >= 0 {
		// Known small: one buffer of the exact size.
		data := make([]byte, length)
		if _, err := io.ReadFull(body, data); err != nil {
			return client.Result{}, fmt.Errorf("read the body (%d bytes): %w", length, err)
		}
		return sess.WriteWith(ctx, req.key, data, client.WriteOptions{CAS: cas})
	}
	// Unknown: read at most a chunk and one byte more to tell.
	head, err := io.ReadAll(io.LimitReader(body, chunk+1))
	if err != nil {
		return client.Result{}, fmt.Errorf("read the body: %w", err)
	}
	if int64(len(head)) <= chunk {
		return sess.WriteWith(ctx, req.key, head, client.WriteOptions{CAS: cas})
	}
	return h.spooled(ctx, sess, req, io.MultiReader(bytes.NewReader(head), body), cas)
}

// spooled copies a body of unknown size to a temporary file and uploads it
// from there.
func (h *Handler) spooled(ctx context.Context, sess *client.Session, req *request, body io.Reader,
	cas *id.ID) (client.Result, error) {
	// The spool's own failures are the server's (500): status would read
	// a missing directory as a missing key.
	f, err := os.CreateTemp(h.opts.SpoolDir, "elliptics-http-put-*")
	if err != nil {
		return client.Result{}, status.Errorf(status.IOError, "spool a body of unknown length: %v", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	n, err := io.Copy(spoolWriter{f}, body)
	if err != nil {
		return client.Result{}, fmt.Errorf("spool the body to %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return client.Result{}, status.Errorf(status.IOError, "spool: rewind %s: %v", f.Name(), err)
	}
	return sess.WriteFrom(ctx, req.key, f, uint64(n), client.StreamOptions{Chunk: h.opts.Chunk, CAS: cas})
}

// spoolWriter marks the errors of writing the spool file as the server's,
// apart from those of reading the body (a client gone, a body too big).
type spoolWriter struct{ f *os.File }

func (w spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = status.Errorf(status.IOError, "%v", err)
	}
	return n, err
}

// putCondition maps the conditionals of a PUT to a compare-and-swap
// checksum (nil: unconditional) and reports whether the write is known to
// create the object. If-None-Match: * expects no value (the all-zero
// checksum, which no value has); If-Match looks the current version up,
// compares its ETag, and expects its checksum, so that a write racing in
// between makes the PUT fail with 412 rather than be overwritten. A failed
// precondition is status.ErrMismatch (412).
func (h *Handler) putCondition(ctx context.Context, r *http.Request, req *request) (*id.ID, bool, error) {
	im, inm := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	var cas *id.ID
	if im != "" {
		cur, err := req.sess.LookupWith(ctx, req.key, client.LookupOptions{Checksum: true})
		if errors.Is(err, status.ErrNotFound) {
			return nil, false, status.Errorf(status.Mismatch, "%s: If-Match: no current version", req.name)
		}
		if err != nil {
			return nil, false, fmt.Errorf("PUT %s: look up the current version: %w", req.name, err)
		}
		if tag := etagOf(cur.Timestamp, cur.TotalSize); !matchList(im, tag, false) {
			return nil, false, status.Errorf(status.Mismatch, "%s: If-Match: current version is %s", req.name, tag)
		}
		sum := cur.Checksum
		cas = &sum
	}
	switch {
	case inm == "":
	case inm == "*":
		if cas != nil {
			return nil, false, status.Errorf(status.Mismatch, "%s: If-None-Match: * but the object exists (If-Match)", req.name)
		}
		return &id.ID{}, true, nil
	default:
		// A list of tags: refuse if the current version is one of them.
		// There is no compare-and-swap for "anything but", so this check
		// and the write are not one step.
		cur, err := req.sess.Lookup(ctx, req.key)
		if err != nil && !errors.Is(err, status.ErrNotFound) {
			return nil, false, fmt.Errorf("PUT %s: look up the current version: %w", req.name, err)
		}
		if err == nil && matchList(inm, etagOf(cur.Timestamp, cur.TotalSize), true) {
			return nil, false, status.Errorf(status.Mismatch, "%s: If-None-Match: the current version matches", req.name)
		}
	}
	return cas, false, nil
}
