package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/blob"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/httpapi"
	"github.com/elliptics/elliptics/core/server/clustertest"
)

// testAPI is an in-process cluster of two nodes (groups 1 and 2) with the
// handler served over real HTTP in front of it.
type testAPI struct {
	t    testing.TB
	url  string
	sess *client.Session
}

// startAPI starts the cluster (blob backends on disk, so the objects do not
// count in the heap) and the handler with opts.
func startAPI(t testing.TB, opts httpapi.Options) *testAPI {
	t.Helper()
	ctx := context.Background()
	dirs := []string{t.TempDir(), t.TempDir()}
	_, n := startBlobCluster(t, ctx, 2, dirs)
	sess := client.NewSession(n)
	srv := httptest.NewServer(httpapi.New(sess, opts))
	t.Cleanup(srv.Close)
	return &testAPI{t: t, url: srv.URL, sess: sess}
}

// objURL is the URL of key in namespace ns, with query q (may be "").
func (a *testAPI) objURL(ns, key, q string) string {
	u := &url.URL{Path: "/v1/" + url.PathEscape(ns) + "/" + key, RawQuery: q}
	return a.url + u.String()
}

// do sends a request and returns the response with its body read.
func (a *testAPI) do(method, u string, body io.Reader, hdr ...string) (*http.Response, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(a.t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return resp, string(b)
}

// put stores data and returns the ETag.
func (a *testAPI) put(ns, key, data string) string {
	a.t.Helper()
	resp, body := a.do(http.MethodPut, a.objURL(ns, key, ""), strings.NewReader(data))
	require.Equal(a.t, http.StatusNoContent, resp.StatusCode, body)
	require.NotEmpty(a.t, resp.Header.Get("ETag"))
	return resp.Header.Get("ETag")
}

// errorCode decodes the JSON error body.
func errorCode(t *testing.T, body string) int32 {
	t.Helper()
	var e struct {
		Error string `json:"error"`
		Code  int32  `json:"code"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Error)
	return e.Code
}

// startBlobCluster starts a converged cluster of len(dirs) nodes over
// groups groups, node i with a blob backend in dirs[i], and a client of it.
func startBlobCluster(t testing.TB, ctx context.Context, groups int, dirs []string) (*clustertest.Cluster, *client.Node) {
	t.Helper()
	c, err := clustertest.Start(clustertest.Options{Nodes: len(dirs), Groups: groups,
		Backend: func(i int) (backend.Backend, error) {
			return blob.Open(dirs[i], blob.Options{Sync: blob.SyncNone})
		}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.WaitConverged(ctx))
	n, err := c.Client(ctx, client.Config{WaitTimeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return c, n
}
