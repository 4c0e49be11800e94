package s3

import (
	"net"
	"net/http"
	"strings"
)

// Subresources (query parameters) that select an operation we do not
// implement: such requests answer 501 NotImplemented.
var unsupported = []string{"acl", "policy", "cors", "lifecycle", "versioning", "versions", "website",
	"tagging", "logging", "notification", "replication", "encryption", "object-lock", "retention",
	"legal-hold", "torrent", "restore", "select", "accelerate", "requestPayment", "analytics",
	"inventory", "metrics", "intelligent-tiering", "ownershipControls", "publicAccessBlock",
	"policyStatus", "attributes", "session", "versionId"}

// ServeHTTP authenticates the request and dispatches it to its operation.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amz-request-id", randomID(8))
	w.Header().Set("Server", "elliptics-s3")
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		h.writeError(w, r, errorf("SlowDown", 503, "Please reduce your request rate."))
		return
	}
	if err := h.authenticate(r, h.opts.Now()); err != nil {
		h.writeError(w, r, err)
		return
	}
	bucket, key := h.split(r)
	if err := h.route(w, r, bucket, key); err != nil {
		h.writeError(w, r, err)
	}
}

// split finds the bucket and key: from the Host for virtual-host-style
// requests, else from the path.
func (h *handler) split(r *http.Request) (bucket, key string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if h.opts.BaseDomain != "" {
		host := strings.ToLower(r.Host)
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if b, ok := strings.CutSuffix(host, "."+h.opts.BaseDomain); ok && b != "" {
			return b, path
		}
	}
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

func (h *handler) route(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	// The operation is chosen by the query without its signature
	// parameters (presigned URLs).
	q := r.URL.Query()
	for k := range q {
		if strings.HasPrefix(k, "X-Amz-") || k == "AWSAccessKeyId" || k == "Signature" || k == "Expires" || strings.HasPrefix(k, "x-id") {
			delete(q, k)
		}
	}
	for _, s := range unsupported {
		if q.Has(s) {
			return errNotImplemented("?" + s)
		}
	}
	if len(key) > 1024 {
		return errKeyTooLong()
	}
	if bucket == "" {
		if r.Method == http.MethodGet {
			return h.listBuckets(w, r)
		}
		return errNotImplemented(r.Method + " /")
	}
	if key == "" {
		switch r.Method {
		case http.MethodPut:
			return h.createBucket(w, r, bucket)
		case http.MethodDelete:
			return h.deleteBucket(w, r, bucket)
		case http.MethodHead:
			return h.headBucket(w, r, bucket)
		case http.MethodGet:
			switch {
			case q.Has("uploads"):
				return h.listUploads(w, r, bucket)
			case q.Has("location"):
				return h.getLocation(w, r, bucket)
			case q.Get("list-type") == "2":
				return h.listObjects(w, r, bucket, 2)
			case len(q) == 0 || q.Has("prefix") || q.Has("delimiter") || q.Has("marker") || q.Has("max-keys") || q.Has("encoding-type"):
				return h.listObjects(w, r, bucket, 1)
			}
		case http.MethodPost:
			if q.Has("delete") {
				return h.deleteObjects(w, r, bucket)
			}
		}
		return errNotImplemented(r.Method + " bucket?" + r.URL.RawQuery)
	}
	switch r.Method {
	case http.MethodPut:
		switch {
		case q.Has("uploadId"):
			return h.uploadPart(w, r, bucket, key)
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return h.copyObject(w, r, bucket, key)
		case len(q) == 0:
			return h.putObject(w, r, bucket, key)
		}
	case http.MethodGet:
		if q.Has("uploadId") {
			return h.listParts(w, r, bucket, key)
		}
		return h.getObject(w, r, bucket, key, false)
	case http.MethodHead:
		return h.getObject(w, r, bucket, key, true)
	case http.MethodDelete:
		if q.Has("uploadId") {
			return h.abortUpload(w, r, bucket, key)
		}
		return h.deleteObject(w, r, bucket, key)
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return h.createUpload(w, r, bucket, key)
		case q.Has("uploadId"):
			return h.completeUpload(w, r, bucket, key)
		}
	}
	return errNotImplemented(r.Method + " object?" + r.URL.RawQuery)
}
