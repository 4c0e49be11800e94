// Package s3 serves an S3-compatible subset of the API over an elliptics
// cluster: buckets, objects (streamed, with ranges), listing through a
// sorted per-bucket index kept in the cluster, and multipart uploads, with
// SigV4 authentication against keys from the configuration. See docs/s3.md
// for what is supported and how it is stored.
package s3

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/client"
)

// Options configure the handler.
type Options struct {
	// Credentials maps access key IDs to secret keys.
	Credentials map[string]string
	// Anonymous lets requests without any signature in (tests only).
	Anonymous bool
	// Region is the region signatures must name (default "us-east-1").
	Region string
	// BaseDomain, when set, enables virtual-host-style requests: a Host of
	// "<bucket>.<BaseDomain>" addresses the bucket.
	BaseDomain string
	// MaxObjectSize limits a PutObject or UploadPart body (default 5 GiB).
	MaxObjectSize int64
	// MaxXMLBody limits request XML bodies (default 2 MiB).
	MaxXMLBody int64
	// MaxParts limits the part number of a multipart upload (default 10000).
	MaxParts int
	// MinPartSize is the least size of every part of a multipart upload
	// but the last (default 5 MiB, as S3).
	MinPartSize int64
	// MaxUploads limits unfinished multipart uploads per bucket (default 10000).
	MaxUploads int
	// PageSize is the most entries of one index page (default 512).
	PageSize int
	// MaxRequests limits requests served at once (default 128); more
	// answer 503 SlowDown. With Chunk it bounds the memory of transfers
	// (each streams through one chunk).
	MaxRequests int
	// Chunk is the request size of streamed reads and writes (default
	// client.DefaultChunk).
	Chunk int
	// Logf, if set, logs internal errors.
	Logf func(format string, args ...any)
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.MaxObjectSize <= 0 {
		o.MaxObjectSize = 5 << 30
	}
	if o.MaxXMLBody <= 0 {
		o.MaxXMLBody = 2 << 20
	}
	if o.MaxParts <= 0 {
		o.MaxParts = 10000
	}
	if o.MaxUploads <= 0 {
		o.MaxUploads = 10000
	}
	if o.PageSize < 4 {
		o.PageSize = 512
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 128
	}
	if o.Chunk <= 0 {
		o.Chunk = client.DefaultChunk
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.BaseDomain = strings.ToLower(strings.TrimPrefix(o.BaseDomain, "."))
}

// rootCacheRefs bounds the cached index roots: a million page references
// (a few hundred million objects), some tens of MB.
const rootCacheRefs = 1 << 20

type handler struct {
	sess  *client.Session
	opts  Options
	roots *rootCache
	slots chan struct{} // one per request in flight
}

// New returns the S3 handler over sess (its groups, checker and timeout
// apply to every cluster call; its namespace is replaced). Records are
// compare-and-swapped in the session's lowest group (see store.go), so
// every frontend of a cluster must use sessions with the same groups.
func New(sess *client.Session, opts Options) http.Handler {
	opts.defaults()
	return &handler{sess: sess, opts: opts, roots: newRootCache(rootCacheRefs), slots: make(chan struct{}, opts.MaxRequests)}
}

// ns returns a session in namespace ns (in the groups the cluster serves
// when the session was made with none, before the node knew the routes).
func (h *handler) ns(ns string) *client.Session {
	s := h.sess.Clone()
	if len(s.Groups()) == 0 {
		s.SetGroups(s.Node().Groups()...)
	}
	s.SetNamespace(ns)
	return s
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
