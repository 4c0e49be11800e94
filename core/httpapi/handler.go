package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// Defaults of Options.
const (
	// DefaultMaxKey bounds the namespace and the key, each, in bytes.
	DefaultMaxKey = 4096
	// DefaultMaxBody is the largest PUT body (S3's largest single PUT).
	DefaultMaxBody = 5 << 30
	// DefaultIdleTimeout bounds each read of a request body and each write
	// of a reply body chunk: a stuck client must not hold a request
	// forever, while a multi-GiB transfer at a steady pace takes as long
	// as it needs (a whole-request deadline would cut it).
	DefaultIdleTimeout = time.Minute
)

// MaxGroups bounds the groups a request names with ?groups=.
const MaxGroups = 64

// Prefix is the path prefix of the object API.
const Prefix = "/v1/"

// Options tune a Handler.
type Options struct {
	// Groups are the replica groups of requests that name none with
	// ?groups=; empty: every group of the client's route table at the
	// time of the request.
	Groups []uint32
	// MaxKey bounds the namespace and the key, each, in bytes (default
	// DefaultMaxKey).
	MaxKey int
	// MaxBody bounds a PUT body (default DefaultMaxBody); bigger ones get
	// 413 before anything is written.
	MaxBody int64
	// Chunk is the bytes per request of streamed bodies, and the largest
	// body a PUT writes in one request (default client.DefaultChunk).
	// Memory per request stays at a few chunks (one for a PUT, up to
	// three for a GET, which reads ahead).
	Chunk int
	// IdleTimeout bounds each chunk of a body read or written (default
	// DefaultIdleTimeout).
	IdleTimeout time.Duration
	// SpoolDir holds the temporary files of PUTs without a Content-Length
	// (chunked transfer encoding) bigger than a chunk: a chunked upload
	// must know its size before the first chunk (default os.TempDir()).
	SpoolDir string
	// Fallback serves requests outside Prefix (the S3 handler); nil: 404.
	Fallback http.Handler
	// Local serves reads of keys owned by the node the handler runs
	// inside without a connection to it (ellipticsd's built-in API); nil:
	// every request goes through the session.
	Local LocalReader
	// Logger logs failures the client cannot be told about (a reply cut
	// short); nil: none.
	Logger *zap.Logger
}

func (o *Options) setDefaults() {
	if o.MaxKey <= 0 {
		o.MaxKey = DefaultMaxKey
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Chunk <= 0 {
		o.Chunk = client.DefaultChunk
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
}

// Handler serves the object API (see the package comment).
type Handler struct {
	sess *client.Session
	opts Options
}

// New returns a handler making its calls with copies of sess (its timeout,
// checker and read order apply; namespace and groups are set per request).
func New(sess *client.Session, opts Options) *Handler {
	opts.setDefaults()
	return &Handler{sess: sess, opts: opts}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.logged(w, r, h.serve)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, Prefix) {
		if h.opts.Fallback != nil {
			h.opts.Fallback.ServeHTTP(w, r)
			return
		}
		writeError(w, r, http.StatusNotFound, status.NotFound, fmt.Sprintf("no API at %s (objects are under %s{namespace}/{key})", r.URL.Path, Prefix))
		return
	}
	req, err := h.parse(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.get(w, r, req)
	case http.MethodPut:
		h.put(w, r, req)
	case http.MethodDelete:
		h.remove(w, r, req)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		writeError(w, r, http.StatusMethodNotAllowed, status.Unsupported, "method "+r.Method+" not allowed")
	}
}

// request is a parsed object request.
type request struct {
	sess *client.Session // namespace and groups set
	key  client.Key
	name string // namespace/key, for messages
}

// parse splits /v1/{namespace}/{key} and makes the request's session. The
// escaped path is split, so a namespace may hold an escaped slash (%2F);
// the key is everything after the namespace, slashes included.
func (h *Handler) parse(r *http.Request) (*request, error) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), Prefix)
	rawNS, rawKey, ok := strings.Cut(rest, "/")
	if !ok || rawNS == "" || rawKey == "" {
		return nil, status.Errorf(status.Invalid, "path %q: want %s{namespace}/{key}", r.URL.Path, Prefix)
	}
	ns, err := url.PathUnescape(rawNS)
	if err != nil {
		return nil, status.Errorf(status.Invalid, "namespace %q: %v", rawNS, err)
	}
	key, err := url.PathUnescape(rawKey)
	if err != nil {
		return nil, status.Errorf(status.Invalid, "key %q: %v", rawKey, err)
	}
	if len(ns) > h.opts.MaxKey || len(key) > h.opts.MaxKey {
		return nil, status.Errorf(status.TooLarge, "namespace of %d bytes, key of %d: the limit is %d each", len(ns), len(key), h.opts.MaxKey)
	}
	groups, err := h.groups(r)
	if err != nil {
		return nil, err
	}
	s := h.sess.Clone()
	s.SetNamespace(ns)
	s.SetGroups(groups...)
	return &request{sess: s, key: client.NewKey(key), name: ns + "/" + key}, nil
}

// groups are the groups of r: ?groups=1,2, else Options.Groups, else
// every group the client knows now (a frontend learns the cluster after
// it starts, so a list taken at New could be empty or stale).
func (h *Handler) groups(r *http.Request) ([]uint32, error) {
	q := r.URL.Query().Get("groups")
	if q == "" {
		if len(h.opts.Groups) > 0 {
			return h.opts.Groups, nil
		}
		if gs := h.sess.Node().Groups(); len(gs) > 0 {
			return gs, nil
		}
		return nil, status.Errorf(status.NoRoute, "no groups known yet (no node reachable?)")
	}
	var gs []uint32
	for part := range strings.SplitSeq(q, ",") {
		g, err := strconv.ParseUint(strings.TrimSpace(part), 10, 32)
		if err != nil || g == 0 {
			return nil, status.Errorf(status.Invalid, "groups=%q: want a comma-separated list of group numbers > 0", q)
		}
		if slices.Contains(gs, uint32(g)) {
			continue // a group twice would be written twice
		}
		if len(gs) == MaxGroups {
			// Each group of a write is a request in parallel.
			return nil, status.Errorf(status.TooLarge, "groups=%q: more than %d groups", q, MaxGroups)
		}
		gs = append(gs, uint32(g))
	}
	return gs, nil
}
