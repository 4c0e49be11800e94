package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/client"
)

// An object is a metadata record plus immutable data blobs:
//
//   - The record (namespace "s3m/<bucket id>", key = the object key) holds
//     size, ETag, mtime, content type, the x-amz-meta-* and other stored
//     headers, and the list of the object's data blobs with their sizes
//     (one for PutObject and CopyObject, one per part for a completed
//     multipart upload).
//   - Each blob is a cluster object of namespace "s3d/<bucket id>" under a
//     fresh random key ("d/<hex>"), written once with client.WriteFrom
//     (a chunked upload: bounded memory, invisible until committed).
//
// A PUT writes the new blob, then swaps the record by CAS (so a reader sees
// the old object or the new one, never a mix), then removes the old blobs
// and updates the listing index.

type blobRef struct {
	D string `json:"d"`
	S int64  `json:"s"`
}

type objMeta struct {
	Size    int64             `json:"size"`
	ETag    string            `json:"etag"`
	Mod     time.Time         `json:"mod"`
	Type    string            `json:"type,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Blobs   []blobRef         `json:"blobs"`
	key     string            // set by copySource
}

// storedHeaders are the request headers kept with an object and returned
// by GET and HEAD.
var storedHeaders = []string{"Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

// metaFromRequest takes content type, user metadata and stored headers
// from a request.
func metaFromRequest(r *http.Request) objMeta {
	m := objMeta{Type: r.Header.Get("Content-Type")}
	if m.Type == "" {
		m.Type = "binary/octet-stream"
	}
	for k, v := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-meta-") {
			if m.Meta == nil {
				m.Meta = map[string]string{}
			}
			m.Meta[lk] = strings.Join(v, ",")
		}
	}
	for _, k := range storedHeaders {
		if v := r.Header.Get(k); v != "" {
			if k == "Content-Encoding" && v == "aws-chunked" {
				continue
			}
			if m.Headers == nil {
				m.Headers = map[string]string{}
			}
			m.Headers[k] = strings.TrimPrefix(strings.TrimPrefix(v, "aws-chunked,"), "aws-chunked")
		}
	}
	return m
}

// md5Reader computes the MD5 of what passes; with want set, the read that
// returns the last of size bytes fails if the digest differs.
type md5Reader struct {
	r    io.Reader
	h    hash.Hash
	left int64
	want []byte
}

func (m *md5Reader) Read(p []byte) (int, error) {
	if m.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > m.left {
		p = p[:m.left]
	}
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	m.left -= int64(n)
	if m.left == 0 && m.want != nil && string(m.h.Sum(nil)) != string(m.want) {
		return 0, errorf("BadDigest", 400, "The Content-MD5 you specified did not match what we received.")
	}
	if err == io.EOF && m.left > 0 {
		err = errorf("IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	return n, err
}

// writeBlob streams size bytes of r into a new blob and returns it with
// the MD5 of its bytes.
func (h *handler) writeBlob(ctx context.Context, b *bucketRec, r io.Reader, size int64, wantMD5 []byte) (blobRef, []byte, error) {
	if size > h.opts.MaxObjectSize {
		return blobRef{}, nil, errEntityTooLarge()
	}
	mr := &md5Reader{r: r, h: md5.New(), left: size, want: wantMD5}
	ref := blobRef{D: "d/" + randomID(12), S: size}
	if _, err := h.ns(b.dataNS()).WriteFrom(ctx, client.NewKey(ref.D), mr, uint64(size), client.StreamOptions{Chunk: h.opts.Chunk}); err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return ref, nil, ae
		}
		return ref, nil, fmt.Errorf("write blob %s: %w", ref.D, err)
	}
	return ref, mr.h.Sum(nil), nil
}

// removeBlobs deletes data blobs (best effort: failures are logged).
func (h *handler) removeBlobs(ctx context.Context, b *bucketRec, blobs []blobRef) {
	s := h.ns(b.dataNS())
	for _, bl := range blobs {
		if err := remove(ctx, s, bl.D); err != nil && h.opts.Logf != nil {
			h.opts.Logf("s3: %v", err)
		}
	}
}

// commitObject makes m the object under key: swaps the record, removes the
// blobs of the object it replaces and updates the index.
func (h *handler) commitObject(ctx context.Context, b *bucketRec, key string, m objMeta) error {
	var old []blobRef
	err := casJSON(ctx, h.ns(b.metaNS()), key, func(cur *objMeta, found bool) error {
		old = nil
		if found {
			old = cur.Blobs
		}
		*cur = m
		return nil
	})
	if err != nil {
		h.removeBlobs(ctx, b, m.Blobs)
		return err
	}
	h.removeBlobs(ctx, b, old)
	return h.syncIndex(ctx, b, key)
}

// syncIndex makes the index entry of key match the object's record.
func (h *handler) syncIndex(ctx context.Context, b *bucketRec, key string) error {
	s := h.ns(b.metaNS())
	return h.index(b).sync(ctx, key, func() (*indexEntry, error) {
		var m objMeta
		found, err := readJSON(ctx, s, key, &m)
		if err != nil || !found {
			return nil, err
		}
		return &indexEntry{K: key, S: m.Size, E: m.ETag, T: m.Mod.UnixMilli()}, nil
	})
}

func requestLength(r *http.Request) (int64, error) {
	if r.ContentLength < 0 {
		return 0, errMissingLength()
	}
	return r.ContentLength, nil
}

func contentMD5(r *http.Request) ([]byte, error) {
	v := r.Header.Get("Content-MD5")
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != md5.Size {
		return nil, errorf("InvalidDigest", 400, "The Content-MD5 you specified was invalid.")
	}
	return b, nil
}

func (h *handler) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	ctx := r.Context()
	b, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	size, err := requestLength(r)
	if err != nil {
		return err
	}
	want, err := contentMD5(r)
	if err != nil {
		return err
	}
	ref, sum, err := h.writeBlob(ctx, b, r.Body, size, want)
	if err != nil {
		return err
	}
	m := metaFromRequest(r)
	m.Size, m.ETag, m.Mod, m.Blobs = size, hex.EncodeToString(sum), h.opts.Now().UTC(), []blobRef{ref}
	if err := h.commitObject(ctx, b, key, m); err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+m.ETag+`"`)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(200)
	return nil
}

