package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// weedStore is SeaweedFS (`weed server`: one master, one volume server and
// a filer in one process, replication 000), reached through the filer's
// HTTP API (PUT and GET of /bench/<key>) with net/http, a keep-alive
// connection per worker. Its volume server does not fsync writes by default.
type weedStore struct {
	p    *proc
	base string
	hc   *http.Client
}

func startWeed(_ context.Context, weed, work string, clients int) (Store, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	p, err := startProc("weed", work, nil, weed, "server", "-dir="+work, "-ip=127.0.0.1",
		"-master.port="+strconv.Itoa(ports[0]), "-volume.port="+strconv.Itoa(ports[1]),
		"-filer", "-filer.port="+strconv.Itoa(ports[2]), "-volume.max=50", "-master.defaultReplication=000")
	if err != nil {
		return nil, err
	}
	s := &weedStore{p: p, base: fmt.Sprintf("http://127.0.0.1:%d/bench/", ports[2]),
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 4}}}
	if err := p.waitReady(func() error { return s.Put(context.Background(), "ready", []byte("1")) }); err != nil {
		p.stop()
		return nil, err
	}
	return s, nil
}

func (s *weedStore) Worker(int) (KV, error) { return s, nil }
func (s *weedStore) Pids() []int            { return []int{s.p.cmd.Process.Pid} }
func (s *weedStore) Close() error           { s.hc.CloseIdleConnections(); s.p.stop(); return nil }

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
