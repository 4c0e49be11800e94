package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profiledWorkloads are the workloads -profile captures: those where
// ellipticsd falls furthest behind its peers.
var profiledWorkloads = []string{"put 1 KiB", "get 1 MiB"}

// profiler is a Store whose server serves net/http/pprof.
type profiler interface {
	// PprofBase is the URL of the first server's /debug/pprof/.
	PprofBase() string
}

// profileKinds are the profiles taken: what the pprof endpoint is, and
// the sample `go tool pprof -top` sorts by.
var profileKinds = []struct{ name, path, sample string }{
	{"cpu", "profile", ""},
	{"allocs", "allocs", "alloc_space"},
}

// captureProfiles fetches a CPU and an allocation profile of the server
// behind base over the window [start+wait, start+wait+d], in parallel, and
// writes for each the raw profile to rawDir and `go tool pprof -top` (and
// -svg when graphviz's dot is installed) to outDir, as <slug>.<kind>.*.
func captureProfiles(ctx context.Context, base string, wait, d time.Duration, rawDir, outDir, slug string) error {
	if err := os.MkdirAll(rawDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	select {
	case <-time.After(wait):
	case <-ctx.Done():
		return ctx.Err()
	}
	secs := max(1, int(d/time.Second))
	errs := make(chan error, len(profileKinds))
	for _, k := range profileKinds {
		go func() {
			raw := filepath.Join(rawDir, slug+"."+k.name+".pb.gz")
			url := fmt.Sprintf("%s%s?seconds=%d", base, k.path, secs)
			if err := download(ctx, url, raw); err != nil {
				errs <- fmt.Errorf("%s profile: %w", k.name, err)
				return
			}
			errs <- report(raw, filepath.Join(outDir, slug+"."+k.name), k.sample)
		}()
	}
	var err error
	for range profileKinds {
		err = errors.Join(err, <-errs)
	}
	return err
}

func download(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, res.Status, strings.TrimSpace(string(msg)))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// report writes `go tool pprof -top` of raw to prefix.txt and, when dot
// is installed, -svg to prefix.svg.
func report(raw, prefix, sample string) error {
	formats := []string{"top"}
	if _, err := exec.LookPath("dot"); err == nil {
		formats = append(formats, "svg")
	}
	for _, f := range formats {
		args := []string{"tool", "pprof", "-" + f, "-nodecount=40"}
		if sample != "" {
			args = append(args, "-sample_index="+sample)
		}
		out, err := exec.Command("go", append(args, raw)...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, firstLine(string(ee.Stderr)))
			}
			return fmt.Errorf("go tool pprof -%s %s: %w", f, raw, err)
		}
		ext := map[string]string{"top": ".txt", "svg": ".svg"}[f]
		if err := os.WriteFile(prefix+ext, out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// slug turns a system's and a workload's names into a file name:
// "ellipticsd blob sync=none", "put 1 KiB" → "ellipticsd-blob-sync-none_put-1KiB".
func slug(system, workload string) string {
	clean := func(s string) string {
		s = strings.NewReplacer(" KiB", "KiB", " MiB", "MiB", "=", "-", "/", "-", ",", "").Replace(s)
		return strings.Join(strings.Fields(s), "-")
	}
	return clean(system) + "_" + clean(workload)
}
