package httpapi_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/elliptics/elliptics/core/httpapi"
)

func TestAccessLogAndShortBody(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	a := startAPI(t, httpapi.Options{Chunk: 4096, Logger: zap.New(core)})
	data := strings.Repeat("z", 10000)
	a.put("ns", "logged", data)
	resp, body := a.do(http.MethodGet, a.objURL("ns", "logged", ""), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, data, body)
	var got []int64
	for _, e := range logs.FilterMessage("http request").All() {
		got = append(got, e.ContextMap()["status"].(int64))
		if e.ContextMap()["method"] == http.MethodGet {
			require.Equal(t, int64(len(data)), e.ContextMap()["reply_bytes"])
		}
	}
	require.Equal(t, []int64{http.StatusNoContent, http.StatusOK}, got)

	// A body shorter than its Content-Length is the client's fault.
	c, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("PUT /v1/ns/short HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"))
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
