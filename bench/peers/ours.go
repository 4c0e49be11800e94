package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/elliptics/elliptics/bench"
	"github.com/elliptics/elliptics/core/client"
)

// oursStore is ellipticsd: one process per group (each with one blob
// backend), reached by one shared client.Node (one pipelined connection per
// node); every worker has its own Session writing to all the groups.
type oursStore struct {
	pprof  string // the first node's /debug/pprof/ URL, "" without pprof
	node   *client.Node
	groups []uint32
	nodes  []*bench.Child
}

// startOurs starts groups ellipticsd processes, node g serving group g with
// a blob backend of the given sync mode, the later ones joining the first.
// With pprof the first node serves net/http/pprof on its monitor port.
func startOurs(ctx context.Context, bin, work, syncMode string, groups int, pprof bool) (Store, error) {
	s := &oursStore{}
	var addrs []string
	for g := 1; g <= groups; g++ {
		dir := filepath.Join(work, fmt.Sprintf("node%d", g))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		remotes := ""
		if len(addrs) > 0 {
			remotes = fmt.Sprintf("remotes = [%q]\n", addrs[0])
		}
		conf := fmt.Sprintf("[node]\nlisten = [\"127.0.0.1:0\"]\n%sdata_dir = %q\nlog_level = \"warn\"\n\n[[backend]]\ngroup = %d\ntype = \"blob\"\nsync = %q\n",
			remotes, dir, g, syncMode)
		if pprof && g == 1 {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			conf += fmt.Sprintf("\n[monitor]\nhttp_addr = %q\npprof = true\n", addr)
			s.pprof = "http://" + addr + "/debug/pprof/"
		}
		cfg := filepath.Join(dir, "node.toml")
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		c, err := bench.StartChild(ctx, fmt.Sprintf("ellipticsd-g%d", g), bin, []string{"--config", cfg}, "ellipticsd listening on ", dir)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.nodes = append(s.nodes, c)
		addrs = append(addrs, c.Addr)
		s.groups = append(s.groups, uint32(g))
	}
	s.node = client.NewNode(client.Config{Name: "peers", WaitTimeout: 30 * time.Second})
	if err := s.node.AddRemotes(ctx, addrs...); err != nil {
		s.Close()
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(s.node.Groups()) < groups {
		if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("ellipticsd: client sees groups %v, want %d", s.node.Groups(), groups)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, nil
}

// PprofBase makes oursStore a profiler when it was started with pprof.
func (s *oursStore) PprofBase() string { return s.pprof }

func (s *oursStore) Worker(int) (KV, error) {
	ss := client.NewSession(s.node)
	ss.SetGroups(s.groups...)
	return oursKV{ss}, nil
}

func (s *oursStore) Pids() []int {
	var p []int
	for _, c := range s.nodes {
		p = append(p, c.Cmd.Process.Pid)
	}
	return p
}

func (s *oursStore) Close() error {
	if s.node != nil {
		s.node.Close()
	}
	var errs []error
	for _, c := range s.nodes {
		errs = append(errs, c.Stop())
	}
	return errors.Join(errs...)
}

type oursKV struct{ s *client.Session }

func (o oursKV) Put(ctx context.Context, key string, value []byte) error {
	_, err := o.s.Write(ctx, client.NewKey(key), value)
	return err
}

func (o oursKV) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := o.s.Read(ctx, client.NewKey(key), 0, 0)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil, errNotFound
		}
		return nil, err
	}
	return e.Data, nil
}
