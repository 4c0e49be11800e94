package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

// weedStore is SeaweedFS (`weed server`: one master, one volume server and
// a filer in one process, replication 000; with 3 volume servers, two more
// `weed volume` processes and replication 002, three copies on three
// servers of one rack), reached through the filer's HTTP API (PUT and GET
// of /bench/<key>) with net/http, a keep-alive connection per worker. Its
// volume servers do not fsync writes by default.
type weedStore struct {
	procs []*proc
	base  string
	hc    *http.Client
}

// startWeed starts SeaweedFS with volumes volume servers (1 or 3) in work.
// Every gRPC port is given: SeaweedFS's default, the HTTP port + 10000,
// overflows for ephemeral ports above 55535.
func startWeed(_ context.Context, weed, work string, clients, volumes int) (Store, error) {
	replication := map[int]string{1: "000", 3: "002"}[volumes]
	if replication == "" {
		return nil, fmt.Errorf("weed: %d volume servers, want 1 or 3", volumes)
	}
	ports, err := freePorts(6 + 2*(volumes-1))
	if err != nil {
		return nil, err
	}
	port := func(i int) string { return strconv.Itoa(ports[i]) }
	s := &weedStore{base: fmt.Sprintf("http://127.0.0.1:%d/bench/", ports[4]),
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 4}}}
	p, err := startProc("weed", work, nil, weed, "server", "-dir="+work, "-ip=127.0.0.1",
		"-master.port="+port(0), "-master.port.grpc="+port(1),
		"-volume.port="+port(2), "-volume.port.grpc="+port(3),
		"-filer", "-filer.port="+port(4), "-filer.port.grpc="+port(5),
		"-volume.max=50", "-master.defaultReplication="+replication)
	if err != nil {
		return nil, err
	}
	s.procs = append(s.procs, p)
	master := fmt.Sprintf("127.0.0.1:%d.%d", ports[0], ports[1])
	for v := 1; v < volumes; v++ {
		dir := filepath.Join(work, fmt.Sprintf("volume%d", v+1))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			s.Close()
			return nil, err
		}
		vp, err := startProc(fmt.Sprintf("weed-volume%d", v+1), dir, nil, weed, "volume", "-dir="+dir, "-ip=127.0.0.1",
			"-port="+port(4+2*v), "-port.grpc="+port(5+2*v), "-master="+master, "-max=50")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.procs = append(s.procs, vp)
	}
	// The first write succeeds once the master has volume servers enough
	// for the replication.
	if err := p.waitReady(func() error { return s.Put(context.Background(), "ready", []byte("1")) }); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *weedStore) Worker(int) (KV, error) { return s, nil }

func (s *weedStore) Pids() []int {
	var p []int
	for _, pr := range s.procs {
		p = append(p, pr.cmd.Process.Pid)
	}
	return p
}

// Close stops the extra volume servers first, then `weed server`.
func (s *weedStore) Close() error {
	s.hc.CloseIdleConnections()
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	return nil
}

func (s *weedStore) Put(ctx context.Context, key string, value []byte) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodPut, s.base+key, bytes.NewReader(value))
	if err != nil {
		return err
	}
	res, err := s.hc.Do(r)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("weed PUT %s: %s", key, res.Status)
	}
	return nil
}

func (s *weedStore) Get(ctx context.Context, key string) ([]byte, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+key, nil)
	if err != nil {
		return nil, err
	}
	res, err := s.hc.Do(r)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusNotFound {
		return nil, errNotFound
	}
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("weed GET %s: %s", key, res.Status)
	}
	return data, nil
}
