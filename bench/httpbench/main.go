// Command httpbench measures the HTTP frontends with wrk: GET and PUT of
// objects of -sizes (4 KiB and 1 MiB) against ellipticsd's object API
// (/v1/, one node, one group, blob backend) and against SeaweedFS's filer
// (weed server, one master, one volume server, replication 000), in one
// run, on loopback. Each system is preloaded with -objects objects per
// size; wrk then reads (or overwrites) random ones for -duration with
// -connections connections.
//
//	go run ./bench/httpbench -weed /path/to/weed [-bin DIR] [-duration 10s] [-results bench/RESULTS.md]
//
// weed is built from its Go module (see bench/README.md); wrk is Debian's.
// Both store without an fsync per write here: ellipticsd's backend runs
// with sync = "none" (-sync), SeaweedFS's volume server does not fsync by
// default.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elliptics/elliptics/bench"
)

type target struct {
	name string
	base string // URL of the object with key k: base + k
}

type result struct {
	system, op string
	size       int
	rps        float64
	p50, p99   time.Duration
	errors     int
}

func main() {
	weed := flag.String("weed", os.Getenv("WEED"), "SeaweedFS `weed` binary (empty: only ellipticsd is measured)")
	bin := flag.String("bin", "", "directory holding ellipticsd (default $ELLIPTICS_BIN, else built)")
	duration := flag.Duration("duration", 10*time.Second, "each wrk run")
	conns := flag.Int("connections", 32, "wrk connections")
	threads := flag.Int("threads", 2, "wrk threads")
	objects := flag.Int("objects", 1000, "objects preloaded per size")
	syncMode := flag.String("sync", "none", "ellipticsd backend sync mode (always, interval, none)")
	results := flag.String("results", "", "file to append a dated section with the table to")
	flag.Parse()
	if err := run(*weed, *bin, *duration, *conns, *threads, *objects, *syncMode, *results); err != nil {
		fmt.Fprintln(os.Stderr, "httpbench:", err)
		os.Exit(1)
	}
}

func run(weed, binDir string, duration time.Duration, conns, threads, objects int, syncMode, results string) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk not found (apt-get install wrk)")
	}
	ctx := context.Background()
	bin, cleanup, err := bench.FindDaemon(ctx, binDir)
	if err != nil {
		return err
	}
	defer cleanup()
	ours, stopOurs, err := startElliptics(ctx, bin, syncMode)
	if err != nil {
		return err
	}
	defer stopOurs()
	targets := []target{ours}
	if weed != "" {
		sw, stopWeed, err := startWeed(weed)
		if err != nil {
			return err
		}
		defer stopWeed()
		targets = append(targets, sw)
	}
	sizes := []int{4 << 10, 1 << 20}
	var rows []result
	for _, size := range sizes {
		for _, tg := range targets {
			if err := preload(tg, size, objects); err != nil {
				return fmt.Errorf("%s: preload: %w", tg.name, err)
			}
			for _, op := range []string{"GET", "PUT"} {
				r, err := runWrk(tg, op, size, objects, duration, conns, threads)
				if err != nil {
					return fmt.Errorf("%s %s %d: %w", tg.name, op, size, err)
				}
				fmt.Fprintf(os.Stderr, "%s %s %s: %.0f req/s p50 %v p99 %v errors %d\n", r.system, op, human(size), r.rps, r.p50, r.p99, r.errors)
				rows = append(rows, r)
			}
		}
	}
	table := render(rows, targets)
	cmd := fmt.Sprintf("`go run ./bench/httpbench -weed WEED -duration %s -connections %d -threads %d -objects %d -sync %s`",
		duration, conns, threads, objects, syncMode)
	out := fmt.Sprintf("%s\n\n%s\n\n%s", bench.Machine(), cmd, table)
	fmt.Println(out)
	if results != "" {
		f, err := os.OpenFile(results, os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = fmt.Fprintf(f, "\n## HTTP frontends: ellipticsd vs SeaweedFS (issue 9), %s\n\n%s\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), out)
		return err
	}
	return nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startElliptics(ctx context.Context, bin, syncMode string) (target, func(), error) {
	work, err := os.MkdirTemp("", "httpbench-elliptics-")
	if err != nil {
		return target{}, nil, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return target{}, nil, err
	}
	cfg := filepath.Join(work, "node.toml")
	conf := fmt.Sprintf("[node]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = %q\nlog_level = \"warn\"\n\n[http]\naddr = %q\n\n[[backend]]\ngroup = 1\ntype = \"blob\"\nsync = %q\n",
		work, httpAddr, syncMode)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return target{}, nil, err
	}
	c, err := bench.StartChild(ctx, "ellipticsd", bin, []string{"--config", cfg}, "ellipticsd listening on ", work)
	if err != nil {
		os.RemoveAll(work)
		return target{}, nil, err
	}
	tg := target{name: "ellipticsd", base: "http://" + httpAddr + "/v1/bench/"}
	stop := func() { _ = c.Stop(); os.RemoveAll(work) }
	if err := waitPut(tg); err != nil {
		stop()
		return target{}, nil, err
	}
	return tg, stop, nil
}

func startWeed(weed string) (target, func(), error) {
	work, err := os.MkdirTemp("", "httpbench-weed-")
	if err != nil {
		return target{}, nil, err
	}
	var ports [3]string
	for i := range ports {
		a, err := freePort()
		if err != nil {
			return target{}, nil, err
		}
		_, ports[i], _ = net.SplitHostPort(a)
	}
	cmd := exec.Command(weed, "server", "-dir="+work, "-ip=127.0.0.1", "-master.port="+ports[0], "-volume.port="+ports[1],
		"-filer", "-filer.port="+ports[2], "-volume.max=50", "-master.defaultReplication=000")
	log, err := os.Create(filepath.Join(work, "weed.log"))
	if err != nil {
		return target{}, nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return target{}, nil, err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
		os.RemoveAll(work)
	}
	tg := target{name: "SeaweedFS", base: "http://127.0.0.1:" + ports[2] + "/bench/"}
	if err := waitPut(tg); err != nil {
		stop()
		return target{}, nil, err
	}
	return tg, stop, nil
}

// waitPut retries a PUT until the system answers it (up to 60 s).
func waitPut(tg target) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := put(http.DefaultClient, tg.base+"ready", []byte("ready"))
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready: %w", tg.name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func put(c *http.Client, url string, body []byte) error {
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("PUT %s: %s", url, resp.Status)
	}
	return nil
}

