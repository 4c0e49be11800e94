package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/statuspage"
)

// GET / is the status page for a browser and the MONITOR_STAT JSON for
// everyone else; /all stays JSON; the page's data is under /status.
func TestMonitorServesStatusPage(t *testing.T) {
	srv, _ := startMonitored(t)
	base := "http://" + srv.HTTPAddr().String()
	fetch := func(path, accept string) (string, string) {
		t.Helper()
		req, err := http.NewRequest("GET", base+path, nil)
		require.NoError(t, err)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
		return resp.Header.Get("Content-Type"), string(body)
	}
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	ct, body := fetch("/", browser)
	require.True(t, strings.HasPrefix(ct, "text/html"), ct)
	require.Contains(t, body, "<title>Elliptics status</title>")
	for _, accept := range []string{"", "*/*", "application/json"} {
		ct, body = fetch("/", accept)
		require.Equal(t, "application/json", ct, "Accept %q", accept)
		require.Contains(t, body, `"monitor_status":"enabled"`)
	}
	ct, _ = fetch("/?categories=stats", browser)
	require.Equal(t, "application/json", ct)
	ct, _ = fetch("/all", browser)
	require.Equal(t, "application/json", ct)
	ct, _ = fetch("/status/", "")
	require.True(t, strings.HasPrefix(ct, "text/html"), ct)

	_, body = fetch("/status/nodes", "")
	var nodes statuspage.NodesReply
	require.NoError(t, json.Unmarshal([]byte(body), &nodes))
	require.Len(t, nodes.Nodes, 1)
	require.Equal(t, srv.Addrs()[0].String(), nodes.Self)
	require.Equal(t, statuspage.StateSelf, nodes.Nodes[0].State)
	_, body = fetch("/status/ring", "")
	var ring statuspage.RingReply
	require.NoError(t, json.Unmarshal([]byte(body), &ring))
	require.Len(t, ring.Groups, 1)
	require.InDelta(t, 100, ring.Groups[0].Backends[0].SharePercent, 1e-9)
	_, body = fetch("/status/cluster", "")
	var cl statuspage.ClusterReply
	require.NoError(t, json.Unmarshal([]byte(body), &cl))
	require.Len(t, cl.Nodes, 1)
	require.True(t, cl.Nodes[0].Reachable, cl.Nodes[0].Error)
	require.Equal(t, "test", cl.Nodes[0].Version)
	require.NotZero(t, cl.Nodes[0].DiskTotal, "blob backend's file system")
	_, _ = fetch("/metrics", "")
}
