package s3

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Multipart uploads: a record per upload ("u/<upload id>" in namespace
// "s3u/<bucket id>") with the object's metadata and a bitmap of the part
// numbers uploaded; a record per part ("u/<upload id>/<n>": blob, size,
// ETag), swapped by CAS so a part uploaded again frees the blob it
// replaces; and the bucket's list of unfinished uploads ("uploads", same
// namespace). Each part is a blob written with client.WriteFrom like a
// PutObject body. Complete checks the parts named, makes an object whose
// blobs are those parts in order (no copy: GET streams them one after the
// other), and removes the parts left out. The ETag is the MD5 of the parts'
// MD5s, "-N".

const uploadListKey = "uploads"

type partRec struct {
	Blob blobRef   `json:"blob"`
	ETag string    `json:"etag"`
	Mod  time.Time `json:"mod"`
}

type uploadRec struct {
	Key       string    `json:"key"`
	Initiated time.Time `json:"initiated"`
	Meta      objMeta   `json:"meta"`
	Have      []byte    `json:"have,omitempty"` // bit n: part n was uploaded
}

func (u *uploadRec) has(n int) bool { return n/8 < len(u.Have) && u.Have[n/8]&(1<<(n%8)) != 0 }

func (u *uploadRec) set(n int) {
	for len(u.Have) <= n/8 {
		u.Have = append(u.Have, 0)
	}
	u.Have[n/8] |= 1 << (n % 8)
}

// nums returns the part numbers uploaded, ascending.
func (u *uploadRec) nums() []int {
	var out []int
	for n := 0; n < len(u.Have)*8; n++ {
		if u.has(n) {
			out = append(out, n)
		}
	}
	return out
}

func partKey(id string, n int) string { return fmt.Sprintf("u/%s/%d", id, n) }

// readParts reads the records of parts nums (8 at a time); a part without
// a record is missing from the map.
func (h *handler) readParts(ctx context.Context, b *bucketRec, id string, nums []int) (map[int]*partRec, error) {
	s := h.ns(b.uploadNS())
	parts := make([]*partRec, len(nums))
	errs := make([]error, len(nums))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, n := range nums {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var p partRec
			found, err := readJSON(ctx, s, partKey(id, n), &p)
			if found {
				parts[i] = &p
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	out := make(map[int]*partRec, len(nums))
	for i, n := range nums {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if parts[i] != nil {
			out[n] = parts[i]
		}
	}
	return out, nil
}

// dropParts removes parts' blobs and records (best effort).
func (h *handler) dropParts(ctx context.Context, b *bucketRec, id string, parts map[int]*partRec, keepBlobs bool) {
	s := h.ns(b.uploadNS())
	for n, p := range parts {
		if !keepBlobs {
			h.removeBlobs(ctx, b, []blobRef{p.Blob})
		}
		if err := remove(ctx, s, partKey(id, n)); err != nil && h.opts.Logf != nil {
			h.opts.Logf("s3: %v", err)
		}
	}
}

type uploadEntry struct {
	Key       string    `json:"key"`
	ID        string    `json:"id"`
	Initiated time.Time `json:"initiated"`
}

type uploadList struct {
	Uploads []uploadEntry `json:"uploads"`
}

func cmpUpload(a uploadEntry, b uploadEntry) int {
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// minPartSize is S3's least size of every part but the last.
const minPartSize = 5 << 20

func (h *handler) createUpload(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	ctx := r.Context()
	b, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	id := randomID(16)
	now := h.opts.Now().UTC()
	rec := uploadRec{Key: key, Initiated: now, Meta: metaFromRequest(r)}
	s := h.ns(b.uploadNS())
	err = casJSON(ctx, s, uploadListKey, func(l *uploadList, _ bool) error {
		if len(l.Uploads) >= h.opts.MaxUploads {
			return errorf("SlowDown", 503, "Too many unfinished multipart uploads in this bucket (%d).", len(l.Uploads))
		}
		e := uploadEntry{Key: key, ID: id, Initiated: now}
		i, _ := slices.BinarySearchFunc(l.Uploads, e, cmpUpload)
		l.Uploads = slices.Insert(l.Uploads, i, e)
		return nil
	})
	if err != nil {
		return err
	}
	if err := writeJSON(ctx, s, "u/"+id, &rec); err != nil {
		return err
	}
	writeXML(w, struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}{NS: s3XMLNS, Bucket: bucket, Key: key, UploadID: id})
	return nil
}

// upload reads an upload's record, checking that it is for key.
// bucketUpload finds the bucket and the upload a request names.
func (h *handler) bucketUpload(r *http.Request, bucket, key string) (*bucketRec, string, *uploadRec, error) {
	b, err := h.bucket(r.Context(), bucket)
	if err != nil {
		return nil, "", nil, err
	}
	id, rec, err := h.upload(r, b, key)
	return b, id, rec, err
}

func (h *handler) upload(r *http.Request, b *bucketRec, key string) (string, *uploadRec, error) {
	id := r.URL.Query().Get("uploadId")
	if id == "" || len(id) > 64 {
		return "", nil, errNoSuchUpload()
	}
	var rec uploadRec
	found, err := readJSON(r.Context(), h.ns(b.uploadNS()), "u/"+id, &rec)
	if err != nil {
		return "", nil, err
	}
	if !found || rec.Key != key {
		return "", nil, errNoSuchUpload()
	}
	return id, &rec, nil
}

func (h *handler) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	ctx := r.Context()
	b, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.URL.Query().Get("partNumber"))
	if err != nil || n < 1 || n > h.opts.MaxParts {
		return errInvalidArgument("Part number must be an integer between 1 and %d, inclusive", h.opts.MaxParts)
	}
	id, _, err := h.upload(r, b, key)
	if err != nil {
		return err
	}
	var ref blobRef
	var sum []byte
	copySrc := r.Header.Get("X-Amz-Copy-Source")
	if copySrc != "" {
		// UploadPartCopy: a range of an existing object, streamed.
		from, sm, err := h.copySource(ctx, copySrc)
		if err != nil {
			return err
		}
		start, end := int64(0), sm.Size-1
		if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
			var ok bool
			start, end, ok, err = parseRange(v, sm.Size)
			if err != nil || !ok {
				return errInvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
			}
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(h.streamBlobs(ctx, from, sm.Blobs, start, end-start+1, pw)) }()
		ref, sum, err = h.writeBlob(ctx, b, pr, end-start+1, nil)
		pr.CloseWithError(io.ErrClosedPipe)
		if err != nil {
			return err
		}
	} else {
		size, err := requestLength(r)
		if err != nil {
			return err
		}
		want, err := contentMD5(r)
		if err != nil {
			return err
		}
		if ref, sum, err = h.writeBlob(ctx, b, r.Body, size, want); err != nil {
			return err
		}
	}
	part := &partRec{Blob: ref, ETag: hex.EncodeToString(sum), Mod: h.opts.Now().UTC()}
	s := h.ns(b.uploadNS())
	var old *partRec
	err = casJSON(ctx, s, partKey(id, n), func(cur *partRec, found bool) error {
		old = nil
		if found {
			c := *cur
			old = &c
		}
		*cur = *part
		return nil
	})
	if err != nil {
		h.removeBlobs(ctx, b, []blobRef{ref})
		return err
	}
	if old != nil {
		h.removeBlobs(ctx, b, []blobRef{old.Blob})
	}
	err = casJSON(ctx, s, "u/"+id, func(rec *uploadRec, found bool) error {
		if !found {
			return errNoSuchUpload()
		}
		if rec.has(n) {
			return errSkip
		}
		rec.set(n)
		return nil
	})
	if err != nil {
		// Aborted or completed meanwhile: the part goes.
		h.dropParts(ctx, b, id, map[int]*partRec{n: part}, false)
		return err
	}
	w.Header().Set("ETag", `"`+part.ETag+`"`)
	if copySrc != "" {
		writeXML(w, struct {
			XMLName      xml.Name `xml:"CopyPartResult"`
			NS           string   `xml:"xmlns,attr"`
			LastModified string   `xml:"LastModified"`
			ETag         string   `xml:"ETag"`
		}{NS: s3XMLNS, LastModified: part.Mod.Format(timeFormat), ETag: `"` + part.ETag + `"`})
		return nil
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(200)
	return nil
}

// dropUpload removes an upload's record and its entry in the list.
func (h *handler) dropUpload(r *http.Request, b *bucketRec, id string) error {
	s := h.ns(b.uploadNS())
	if err := remove(r.Context(), s, "u/"+id); err != nil {
		return err
	}
	return casJSON(r.Context(), s, uploadListKey, func(l *uploadList, _ bool) error {
		n := len(l.Uploads)
		l.Uploads = slices.DeleteFunc(l.Uploads, func(e uploadEntry) bool { return e.ID == id })
		if len(l.Uploads) == n {
			return errSkip
		}
		return nil
	})
}

func (h *handler) completeUpload(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	ctx := r.Context()
	b, id, rec, err := h.bucketUpload(r, bucket, key)
	if err != nil {
		return err
	}
	var req struct {
		Parts []struct {
			PartNumber int    `xml:"PartNumber"`
			ETag       string `xml:"ETag"`
		} `xml:"Part"`
	}
	if err := readXML(r, h.opts.MaxXMLBody, &req); err != nil {
		return err
	}
	if len(req.Parts) == 0 || len(req.Parts) > h.opts.MaxParts {
		return errMalformedXML()
	}
	m := rec.Meta
	md5s := md5.New()
	used := map[int]bool{}
	parts, err := h.readParts(ctx, b, id, rec.nums())
	if err != nil {
		return err
	}
	for i, p := range req.Parts {
		if i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
			return errInvalidPartOrder()
		}
		part := parts[p.PartNumber]
		if part == nil || strings.Trim(p.ETag, `"`) != part.ETag {
			return errInvalidPart()
		}
		if i < len(req.Parts)-1 && part.Blob.S < h.minPart() {
			return errorf("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size.")
		}
		raw, _ := hex.DecodeString(part.ETag)
		md5s.Write(raw)
		m.Blobs = append(m.Blobs, part.Blob)
		m.Size += part.Blob.S
		used[p.PartNumber] = true
	}
	m.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(md5s.Sum(nil)), len(req.Parts))
	m.Mod = h.opts.Now().UTC()
	if err := h.dropUpload(r, b, id); err != nil {
		return err
	}
	unused, usedParts := map[int]*partRec{}, map[int]*partRec{}
	for n, p := range parts {
		if used[n] {
			usedParts[n] = p
		} else {
			unused[n] = p
		}
	}
	h.dropParts(ctx, b, id, unused, false)
	h.dropParts(ctx, b, id, usedParts, true) // their blobs are the object's now
	if err := h.commitObject(ctx, b, key, m); err != nil {
		return err
	}
	writeXML(w, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		NS       string   `xml:"xmlns,attr"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
	}{NS: s3XMLNS, Location: "/" + bucket + "/" + key, Bucket: bucket, Key: key, ETag: `"` + m.ETag + `"`})
	return nil
}

func (h *handler) minPart() int64 {
	if h.opts.MinPartSize > 0 {
		return h.opts.MinPartSize
	}
	return minPartSize
}

func (h *handler) abortUpload(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	ctx := r.Context()
	b, id, rec, err := h.bucketUpload(r, bucket, key)
	if err != nil {
		return err
	}
	if err := h.dropUpload(r, b, id); err != nil {
		return err
	}
	parts, err := h.readParts(ctx, b, id, rec.nums())
	if err != nil {
		return err
	}
	h.dropParts(ctx, b, id, parts, false)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) listParts(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	ctx := r.Context()
	b, id, rec, err := h.bucketUpload(r, bucket, key)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	maxParts := 1000
	if v := q.Get("max-parts"); v != "" {
		if maxParts, err = strconv.Atoi(v); err != nil || maxParts < 0 {
			return errInvalidArgument("max-parts must be a non-negative integer")
		}
		maxParts = min(maxParts, 1000)
	}
	marker := 0
	if v := q.Get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil {
			return errInvalidArgument("part-number-marker must be an integer")
		}
	}
	type partXML struct {
		PartNumber   int    `xml:"PartNumber"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int64  `xml:"Size"`
	}
	out := struct {
		XMLName              xml.Name  `xml:"ListPartsResult"`
		NS                   string    `xml:"xmlns,attr"`
		Bucket               string    `xml:"Bucket"`
		Key                  string    `xml:"Key"`
		UploadID             string    `xml:"UploadId"`
		Initiator            owner     `xml:"Initiator"`
		Owner                owner     `xml:"Owner"`
		StorageClass         string    `xml:"StorageClass"`
		PartNumberMarker     int       `xml:"PartNumberMarker"`
		NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
		MaxParts             int       `xml:"MaxParts"`
		IsTruncated          bool      `xml:"IsTruncated"`
		Parts                []partXML `xml:"Part"`
	}{NS: s3XMLNS, Bucket: bucket, Key: key, UploadID: id, StorageClass: "STANDARD", PartNumberMarker: marker,
		MaxParts: maxParts, Initiator: owner{ID: "elliptics", DisplayName: "elliptics"}, Owner: owner{ID: "elliptics", DisplayName: "elliptics"}}
	var nums []int
	for _, n := range rec.nums() {
		if n > marker {
			nums = append(nums, n)
		}
	}
	if len(nums) > maxParts {
		nums, out.IsTruncated = nums[:maxParts], true
	}
	parts, err := h.readParts(ctx, b, id, nums)
	if err != nil {
		return err
	}
	for _, n := range nums {
		p := parts[n]
		if p == nil {
			continue
		}
		out.Parts = append(out.Parts, partXML{PartNumber: n, LastModified: p.Mod.Format(timeFormat), ETag: `"` + p.ETag + `"`, Size: p.Blob.S})
		out.NextPartNumberMarker = n
	}
	writeXML(w, out)
	return nil
}

