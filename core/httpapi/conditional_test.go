package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/httpapi"
	"github.com/elliptics/elliptics/core/status"
)

func TestConditionalPut(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	u := a.objURL("ns", "cas", "")

	// If-None-Match: * creates only.
	resp, body := a.do(http.MethodPut, u, strings.NewReader("v1"), "If-None-Match", "*")
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	tag1 := resp.Header.Get("ETag")
	resp, body = a.do(http.MethodPut, u, strings.NewReader("v1 again"), "If-None-Match", "*")
	require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, body)
	require.Equal(t, int32(status.Mismatch), errorCode(t, body))

	// If-Match: the current tag succeeds once.
	resp, body = a.do(http.MethodPut, u, strings.NewReader("v2"), "If-Match", tag1)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	tag2 := resp.Header.Get("ETag")
	require.NotEqual(t, tag1, tag2)
	resp, body = a.do(http.MethodPut, u, strings.NewReader("lost update"), "If-Match", tag1)
	require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, body)
	resp, body = a.do(http.MethodPut, u, strings.NewReader("weak"), "If-Match", "W/"+tag2)
	require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode, body)
	resp, body = a.do(http.MethodPut, u, strings.NewReader("v3"), "If-Match", `"other", `+tag2)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	resp, body = a.do(http.MethodPut, u, strings.NewReader("v4"), "If-Match", "*")
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	_, body = a.do(http.MethodGet, u, nil)
	require.Equal(t, "v4", body)

	// If-Match on a missing object fails, and creates nothing.
	missing := a.objURL("ns", "missing", "")
	resp, _ = a.do(http.MethodPut, missing, strings.NewReader("x"), "If-Match", "*")
	require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)
	resp, _ = a.do(http.MethodGet, missing, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	// If-None-Match with tags refuses the versions named.
	resp, _ = a.do(http.MethodHead, u, nil)
	cur := resp.Header.Get("ETag")
	resp, _ = a.do(http.MethodPut, u, strings.NewReader("v5"), "If-None-Match", cur)
	require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)
	resp, _ = a.do(http.MethodPut, u, strings.NewReader("v5"), "If-None-Match", `"other"`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}

func TestConditionalPutStreamed(t *testing.T) {
	// Bodies over a chunk are uploads: the condition is checked by their
	// prepare.
	a := startAPI(t, httpapi.Options{Chunk: 1024})
	u := a.objURL("ns", "big-cas", "")
	v1 := strings.Repeat("1", 5000)
	resp, body := a.do(http.MethodPut, u, strings.NewReader(v1), "If-None-Match", "*")
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	tag1 := resp.Header.Get("ETag")
	resp, _ = a.do(http.MethodPut, u, strings.NewReader(strings.Repeat("x", 5000)), "If-None-Match", "*")
	require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)
	v2 := strings.Repeat("2", 3000)
	resp, body = a.do(http.MethodPut, u, strings.NewReader(v2), "If-Match", tag1)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	resp, _ = a.do(http.MethodPut, u, strings.NewReader(v1), "If-Match", tag1)
	require.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)
	_, body = a.do(http.MethodGet, u, nil)
	require.Equal(t, v2, body)
}

func TestConditionalGet(t *testing.T) {
	a := startAPI(t, httpapi.Options{})
	u := a.objURL("ns", "page", "")
	tag := a.put("ns", "page", "content")
	resp, _ := a.do(http.MethodGet, u, nil)
	lastMod := resp.Header.Get("Last-Modified")

	for _, tc := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"if-none-match current", []string{"If-None-Match", tag}, http.StatusNotModified},
		{"if-none-match weak current", []string{"If-None-Match", "W/" + tag}, http.StatusNotModified},
		{"if-none-match star", []string{"If-None-Match", "*"}, http.StatusNotModified},
		{"if-none-match other", []string{"If-None-Match", `"other"`}, http.StatusOK},
		{"if-match current", []string{"If-Match", tag}, http.StatusOK},
		{"if-match other", []string{"If-Match", `"other"`}, http.StatusPreconditionFailed},
		{"if-modified-since last", []string{"If-Modified-Since", lastMod}, http.StatusNotModified},
		{"if-modified-since past", []string{"If-Modified-Since", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)}, http.StatusOK},
		{"if-unmodified-since past", []string{"If-Unmodified-Since", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)}, http.StatusPreconditionFailed},
		{"inm wins over ims", []string{"If-None-Match", `"other"`, "If-Modified-Since", lastMod}, http.StatusOK},
	} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			resp, body := a.do(m, u, nil, tc.hdr...)
			require.Equal(t, tc.want, resp.StatusCode, "%s %s: %s", m, tc.name, body)
			require.Equal(t, tag, resp.Header.Get("ETag"), "%s %s", m, tc.name)
			if tc.want == http.StatusNotModified {
				require.Empty(t, body)
			}
		}
	}
}
