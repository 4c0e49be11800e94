package script

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/status"
)

// memHost is an in-memory Host for unit tests. err, when set, is returned
// by every write and remove (e.g. status.ErrReadOnly).
type memHost struct {
	mu   sync.Mutex
	m    map[string][]byte
	err  error
	hits int
}

func newMemHost(kv ...string) *memHost {
	h := &memHost{m: map[string][]byte{}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.m[kv[i]] = []byte(kv[i+1])
	}
	return h
}

func (h *memHost) get(k string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[k]
	return v, ok
}

func (h *memHost) Read(_ context.Context, key string, offset, size uint64) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hits++
	v, ok := h.m[key]
	if !ok {
		return nil, status.ErrNotFound
	}
	if offset > uint64(len(v)) {
		return nil, status.Errorf(status.Invalid, "offset past end")
	}
	v = v[offset:]
	if size != 0 && size < uint64(len(v)) {
		v = v[:size]
	}
	return append([]byte(nil), v...), nil
}

func (h *memHost) Write(_ context.Context, key string, data []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hits++
	if h.err != nil {
		return h.err
	}
	h.m[key] = append([]byte(nil), data...)
	return nil
}

func (h *memHost) Remove(_ context.Context, key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hits++
	if h.err != nil {
		return h.err
	}
	if _, ok := h.m[key]; !ok {
		return status.ErrNotFound
	}
	delete(h.m, key)
	return nil
}

func (h *memHost) Lookup(_ context.Context, key string) (Info, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[key]
	if !ok {
		return Info{}, status.ErrNotFound
	}
	return Info{Size: uint64(len(v)), Timestamp: time.Unix(1700000000, 500_000_000), UserFlags: 7, Checksum: "abcd"}, nil
}

func (h *memHost) ReadRange(_ context.Context, start, end string, limit int) ([]Record, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []string
	for k := range h.m {
		if (start == "" || k >= start) && (end == "" || k <= end) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Record
	for _, k := range keys {
		if len(out) == limit {
			break
		}
		out = append(out, Record{ID: k, Data: h.m[k]})
	}
	return out, nil
}
