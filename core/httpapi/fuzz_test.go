package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/elliptics/elliptics/core/client"
)

// FuzzParse: any request target gives a parsed object request within the
// key limits or a status error, never a panic.
func FuzzParse(f *testing.F) {
	node := client.NewNode(client.Config{})
	f.Cleanup(func() { node.Close() })
	h := New(client.NewSession(node), Options{Groups: []uint32{1}, MaxKey: 64})
	f.Add("/v1/ns/key", "")
	f.Add("/v1/ns%2Fx/a/b/c", "groups=1,2,2")
	f.Add("/v1//k", "groups=0")
	f.Add("/v1/n/%zz", "groups=1,"+strings.Repeat("3,", 40))
	f.Fuzz(func(t *testing.T, path, query string) {
		r, err := newRequest(path, query)
		if err != nil {
			return
		}
		req, err := h.parse(r)
		if err != nil {
			return
		}
		ns, key, _ := strings.Cut(req.name, "/")
		if ns == "" || key == "" || len(ns) > 64 || len(key) > 64 {
			t.Fatalf("%q?%q parsed to %q", path, query, req.name)
		}
	})
}

func newRequest(path, query string) (r *http.Request, err error) {
	if !strings.HasPrefix(path, Prefix) || strings.ContainsAny(path+query, " \r\n\t#?") {
		return nil, http.ErrNotSupported
	}
	defer func() {
		if recover() != nil { // httptest.NewRequest panics on a bad target
			r, err = nil, http.ErrNotSupported
		}
	}()
	target := "http://h" + path
	if query != "" {
		target += "?" + query
	}
	return httptest.NewRequest("GET", target, nil), nil
}

// FuzzRange: parseRange stays inside the object.
func FuzzRange(f *testing.F) {
	f.Add("bytes=0-9", uint64(100))
	f.Add("bytes=-5", uint64(3))
	f.Add("bytes=5-", uint64(0))
	f.Add("bytes=18446744073709551615-", uint64(1<<63))
	f.Fuzz(func(t *testing.T, v string, size uint64) {
		br, ok, err := parseRange(v, size)
		if ok && err == nil && (br.length == 0 || br.start >= size || br.length > size-br.start) {
			t.Fatalf("range %q of %d: %+v", v, size, br)
		}
	})
}