// object reads an object's record (NoSuchKey when absent).
func (h *handler) object(ctx context.Context, b *bucketRec, key string) (*objMeta, error) {
	var m objMeta
	found, err := readJSON(ctx, h.ns(b.metaNS()), key, &m)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNoSuchKey()
	}
	return &m, nil
}

// parseRange parses a single "bytes=" range against size; ok is false when
// there is none (or it is one S3 ignores).
func parseRange(v string, size int64) (start, end int64, ok bool, err error) {
	bad := func() error {
		return errInvalidRange().with("RangeRequested", v).with("ActualObjectSize", strconv.FormatInt(size, 10))
	}
	spec, found := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	a, z, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, nil
	}
	switch {
	case a == "":
		n, perr := strconv.ParseInt(z, 10, 64)
		if perr != nil || n < 0 { // "bytes=--1" is no range
			return 0, 0, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, bad()
		}
		return max(size-n, 0), size - 1, true, nil
	default:
		s, perr := strconv.ParseInt(a, 10, 64)
		if perr != nil || s < 0 {
			return 0, 0, false, nil
		}
		e := size - 1
		if z != "" {
			e, perr = strconv.ParseInt(z, 10, 64)
			if perr != nil || e < s {
				return 0, 0, false, nil
			}
			e = min(e, size-1)
		}
		if s >= size {
			return 0, 0, false, bad()
		}
		return s, e, true, nil
	}
}

func setObjectHeaders(w http.ResponseWriter, m *objMeta) {
	hd := w.Header()
	hd.Set("ETag", `"`+m.ETag+`"`)
	hd.Set("Last-Modified", m.Mod.UTC().Format(http.TimeFormat))
	hd.Set("Content-Type", m.Type)
	hd.Set("Accept-Ranges", "bytes")
	for k, v := range m.Meta {
		hd[k] = []string{v} // lower case, as S3 sends them
	}
	for k, v := range m.Headers {
		hd.Set(k, v)
	}
	if n := len(m.Blobs); n > 1 {
		hd.Set("x-amz-mp-parts-count", strconv.Itoa(n))
	}
}

