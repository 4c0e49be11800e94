package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
)

// httpNode starts a blob node of group 1 with the HTTP object API (chunk
// 1MiB, so that a few MiB stream in several requests) and returns its
// address and the API's base URL.
func httpNode(t *testing.T, seed string) (addr, api string) {
	t.Helper()
	dir, addr, httpAddr := t.TempDir(), freeAddr(t), freeAddr(t)
	remotes := ""
	if seed != "" {
		remotes = fmt.Sprintf("remotes = [%q]", seed)
	}
	conf := filepath.Join(dir, "node.toml")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[node]
listen = [%q]
%s
data_dir = %q

[http]
addr = %q
chunk = "1MiB"

[[backend]]
group = 1
type = "blob"
sync = "none"
`, addr, remotes, filepath.Join(dir, "data"), httpAddr)), 0o644))
	startDaemon(t, dir, "--config", conf)
	return addr, "http://" + httpAddr + "/v1/"
}

// httpDo sends a request and returns the status, headers and body.
func httpDo(t *testing.T, method, url string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// keyOwnedBy returns a key of namespace ns whose owner in group 1 is addr.
func keyOwnedBy(t *testing.T, sess *client.Session, ns, addr string) string {
	t.Helper()
	s := sess.Clone()
	s.SetNamespace(ns)
	for i := range 1000 {
		k := fmt.Sprintf("dir/key-%d", i)
		oid, err := s.ID(client.NewKey(k))
		require.NoError(t, err)
		if b, ok := sess.Node().Table().Owner(oid, 1); ok && b.Addr == addr {
			return k
		}
	}
	t.Fatalf("no key owned by %s", addr)
	return ""
}

// TestHTTPAPI: through node A's HTTP API, PUT, GET (whole and ranged) and
// DELETE a key that node B owns; then the same through a stateless
// frontend process with no backends.
func TestHTTPAPI(t *testing.T) {
	a, apiA := httpNode(t, "")
	b, apiB := httpNode(t, a)
	sess := session(t, a, b)
	require.Eventually(t, func() bool { return sess.Node().Table().Len() == 2 }, 10*time.Second, 20*time.Millisecond)
	key := keyOwnedBy(t, sess, "e2e", b)

	body := make([]byte, 3<<20+12345)
	for i := range body {
		body[i] = byte(i % 253)
	}
	code, hdr, out := httpDo(t, http.MethodPut, apiA+"e2e/"+key, body)
	require.Equal(t, http.StatusNoContent, code, string(out))
	etag := hdr.Get("ETag")
	require.NotEmpty(t, etag)

	// The object is B's: read it from B alone with the client.
	nb := client.NewNode(client.Config{WaitTimeout: 5 * time.Second})
	t.Cleanup(func() { nb.Close() })
	require.NoError(t, nb.AddRemotes(context.Background(), b))
	sb := client.NewSession(nb)
	sb.SetNamespace("e2e")
	e, err := sb.Lookup(context.Background(), client.NewKey(key))
	require.NoError(t, err)
	require.Equal(t, b, e.Address)
	require.Equal(t, uint64(len(body)), e.TotalSize)

	code, hdr, out = httpDo(t, http.MethodGet, apiA+"e2e/"+key, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, etag, hdr.Get("ETag"))
	require.True(t, bytes.Equal(body, out), "GET returned %d bytes, not what was PUT", len(out))

	code, hdr, out = httpDo(t, http.MethodGet, apiA+"e2e/"+key, nil, "Range", "bytes=1048570-1048589")
	require.Equal(t, http.StatusPartialContent, code)
	require.Equal(t, fmt.Sprintf("bytes 1048570-1048589/%d", len(body)), hdr.Get("Content-Range"))
	require.Equal(t, body[1048570:1048590], out)
	code, hdr, _ = httpDo(t, http.MethodGet, apiA+"e2e/"+key, nil, "Range", fmt.Sprintf("bytes=%d-", len(body)))
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, code)
	require.Equal(t, fmt.Sprintf("bytes */%d", len(body)), hdr.Get("Content-Range"))

	code, _, _ = httpDo(t, http.MethodGet, apiB+"e2e/"+key, nil, "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, code)
	code, _, _ = httpDo(t, http.MethodPut, apiA+"e2e/"+key, []byte("x"), "If-None-Match", "*")
	require.Equal(t, http.StatusPreconditionFailed, code)

	code, _, _ = httpDo(t, http.MethodDelete, apiA+"e2e/"+key, nil)
	require.Equal(t, http.StatusNoContent, code)
	code, _, out = httpDo(t, http.MethodGet, apiB+"e2e/"+key, nil)
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, string(out), `"code":-2`)

	// A frontend: no backends of its own, the same API.
	fe := startDaemon(t, "", "--frontend", "--remote", a, "--http-api", "127.0.0.1:0", "--log-level", "warn")
	apiF := "http://" + fe.Addr + "/v1/"
	var fcode int
	require.Eventually(t, func() bool {
		fcode, _, _ = httpDo(t, http.MethodPut, apiF+"e2e/"+key+"?groups=1", []byte("from the frontend"))
		return fcode == http.StatusNoContent
	}, 10*time.Second, 50*time.Millisecond, "PUT through the frontend: %d", fcode)
	code, _, out = httpDo(t, http.MethodGet, apiA+"e2e/"+key, nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "from the frontend", string(out))
	code, _, out = httpDo(t, http.MethodGet, apiF+"e2e/"+key, nil, "Range", "bytes=-8")
	require.Equal(t, http.StatusPartialContent, code)
	require.Equal(t, "frontend", string(out))
	require.NoError(t, fe.stop())
	require.False(t, strings.Contains(fe.stderr.String(), "panic"), fe.stderr.String())
}
