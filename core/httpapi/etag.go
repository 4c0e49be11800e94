package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// etagOf is the entity tag of a stored version: its timestamp in
// nanoseconds and its size, both in hex ("17f0c2a1b3c4d5e6-400"). Every
// write stamps the object with the time of the write (the same in every
// group, so replicas of one version have one tag), so the tag changes when
// the data does; unlike a checksum it costs nothing to get (a SHA-512 of
// the stored value reads the whole object on the node). It is a strong
// tag: one version has one byte sequence.
func etagOf(ts time.Time, size uint64) string {
	return fmt.Sprintf(`"%x-%x"`, uint64(ts.UnixNano()), size)
}

// version is what the conditionals compare: the object's tag and time.
type version struct {
	etag     string
	modified time.Time
}

// matchList parses a list of entity tags (If-Match, If-None-Match) and
// reports whether etag is in it; "*" matches any existing version. Weak
// compares ignore the W/ prefix (If-None-Match); strong ones (If-Match)
// never match a weak tag.
func matchList(header, etag string, weak bool) bool {
	for part := range strings.SplitSeq(header, ",") {
		t := strings.TrimSpace(part)
		if t == "*" {
			return true
		}
		if w, ok := strings.CutPrefix(t, "W/"); ok {
			if !weak {
				continue
			}
			t = w
		}
		if t == etag {
			return true
		}
	}
	return false
}

// readPrecondition evaluates the conditionals of a GET or HEAD in the order
// of RFC 9110 §13.2.2 against the version found, returning 0 to go on,
// http.StatusPreconditionFailed or http.StatusNotModified.
func readPrecondition(r *http.Request, v version) int {
	if im := r.Header.Get("If-Match"); im != "" {
		if !matchList(im, v.etag, false) {
			return http.StatusPreconditionFailed
		}
	} else if ius := r.Header.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && v.modified.Truncate(time.Second).After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if matchList(inm, v.etag, true) {
			return http.StatusNotModified
		}
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !v.modified.Truncate(time.Second).After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// rangeApplies reports whether a Range header is honoured: without
// If-Range always; with it only if it names the current version (by
// strong tag, or by a date equal to Last-Modified), else the whole object
// is sent (RFC 9110 §13.1.5).
func rangeApplies(r *http.Request, v version) bool {
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) {
		return ir == v.etag
	}
	t, err := http.ParseTime(ir)
	return err == nil && v.modified.Truncate(time.Second).Equal(t)
}

// setVersionHeaders sets the validators of a reply.
func setVersionHeaders(w http.ResponseWriter, v version) {
	h := w.Header()
	h.Set("ETag", v.etag)
	h.Set("Last-Modified", v.modified.UTC().Format(http.TimeFormat))
}
