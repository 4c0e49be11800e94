package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/statuspage"
)

// chromiumOnce installs Chromium (Debian's chromium package) once per run
// when it is missing and we are root with apt-get, as make test does.
var (
	chromiumOnce sync.Once
	chromiumPath string
	chromiumWhy  string
)

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chromium returns the path of a Chromium binary, or skips the test with
// the reason there is none.
func chromium(t *testing.T) string {
	t.Helper()
	chromiumOnce.Do(func() {
		if chromiumPath = findChromium(); chromiumPath != "" {
			return
		}
		if os.Geteuid() != 0 {
			chromiumWhy = "chromium is not installed and we are not root to install it: apt-get install chromium"
			return
		}
		if _, err := exec.LookPath("apt-get"); err != nil {
			chromiumWhy = "chromium is not installed and there is no apt-get to install it"
			return
		}
		install := func() ([]byte, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", "chromium")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			return cmd.CombinedOutput()
		}
		out, err := install()
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			_ = exec.CommandContext(ctx, "apt-get", "update", "-qq").Run()
			cancel()
			out, err = install()
		}
		if chromiumPath = findChromium(); chromiumPath == "" {
			chromiumWhy = fmt.Sprintf("apt-get install chromium failed: %v\n%s", err, lastLines(out, 5))
		}
	})
	if chromiumPath == "" {
		t.Skip("status page browser test skipped: " + chromiumWhy)
	}
	return chromiumPath
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// headless runs Chromium headless on url with extra (--dump-dom,
// --screenshot=...) and returns its standard output. The flags keep it off
// the network (this machine's is closed) and out of any profile.
func headless(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
		// The page's first refresh (and a second one) before the DOM is
		// taken: timers run on virtual time, the fetches for real.
		"--virtual-time-budget=5000"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.Dir = t.TempDir()
	// Chromium forks helpers: on a timeout the whole process group goes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), "chromium %s: %s", strings.Join(extra, " "), lastLines(errb.Bytes(), 20))
	return out.Bytes()
}

// statusPageCluster starts 3 nodes, one per group, each with its monitor
// port, all joined through the first.
func statusPageCluster(t *testing.T) (addrs, httpAddrs []string, daemons []*daemon) {
	var first string
	for g := 1; g <= 3; g++ {
		dir, addr, httpAddr := t.TempDir(), freeAddr(t), freeAddr(t)
		remotes := ""
		if first == "" {
			first = addr
		} else {
			remotes = fmt.Sprintf("remotes = [%q]", first)
		}
		conf := filepath.Join(dir, "node.toml")
		require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`[node]
listen = [%q]
%s
data_dir = %q

[monitor]
http_addr = %q

[[backend]]
group = %d
type = "blob"
sync = "none"
`, addr, remotes, filepath.Join(dir, "data"), httpAddr, g)), 0o644))
		daemons = append(daemons, startDaemon(t, dir, "--config", conf))
		addrs, httpAddrs = append(addrs, addr), append(httpAddrs, httpAddr)
	}
	return addrs, httpAddrs, daemons
}

var (
	reNodeRow = regexp.MustCompile(`<tr data-node="([^"]+)" data-state="([^"]+)"`)
	reGroup   = regexp.MustCompile(`<section class="group" data-group="(\d+)" data-total="([0-9.]+)">`)
	reShare   = regexp.MustCompile(`data-backend="([^"]+)" data-share="([0-9.]+)"`)
	reRefresh = regexp.MustCompile(`<body data-refreshed="(\d+)"`)
)

// nodeRow returns the row of the node at addr of a dumped DOM.
func nodeRow(dom, addr string) string {
	return regexp.MustCompile(`(?s)<tr data-node="` + regexp.QuoteMeta(addr) + `".*?</tr>`).FindString(dom)
}

