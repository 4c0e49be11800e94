package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/httpapi"
)

// rawPut sends the head of a PUT with Content-Length size and sent bytes
// of its body, then closes (closeWrite) or keeps the connection, and
// returns the reply's status.
func rawPut(t *testing.T, a *testAPI, path string, size, sent int, closeWrite bool) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", path, size)
	require.NoError(t, err)
	_, err = c.Write([]byte(strings.Repeat("b", sent)))
	require.NoError(t, err)
	if closeWrite {
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
	}
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestUploadCutShort: a client that goes away or stalls in the middle of a
// streamed body gets 400 or 408, and no part of its upload becomes visible.
func TestUploadCutShort(t *testing.T) {
	a := startAPI(t, httpapi.Options{Chunk: 64 << 10, IdleTimeout: 300 * time.Millisecond})
	a.put("ns", "old", "old value")

	// A client gone: 400 (short body) or 499 (the server saw it go and
	// cancelled the request first), whichever comes first.
	gone := []int{http.StatusBadRequest, 499}
	require.Contains(t, gone, rawPut(t, a, "/v1/ns/gone", 1<<20, 300<<10, true))
	require.Equal(t, http.StatusRequestTimeout, rawPut(t, a, "/v1/ns/stalled", 1<<20, 300<<10, false))
	require.Contains(t, gone, rawPut(t, a, "/v1/ns/old", 1<<20, 300<<10, true))
	for _, k := range []string{"gone", "stalled"} {
		resp, _ := a.do(http.MethodGet, a.objURL("ns", k, ""), nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, k)
	}
	// An upload cut short does not become visible; the value it was to
	// replace is gone from view from its first chunk on (the prepare).
	resp, body := a.do(http.MethodGet, a.objURL("ns", "old", ""), nil)
	require.Contains(t, []int{http.StatusOK, http.StatusNotFound}, resp.StatusCode, body)
	if resp.StatusCode == http.StatusOK {
		require.Equal(t, "old value", body)
	}

	// The connection stays usable after a streamed upload.
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for i := range 3 {
		req, err := http.NewRequest(http.MethodPut, a.objURL("ns", "reused", ""), strings.NewReader(strings.Repeat("r", 200<<10)))
		require.NoError(t, err)
		resp, err := cl.Do(req)
		require.NoError(t, err, i)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode, i)
		resp, err = cl.Get(a.objURL("ns", "reused", ""))
		require.NoError(t, err, i)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, i)
	}
}

// TestDeadlinesDoNotOutliveRequests: the per-chunk deadlines of a GET or
// PUT are gone when the next request comes on the kept-alive connection,
// however long after.
func TestDeadlinesDoNotOutliveRequests(t *testing.T) {
	a := startAPI(t, httpapi.Options{Chunk: 4096, IdleTimeout: 200 * time.Millisecond})
	// The transport retries a request that fails on a reused connection:
	// counting dials shows a connection the server dropped.
	var dials atomic.Int32
	tr := &http.Transport{MaxConnsPerHost: 1, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	u := a.objURL("ns", "k", "")
	for i := range 3 {
		req, err := http.NewRequest(http.MethodPut, u, strings.NewReader(strings.Repeat("d", 10000)))
		require.NoError(t, err)
		resp, err := cl.Do(req)
		require.NoError(t, err, i)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode, i)
		time.Sleep(400 * time.Millisecond)
		resp, err = cl.Get(u)
		require.NoError(t, err, i)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err, i)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, i)
		time.Sleep(400 * time.Millisecond)
		resp, err = cl.Do(mustRequest(t, http.MethodDelete, u))
		require.NoError(t, err, i)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode, i)
	}
	require.Equal(t, int32(1), dials.Load(), "connections dialled")
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	require.NoError(t, err)
	return req
}