func key(size, i int) string { return fmt.Sprintf("s%d-k%d", size, i) }

// preload writes objects objects of size with 16 writers.
func preload(tg target, size, objects int) error {
	body := bytes.Repeat([]byte("x"), size)
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < objects; i += 16 {
				if err := put(c, tg.base+key(size, i), body); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

const script = `
local base, size, n, method = "%s", %d, %d, "%s"
local body = nil
if method == "PUT" then body = string.rep("y", size) end
math.randomseed(os.time())
request = function()
  return wrk.format(method, base .. "s" .. size .. "-k" .. math.random(0, n - 1), nil, body)
end
`

var (
	reRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reLat    = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	reErrors = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reSocket = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func runWrk(tg target, op string, size, objects int, duration time.Duration, conns, threads int) (result, error) {
	u := strings.TrimPrefix(tg.base, "http://")
	host, path, _ := strings.Cut(u, "/")
	f, err := os.CreateTemp("", "httpbench-*.lua")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(f.Name())
	fmt.Fprintf(f, script, "/"+path, size, objects, op)
	f.Close()
	out, err := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", duration.String(),
		"--latency", "-s", f.Name(), "http://"+host).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	r := result{system: tg.name, op: op, size: size}
	m := reRPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk's output: %s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, lm := range reLat.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(lm[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(lm[3])]
		d := time.Duration(v * float64(unit))
		if string(lm[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := reErrors.FindSubmatch(out); m != nil {
		r.errors, _ = strconv.Atoi(string(m[1]))
	}
	if m := reSocket.FindSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(string(s))
			r.errors += n
		}
	}
	return r, nil
}

func human(size int) string {
	if size >= 1<<20 {
		return fmt.Sprintf("%d MiB", size>>20)
	}
	return fmt.Sprintf("%d KiB", size>>10)
}

// render prints one line per operation and size: each system's req/s,
// p50 and p99, and ellipticsd's req/s over SeaweedFS's.
func render(rows []result, targets []target) string {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	fmt.Fprint(w, "| op | size |")
	for _, tg := range targets {
		fmt.Fprintf(w, " %s req/s | p50 / p99 |", tg.name)
	}
	if len(targets) > 1 {
		fmt.Fprint(w, " ratio |")
	}
	fmt.Fprint(w, "\n|---|---|")
	for range targets {
		fmt.Fprint(w, "---:|---|")
	}
	if len(targets) > 1 {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	type k struct {
		op   string
		size int
	}
	by := map[k]map[string]result{}
	var order []k
	for _, r := range rows {
		kk := k{r.op, r.size}
		if by[kk] == nil {
			by[kk] = map[string]result{}
			order = append(order, kk)
		}
		by[kk][r.system] = r
	}
	for _, kk := range order {
		fmt.Fprintf(w, "| %s | %s |", kk.op, human(kk.size))
		for _, tg := range targets {
			r := by[kk][tg.name]
			errs := ""
			if r.errors > 0 {
				errs = fmt.Sprintf(" (%d errors)", r.errors)
			}
			fmt.Fprintf(w, " %.0f%s | %v / %v |", r.rps, errs, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
		}
		if len(targets) > 1 {
			o, s := by[kk][targets[0].name], by[kk][targets[1].name]
			if s.rps > 0 {
				fmt.Fprintf(w, " %.2f |", o.rps/s.rps)
			} else {
				fmt.Fprint(w, " - |")
			}
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	return b.String()
}