func (h *handler) listUploads(w http.ResponseWriter, r *http.Request, bucket string) error {
	ctx := r.Context()
	b, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	maxUploads := 1000
	if v := q.Get("max-uploads"); v != "" {
		if maxUploads, err = strconv.Atoi(v); err != nil || maxUploads < 0 {
			return errInvalidArgument("max-uploads must be a non-negative integer")
		}
		maxUploads = min(maxUploads, 1000)
	}
	var l uploadList
	if _, err := readJSON(ctx, h.ns(b.uploadNS()), uploadListKey, &l); err != nil {
		return err
	}
	type uploadXML struct {
		Key          string `xml:"Key"`
		UploadID     string `xml:"UploadId"`
		Initiator    owner  `xml:"Initiator"`
		Owner        owner  `xml:"Owner"`
		StorageClass string `xml:"StorageClass"`
		Initiated    string `xml:"Initiated"`
	}
	prefix, keyMarker, idMarker := q.Get("prefix"), q.Get("key-marker"), q.Get("upload-id-marker")
	delim := q.Get("delimiter")
	out := struct {
		XMLName            xml.Name       `xml:"ListMultipartUploadsResult"`
		NS                 string         `xml:"xmlns,attr"`
		Bucket             string         `xml:"Bucket"`
		KeyMarker          string         `xml:"KeyMarker"`
		UploadIDMarker     string         `xml:"UploadIdMarker"`
		NextKeyMarker      string         `xml:"NextKeyMarker"`
		NextUploadIDMarker string         `xml:"NextUploadIdMarker"`
		Prefix             string         `xml:"Prefix"`
		Delimiter          string         `xml:"Delimiter,omitempty"`
		MaxUploads         int            `xml:"MaxUploads"`
		IsTruncated        bool           `xml:"IsTruncated"`
		Uploads            []uploadXML    `xml:"Upload"`
		CommonPrefixes     []commonPrefix `xml:"CommonPrefixes"`
	}{NS: s3XMLNS, Bucket: bucket, KeyMarker: keyMarker, UploadIDMarker: idMarker, Prefix: prefix, Delimiter: delim, MaxUploads: maxUploads}
	me := owner{ID: "elliptics", DisplayName: "elliptics"}
	for _, u := range l.Uploads {
		if !strings.HasPrefix(u.Key, prefix) {
			continue
		}
		if keyMarker != "" && (u.Key < keyMarker || u.Key == keyMarker && (idMarker == "" || u.ID <= idMarker)) {
			continue
		}
		if len(out.Uploads)+len(out.CommonPrefixes) == maxUploads {
			out.IsTruncated = true
			break
		}
		if i := strings.Index(u.Key[len(prefix):], delim); delim != "" && i >= 0 {
			cp := u.Key[:len(prefix)+i+len(delim)]
			if n := len(out.CommonPrefixes); n == 0 || out.CommonPrefixes[n-1].Prefix != cp {
				out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: cp})
			}
			out.NextKeyMarker, out.NextUploadIDMarker = u.Key, u.ID
			continue
		}
		out.Uploads = append(out.Uploads, uploadXML{Key: u.Key, UploadID: u.ID, Initiator: me, Owner: me,
			StorageClass: "STANDARD", Initiated: u.Initiated.Format(timeFormat)})
		out.NextKeyMarker, out.NextUploadIDMarker = u.Key, u.ID
	}
	writeXML(w, out)
	return nil
}
