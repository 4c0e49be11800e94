package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/httpapi"
	"github.com/elliptics/elliptics/core/status"
)

func TestRoundTripHeadDelete(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	tag := a.put("ns", "greeting", "hello, world")

	resp, body := a.do(http.MethodGet, a.objURL("ns", "greeting", ""), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "hello, world", body)
	require.Equal(t, tag, resp.Header.Get("ETag"))
	require.Equal(t, "12", resp.Header.Get("Content-Length"))
	require.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"))
	_, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	require.NoError(t, err)

	resp, body = a.do(http.MethodHead, a.objURL("ns", "greeting", ""), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, tag, resp.Header.Get("ETag"))
	require.Equal(t, "12", resp.Header.Get("Content-Length"))

	// A new version has a new tag.
	tag2 := a.put("ns", "greeting", "hello again")
	require.NotEqual(t, tag, tag2)

	resp, _ = a.do(http.MethodDelete, a.objURL("ns", "greeting", ""), nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		resp, body = a.do(m, a.objURL("ns", "greeting", ""), nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, m)
		require.Equal(t, int32(status.NotFound), errorCode(t, body), m)
	}
	resp, body = a.do(http.MethodHead, a.objURL("ns", "greeting", ""), nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Empty(t, body)
}

func TestEmptyObject(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	a.put("ns", "empty", "")
	resp, body := a.do(http.MethodGet, a.objURL("ns", "empty", ""), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Empty(t, body)
	require.Equal(t, "0", resp.Header.Get("Content-Length"))
}

func TestKeysAndNamespaces(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	keys := []string{"a/b/c.txt", "dir//double/", "ключ/ü 🚀?#&=%", "/leading"}
	for _, k := range keys {
		a.put("ns", k, "v:"+k)
	}
	for _, k := range keys {
		resp, body := a.do(http.MethodGet, a.objURL("ns", k, ""), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, k)
		require.Equal(t, "v:"+k, body, k)
		// The key is the client's key in the namespace: other bindings
		// read the same object.
		s := a.sess.Clone()
		s.SetNamespace("ns")
		e, err := s.Read(context.Background(), client.NewKey(k), 0, 0)
		require.NoError(t, err, k)
		require.Equal(t, "v:"+k, string(e.Data), k)
	}
	// Namespaces separate keys.
	resp, _ := a.do(http.MethodGet, a.objURL("other", keys[0], ""), nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	a.put("sp ace/ns", keys[0], "in another namespace")
	resp, body := a.do(http.MethodGet, a.objURL("sp ace/ns", keys[0], ""), nil)
	require.Equal(t, "in another namespace", body, resp.Status)
}

func TestBadRequests(t *testing.T) {
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	a := startAPI(t, httpapi.Options{MaxKey: 16, MaxBody: 100})
	for _, tc := range []struct {
		method, path string
		body         string
		want         int
		code         status.Code
	}{
		{http.MethodGet, "/v1/ns", "", http.StatusBadRequest, status.Invalid},
		{http.MethodGet, "/v1/ns/", "", http.StatusBadRequest, status.Invalid},
		{http.MethodGet, "/v1//key", "", http.StatusBadRequest, status.Invalid},
		{http.MethodGet, "/v1/ns/" + strings.Repeat("k", 17), "", http.StatusRequestEntityTooLarge, status.TooLarge},
		{http.MethodGet, "/v1/ns/k?groups=x", "", http.StatusBadRequest, status.Invalid},
		{http.MethodGet, "/v1/ns/k?groups=0", "", http.StatusBadRequest, status.Invalid},
		{http.MethodGet, "/v1/ns/k?groups=" + manyGroups(65), "", http.StatusRequestEntityTooLarge, status.TooLarge},
		{http.MethodPost, "/v1/ns/k", "", http.StatusMethodNotAllowed, status.Unsupported},
		{http.MethodPut, "/v1/ns/k", strings.Repeat("x", 101), http.StatusRequestEntityTooLarge, status.TooLarge},
		{http.MethodGet, "/metrics", "", http.StatusNotFound, status.NotFound},
	} {
		resp, body := a.do(tc.method, a.url+tc.path, strings.NewReader(tc.body))
		require.Equal(t, tc.want, resp.StatusCode, "%s %s: %s", tc.method, tc.path, body)
		require.Equal(t, int32(tc.code), errorCode(t, body), "%s %s", tc.method, tc.path)
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	}
	// A body of unknown length over the limit.
	resp, body := a.do(http.MethodPut, a.url+"/v1/ns/k", struct{ *strings.Reader }{strings.NewReader(strings.Repeat("x", 101))})
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, body)

	// Outside /v1/ the fallback answers.
	b := startAPI(t, httpapi.Options{Fallback: fallback})
	resp, _ = b.do(http.MethodGet, b.url+"/bucket/key", nil)
	require.Equal(t, http.StatusTeapot, resp.StatusCode)
}

// manyGroups is "1,2,...,n".
func manyGroups(n int) string {
	gs := make([]string, n)
	for i := range gs {
		gs[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(gs, ",")
}

func TestGroupsQuery(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	resp, body := a.do(http.MethodPut, a.objURL("ns", "only-in-1", "groups=1"), strings.NewReader("one"))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	require.Equal(t, "1=0", resp.Header.Get(httpapi.GroupsHeader))
	resp, _ = a.do(http.MethodGet, a.objURL("ns", "only-in-1", "groups=2"), nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, body = a.do(http.MethodGet, a.objURL("ns", "only-in-1", "groups=2,1"), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "one", body)

	// Each group's outcome is reported: group 7 has no node.
	resp, body = a.do(http.MethodPut, a.objURL("ns", "partial", "groups=1,7,2"), strings.NewReader("p"))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	require.Equal(t, fmt.Sprintf("1=0, 7=%d, 2=0", status.NoRoute), resp.Header.Get(httpapi.GroupsHeader))
	// (only-in-1 is in group 2 too now: the read above repaired it.)
	a.do(http.MethodPut, a.objURL("ns", "only-in-1-again", "groups=1"), strings.NewReader("one"))
	resp, body = a.do(http.MethodDelete, a.objURL("ns", "only-in-1-again", "groups=2,1"), nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	require.Equal(t, fmt.Sprintf("2=%d, 1=0", status.NotFound), resp.Header.Get(httpapi.GroupsHeader))
	// Repeats count once.
	resp, body = a.do(http.MethodGet, a.objURL("ns", "only-in-1", "groups=1,1,1,"+manyGroups(64)), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)

	// Options.Groups is the default of requests naming none.
	b := startAPI(t, httpapi.Options{Groups: []uint32{2}})
	b.put("ns", "k", "two")
	s := b.sess.Clone()
	s.SetNamespace("ns")
	s.SetGroups(1)
	_, err := s.Read(context.Background(), client.NewKey("k"), 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)
	s.SetGroups(2)
	e, err := s.Read(context.Background(), client.NewKey("k"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "two", string(e.Data))
}