// nodeRows returns the state of every node row of a dumped DOM.
func nodeRows(dom string) map[string]string {
	out := map[string]string{}
	for _, m := range reNodeRow.FindAllStringSubmatch(dom, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// The status page in a real browser: headless Chromium loads it from a
// node of a 3-node cluster of real processes; the DOM lists every node
// with its statistics and every group's ring with each backend's share;
// a screenshot is taken; with a node killed, the page shows it unreachable.
func TestStatusPageInBrowser(t *testing.T) {
	bin := chromium(t)
	addrs, httpAddrs, daemons := statusPageCluster(t)
	s := session(t, addrs[0])
	waitTable(t, s, 3)
	s.SetGroups(1, 2, 3)
	s.SetChecker(client.CheckAll)
	ctx := context.Background()
	for i := range 30 {
		_, err := s.Write(ctx, client.NewKey(fmt.Sprintf("page-%d", i)), bytes.Repeat([]byte("x"), 1000))
		require.NoError(t, err)
	}
	// Every node knows every other before the page is loaded.
	for _, a := range addrs[1:] {
		waitTable(t, session(t, a), 3)
	}
	url := "http://" + httpAddrs[0] + "/"

	// Retried: on a loaded machine a node may miss a gather's deadline.
	var dom string
	require.Eventually(t, func() bool {
		dom = string(headless(t, bin, url, "--dump-dom"))
		if len(nodeRows(dom)) != 3 {
			return false
		}
		for _, a := range addrs {
			if !strings.Contains(nodeRow(dom, a), `data-field="rps"`) {
				return false
			}
		}
		return true
	}, 60*time.Second, time.Second, "the page lists 3 nodes with statistics")
	m := reRefresh.FindStringSubmatch(dom)
	require.NotNil(t, m, "the page refreshed")
	n, _ := strconv.Atoi(m[1])
	require.GreaterOrEqual(t, n, 1)

	rows := nodeRows(dom)
	for i, a := range addrs {
		want := "connected"
		if i == 0 {
			want = "self"
		}
		require.Equal(t, want, rows[a], "state of %s", a)
		row := nodeRow(dom, a)
		require.Contains(t, row, `data-field="rps"`, "statistics of %s", a)
		require.Contains(t, row, `data-field="objects">30<`, "objects of %s", a)
	}

	groups := reGroup.FindAllStringSubmatchIndex(dom, -1)
	require.Len(t, groups, 3, "3 groups on the page")
	for i, g := range groups {
		require.Equal(t, strconv.Itoa(i+1), dom[g[2]:g[3]])
		total, err := strconv.ParseFloat(dom[g[4]:g[5]], 64)
		require.NoError(t, err)
		require.InDelta(t, 100, total, 0.01, "group %d shares add up", i+1)
		end := len(dom)
		if i+1 < len(groups) {
			end = groups[i+1][0]
		}
		shares := reShare.FindAllStringSubmatch(dom[g[0]:end], -1)
		require.Len(t, shares, 1, "group %d: one backend", i+1)
		require.Equal(t, addrs[i]+"/0", shares[0][1])
		require.Equal(t, "100.0000", shares[0][2])
		require.Contains(t, dom[g[0]:end], "100.00%", "the share as text")
	}

	screenshot(t, bin, url, "status.png")

	// A node down: the page still lists it, unreachable, and the others
	// connected.
	daemons[2].kill()
	require.Eventually(t, func() bool {
		dom = string(headless(t, bin, url, "--dump-dom"))
		rows := nodeRows(dom)
		// The state comes from the route table, the reason from the
		// statistics gather (cached for a second): wait for both.
		return rows[addrs[2]] == "unreachable" && rows[addrs[0]] == "self" && rows[addrs[1]] == "connected" &&
			strings.Contains(nodeRow(dom, addrs[2]), "unreachable:")
	}, 60*time.Second, time.Second, "the page shows %s unreachable, with the reason", addrs[2])
	// Once its only node left the route table, group 3 is shown lost.
	if !strings.Contains(dom, `<section class="group" data-group="3"`) {
		require.Contains(t, dom, `<section class="group missing" data-group="3" data-missing="">`)
	}
	screenshot(t, bin, url, "status-node-down.png")
}

// screenshot saves a screenshot of the page at url (1280×900) in a temp
// dir, and in $ELLIPTICS_SCREENSHOT_DIR when set, and checks it is a PNG
// of a drawn page.
func screenshot(t *testing.T, bin, url, name string) {
	t.Helper()
	shot := filepath.Join(t.TempDir(), name)
	headless(t, bin, url, "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars")
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "a PNG")
	require.Greater(t, len(png), 20_000, "a screenshot of a page, not a blank one")
	if dir := os.Getenv("ELLIPTICS_SCREENSHOT_DIR"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}

func getStatus(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v), url)
}

// The page's JSON endpoints on real processes, without a browser: the
// ring, the nodes, the cluster gather; a killed node turns unreachable in
// the gather of the others and stays listed.
func TestStatusPageJSON(t *testing.T) {
	addrs, httpAddrs, daemons := statusPageCluster(t)
	for _, a := range addrs {
		waitTable(t, session(t, a), 3)
	}
	base := "http://" + httpAddrs[1]

	var ring statuspage.RingReply
	getStatus(t, base+"/status/ring", &ring)
	require.Equal(t, addrs[1], ring.Self)
	require.Len(t, ring.Groups, 3)
	for i, g := range ring.Groups {
		require.Equal(t, uint32(i+1), g.Group)
		require.Len(t, g.Backends, 1)
		require.Equal(t, addrs[i], g.Backends[0].Address)
		require.InDelta(t, 100, g.Backends[0].SharePercent, 1e-9)
	}

	var nodes statuspage.NodesReply
	getStatus(t, base+"/status/nodes", &nodes)
	require.Len(t, nodes.Nodes, 3)
	states := map[string]string{}
	for _, n := range nodes.Nodes {
		states[n.Address] = n.State
	}
	require.Equal(t, map[string]string{addrs[0]: "connected", addrs[1]: "self", addrs[2]: "connected"}, states)

	// Retried: on a loaded machine a node may miss a gather's deadline.
	var cl statuspage.ClusterReply
	require.Eventually(t, func() bool {
		getStatus(t, base+"/status/cluster", &cl)
		for _, n := range cl.Nodes {
			if !n.Reachable {
				return false
			}
		}
		return len(cl.Nodes) == 3
	}, 30*time.Second, 200*time.Millisecond, "every node answers the gather")
	for _, n := range cl.Nodes {
		require.NotEmpty(t, n.Version)
		require.NotZero(t, n.DiskTotal)
		require.Len(t, n.Backends, 1)
	}

	daemons[0].kill()
	require.Eventually(t, func() bool {
		var cl statuspage.ClusterReply
		getStatus(t, base+"/status/cluster", &cl)
		for _, n := range cl.Nodes {
			if n.Address == addrs[0] {
				return !n.Reachable && n.Error != ""
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "the killed node %s unreachable in the gather", addrs[0])
	getStatus(t, base+"/status/nodes", &nodes)
	require.Len(t, nodes.Nodes, 3, "the killed node stays listed")
}
