package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/httpapi"
)

func TestRanges(t *testing.T) {
	// A small chunk, so that ranges span several reads.
	a := startAPI(t, httpapi.Options{Chunk: 4})
	const obj = "0123456789"
	a.put("ns", "digits", obj)
	for _, tc := range []struct {
		rng      string
		want     int
		body     string
		contentR string
	}{
		{"bytes=0-3", 206, "0123", "bytes 0-3/10"},
		{"bytes=3-3", 206, "3", "bytes 3-3/10"},
		{"bytes=2-8", 206, "2345678", "bytes 2-8/10"},
		{"bytes=7-", 206, "789", "bytes 7-9/10"},
		{"bytes=-3", 206, "789", "bytes 7-9/10"},
		{"bytes=5-100", 206, "56789", "bytes 5-9/10"},
		{"bytes=-100", 206, obj, "bytes 0-9/10"},
		{"bytes=0-18446744073709551616", 206, obj, "bytes 0-9/10"},
		{" BYTES = 1-2 ", 206, "12", "bytes 1-2/10"},
		{"bytes=10-", 416, "", "bytes */10"},
		{"bytes=10-20", 416, "", "bytes */10"},
		{"bytes=5-2", 416, "", "bytes */10"},
		{"bytes=-0", 416, "", "bytes */10"},
		{"bytes=abc", 416, "", "bytes */10"},
		{"bytes=+1-2", 416, "", "bytes */10"},
		{"bytes=0-1,3-4", 200, obj, ""},
		{"items=0-1", 200, obj, ""},
	} {
		resp, body := a.do(http.MethodGet, a.objURL("ns", "digits", ""), nil, "Range", tc.rng)
		require.Equal(t, tc.want, resp.StatusCode, "%q: %s", tc.rng, body)
		require.Equal(t, tc.contentR, resp.Header.Get("Content-Range"), tc.rng)
		if tc.want == 416 {
			continue
		}
		require.Equal(t, tc.body, body, tc.rng)
		// HEAD answers the same status and headers.
		hresp, hbody := a.do(http.MethodHead, a.objURL("ns", "digits", ""), nil, "Range", tc.rng)
		require.Equal(t, tc.want, hresp.StatusCode, tc.rng)
		require.Empty(t, hbody)
		require.Equal(t, resp.Header.Get("Content-Length"), hresp.Header.Get("Content-Length"), tc.rng)
	}

	// If-Range: the range applies to the version named only.
	tag := a.put("ns", "digits", obj)
	resp, body := a.do(http.MethodGet, a.objURL("ns", "digits", ""), nil, "Range", "bytes=0-1", "If-Range", tag)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, "01", body)
	resp, body = a.do(http.MethodGet, a.objURL("ns", "digits", ""), nil, "Range", "bytes=0-1", "If-Range", `"stale"`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, obj, body)

	// An empty object has no byte to cut.
	a.put("ns", "empty", "")
	resp, _ = a.do(http.MethodGet, a.objURL("ns", "empty", ""), nil, "Range", "bytes=0-0")
	require.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	require.Equal(t, "bytes */0", resp.Header.Get("Content-Range"))
	resp, body = a.do(http.MethodGet, a.objURL("ns", "empty", ""), nil, "Range", "bytes=-5")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, body)

	// A whole GET of an object of many chunks.
	big := strings.Repeat("abcdefghij", 10)
	a.put("ns", "big", big)
	resp, body = a.do(http.MethodGet, a.objURL("ns", "big", ""), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, big, body)
}
