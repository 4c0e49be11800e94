package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// etcdStore is a single-member etcd 3.4 (every write is fsynced by its raft
// log, with batching), reached through its v3 gRPC gateway's JSON API
// (/v3/kv/put, /v3/kv/range) with net/http, a keep-alive connection per
// worker: the Go gRPC client would add its own dependency tree for the
// same two calls. The JSON/base64 encoding costs etcd more CPU than gRPC
// would; read its figures as a lower bound.
type etcdStore struct {
	p    *proc
	base string
	hc   *http.Client
}

func startEtcd(ctx context.Context, work string, clients int) (Store, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	p, err := startProc("etcd", work, nil, "etcd", "--name", "bench", "--data-dir", work+"/etcd",
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "bench="+peer, "--log-level", "warn", "--logger", "zap")
	if err != nil {
		return nil, err
	}
	s := &etcdStore{p: p, base: client, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 4}}}
	if err := p.waitReady(func() error { return s.Put(ctx, "ready", []byte("1")) }); err != nil {
		p.stop()
		return nil, err
	}
	return s, nil
}

func (s *etcdStore) Worker(int) (KV, error) { return s, nil }
func (s *etcdStore) Pids() []int            { return []int{s.p.cmd.Process.Pid} }
func (s *etcdStore) Close() error           { s.hc.CloseIdleConnections(); s.p.stop(); return nil }

func (s *etcdStore) post(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	res, err := s.hc.Do(r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd %s: %s: %.200s", path, res.Status, data)
	}
	if resp == nil {
		return nil
	}
	return json.Unmarshal(data, resp)
}

func (s *etcdStore) Put(ctx context.Context, key string, value []byte) error {
	// []byte fields marshal as base64, as the gateway wants.
	return s.post(ctx, "/v3/kv/put", struct {
		Key   []byte `json:"key"`
		Value []byte `json:"value"`
	}{[]byte(key), value}, nil)
}

func (s *etcdStore) Get(ctx context.Context, key string) ([]byte, error) {
	var resp struct {
		Kvs []struct {
			Value string `json:"value"`
		} `json:"kvs"`
	}
	if err := s.post(ctx, "/v3/kv/range", struct {
		Key []byte `json:"key"`
	}{[]byte(key)}, &resp); err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, errNotFound
	}
	return base64.StdEncoding.DecodeString(resp.Kvs[0].Value)
}
