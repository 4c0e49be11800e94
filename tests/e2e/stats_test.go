package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/stats"
)

// statsCluster starts 2 groups × 2 blob nodes, each with its monitor HTTP
// port, without automatic recovery (its copies would be traffic the test
// did not send), and returns the nodes' addresses and HTTP addresses.
func statsCluster(t *testing.T) (addrs, httpAddrs []string) {
	var first string
	for g := 1; g <= 2; g++ {
		for range 2 {
			dir, addr, httpAddr := t.TempDir(), freeAddr(t), freeAddr(t)
			if first == "" {
				first = addr
			}
			remotes := ""
			if addr != first {
				remotes = fmt.Sprintf("remotes = [%q]", first)
			}
			conf := filepath.Join(dir, "node.toml")
			require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[node]
listen = [%q]
%s
data_dir = %q

[monitor]
http_addr = %q

[recovery]
auto = false

[[backend]]
group = %d
type = "blob"
sync = "none"
`, addr, remotes, filepath.Join(dir, "data"), httpAddr, g)), 0o644))
			startDaemon(t, dir, "--config", conf)
			addrs, httpAddrs = append(addrs, addr), append(httpAddrs, httpAddr)
		}
	}
	return addrs, httpAddrs
}

func scrapeCounter(t *testing.T, httpAddr, series string) float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + httpAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// Real processes: the statistics of every node, gathered in one call, add
// up to the traffic sent, and each node's /metrics agrees.
func TestStatsCluster(t *testing.T) {
	addrs, httpAddrs := statsCluster(t)
	s := session(t, addrs[0])
	waitTable(t, s, 4)
	s.SetGroups(1, 2)
	s.SetChecker(client.CheckAll)
	ctx := context.Background()
	const writes, reads = 50, 30
	for i := range writes {
		_, err := s.Write(ctx, client.NewKey(fmt.Sprintf("stat-%d", i)), []byte("statistics"))
		require.NoError(t, err)
	}
	r := s.Clone()
	r.SetGroups(2)
	for i := range reads {
		_, err := r.Read(ctx, client.NewKey(fmt.Sprintf("stat-%d", i)), 0, 0)
		require.NoError(t, err)
	}

	rs, err := s.MonitorStat(ctx, "", stats.CategoryAll)
	require.NoError(t, err)
	require.Len(t, rs, 4)
	var w, rd, objects uint64
	for _, res := range rs {
		require.NoError(t, res.Err)
		require.Contains(t, addrs, res.Address)
		if f := res.Stats.Commands["WRITE"].Storage; f != nil {
			w += f.Count
		}
		if f := res.Stats.Commands["READ"].Storage; f != nil {
			rd += f.Count
		}
		for _, b := range res.Stats.Backends {
			objects += b.Objects
			require.NotNil(t, b.DataFiles, "blob figures")
		}
		require.NotNil(t, res.Stats.Procfs)
	}
	require.Equal(t, uint64(2*writes), w, "each write stored in both groups")
	require.Equal(t, uint64(reads), rd)
	require.Equal(t, uint64(2*writes), objects)

	// Each node's /metrics counts what its MONITOR_STAT says.
	var scraped float64
	for _, h := range httpAddrs {
		scraped += scrapeCounter(t, h, `elliptics_requests_total{cmd="WRITE",source="storage",status="ok"}`)
	}
	require.Equal(t, float64(2*writes), scraped)
}