// checkConditions applies If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since; done is true when it answered (304).
func checkConditions(w http.ResponseWriter, r *http.Request, m *objMeta) (done bool, err error) {
	etag := `"` + m.ETag + `"`
	match := func(v string) bool {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t == "*" || t == etag || t == m.ETag {
				return true
			}
		}
		return false
	}
	mod := m.Mod.Truncate(time.Second)
	if v := r.Header.Get("If-Match"); v != "" && !match(v) {
		return false, errorf("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" && r.Header.Get("If-Match") == "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return false, errorf("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
		}
	}
	notModified := false
	if v := r.Header.Get("If-None-Match"); v != "" {
		notModified = match(v)
	} else if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			notModified = true
		}
	}
	if notModified {
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", m.Mod.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNotModified)
		return true, nil
	}
	return false, nil
}

func (h *handler) getObject(w http.ResponseWriter, r *http.Request, bucket, key string, head bool) error {
	ctx := r.Context()
	b, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	m, err := h.object(ctx, b, key)
	if err != nil {
		return err
	}
	if done, err := checkConditions(w, r, m); done || err != nil {
		return err
	}
	start, end, ranged, err := parseRange(r.Header.Get("Range"), m.Size)
	if err != nil {
		return err
	}
	if v := r.URL.Query().Get("partNumber"); v != "" {
		// One part of a multipart object (a single-part object has part 1).
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > len(m.Blobs) || ranged {
			return errorf("InvalidPartNumber", 416, "The requested partnumber is not satisfiable")
		}
		start = 0
		for _, bl := range m.Blobs[:n-1] {
			start += bl.S
		}
		end, ranged = start+m.Blobs[n-1].S-1, m.Blobs[n-1].S > 0
		w.Header().Set("x-amz-mp-parts-count", strconv.Itoa(len(m.Blobs)))
	}
	if !ranged {
		start, end = 0, m.Size-1
	}
	setObjectHeaders(w, m)
	q := r.URL.Query()
	for param, hdr := range map[string]string{"response-content-type": "Content-Type", "response-content-disposition": "Content-Disposition",
		"response-cache-control": "Cache-Control", "response-content-encoding": "Content-Encoding",
		"response-content-language": "Content-Language", "response-expires": "Expires"} {
		if v := q.Get(param); v != "" {
			w.Header().Set(hdr, v)
		}
	}
	w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	code := 200
	if ranged {
		code = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, m.Size))
	}
	w.WriteHeader(code)
	if head || end < start {
		return nil
	}
	if err := h.streamBlobs(ctx, b, m.Blobs, start, end-start+1, w); err != nil && h.opts.Logf != nil {
		// The status is sent: the client sees a short body.
		h.opts.Logf("s3: GET %s/%s: %v", bucket, key, err)
	}
	return nil
}

// streamBlobs writes n bytes of the concatenated blobs from byte off to w,
// a chunk at a time.
func (h *handler) streamBlobs(ctx context.Context, b *bucketRec, blobs []blobRef, off, n int64, w io.Writer) error {
	s := h.ns(b.dataNS())
	for _, bl := range blobs {
		if n <= 0 {
			return nil
		}
		if off >= bl.S {
			off -= bl.S
			continue
		}
		take := min(bl.S-off, n)
		_, err := s.ReadTo(ctx, client.NewKey(bl.D), w, client.StreamOptions{Chunk: h.opts.Chunk, Offset: uint64(off), Size: uint64(take)})
		if err != nil {
			return fmt.Errorf("read blob %s: %w", bl.D, err)
		}
		n -= take
		off = 0
	}
	return nil
}

// deleteKey removes an object (no error when it does not exist).
func (h *handler) deleteKey(ctx context.Context, b *bucketRec, key string) error {
	s := h.ns(b.metaNS())
	var m objMeta
	found, err := readJSON(ctx, s, key, &m)
	if err != nil {
		return err
	}
	if found {
		if err := remove(ctx, s, key); err != nil {
			return err
		}
		h.removeBlobs(ctx, b, m.Blobs)
	}
	return h.syncIndex(ctx, b, key)
}

func (h *handler) deleteObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	ctx := r.Context()
	b, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	if err := h.deleteKey(ctx, b, key); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) deleteObjects(w http.ResponseWriter, r *http.Request, bucket string) error {
	ctx := r.Context()
	b, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	var req struct {
		Quiet   bool `xml:"Quiet"`
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := readXML(r, h.opts.MaxXMLBody, &req); err != nil {
		return err
	}
	if len(req.Objects) > 1000 {
		return errMalformedXML()
	}
	type deleted struct {
		Key string `xml:"Key"`
	}
	type delErr struct {
		Key     string `xml:"Key"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	out := struct {
		XMLName xml.Name  `xml:"DeleteResult"`
		NS      string    `xml:"xmlns,attr"`
		Deleted []deleted `xml:"Deleted"`
		Errors  []delErr  `xml:"Error"`
	}{NS: s3XMLNS}
	// Up to 8 deletes at a time; results in request order.
	errs := make([]error, len(req.Objects))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, o := range req.Objects {
		if o.Key == "" || len(o.Key) > 1024 {
			errs[i] = errKeyTooLong()
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = h.deleteKey(ctx, b, o.Key)
		}()
	}
	wg.Wait()
	for i, o := range req.Objects {
		if err := errs[i]; err != nil {
			ae := asAPIError(err)
			out.Errors = append(out.Errors, delErr{Key: o.Key, Code: ae.Code, Message: ae.Message})
			continue
		}
		if !req.Quiet {
			out.Deleted = append(out.Deleted, deleted{Key: o.Key})
		}
	}
	writeXML(w, out)
	return nil
}

// readXML decodes a request body of at most limit bytes.
func readXML(r *http.Request, limit int64, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > limit {
		return errorf("MaxMessageLengthExceeded", 400, "Your request was too big.")
	}
	if err := xml.Unmarshal(body, v); err != nil {
		return errMalformedXML()
	}
	return nil
}

// copySource reads the bucket and object an x-amz-copy-source names
// ("/bucket/key" or "bucket/key", URL-encoded).
func (h *handler) copySource(ctx context.Context, src string) (*bucketRec, *objMeta, error) {
	if i := strings.IndexByte(src, '?'); i >= 0 {
		return nil, nil, errNotImplemented("copy source with " + src[i+1:])
	}
	src, err := url.PathUnescape(src)
	if err != nil {
		return nil, nil, errInvalidArgument("Invalid copy source encoding")
	}
	sb, sk, ok := strings.Cut(strings.TrimPrefix(src, "/"), "/")
	if !ok || sk == "" || len(sk) > 1024 {
		return nil, nil, errInvalidArgument("Invalid copy source object key")
	}
	from, err := h.bucket(ctx, sb)
	if err != nil {
		return nil, nil, err
	}
	sm, err := h.object(ctx, from, sk)
	if err != nil {
		return nil, nil, err
	}
	sm.key = sk
	return from, sm, nil
}

func (h *handler) copyObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	ctx := r.Context()
	from, sm, err := h.copySource(ctx, r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	sb, sk := from.Name, sm.key
	to, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	directive := r.Header.Get("X-Amz-Metadata-Directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return errInvalidArgument("Unknown metadata directive.")
	}
	if sb == bucket && sk == key && directive != "REPLACE" {
		return errorf("InvalidRequest", 400, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if v := r.Header.Get("X-Amz-Copy-Source-If-Match"); v != "" && strings.Trim(v, `"`) != sm.ETag {
		return errorf("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(h.streamBlobs(ctx, from, sm.Blobs, 0, sm.Size, pw))
	}()
	ref, sum, err := h.writeBlob(ctx, to, pr, sm.Size, nil)
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return err
	}
	m := *sm
	if directive == "REPLACE" {
		m = metaFromRequest(r)
	}
	m.Size, m.ETag, m.Mod, m.Blobs = sm.Size, hex.EncodeToString(sum), h.opts.Now().UTC(), []blobRef{ref}
	if err := h.commitObject(ctx, to, key, m); err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+m.ETag+`"`)
	writeXML(w, struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		NS           string   `xml:"xmlns,attr"`
		LastModified string   `xml:"LastModified"`
		ETag         string   `xml:"ETag"`
	}{NS: s3XMLNS, LastModified: m.Mod.Format(timeFormat), ETag: `"` + m.ETag + `"`})
	return nil
}
