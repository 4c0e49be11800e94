// Package clustertest runs whole elliptics clusters inside one process, on
// an in-memory network (core/transport/memnet) with in-memory backends: N
// nodes spread over G groups, every node joining through one seed. Tests
// and benchmarks use it to check joining, routing and forwarding at sizes
// (hundreds to a thousand nodes) that real processes and sockets make
// impractical.
package clustertest

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sync"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/transport/memnet"
)

// Options describe a cluster.
type Options struct {
	Nodes  int // number of nodes (each serves one backend)
	Groups int // node i serves group i%Groups+1 (3 when 0)
	// Peer tunes the nodes' connections to each other (see
	// server.Options.Peer).
	Peer client.Config
	// Net is the network; nil makes a new one.
	Net *memnet.Network
	// Logger, if set, logs every node (named by its address).
	Logger *zap.Logger
	// Recovery tunes every node's recovery (see server.Options.Recovery).
	Recovery server.RecoveryOptions
	// Backend opens node i's backend; nil gives each an in-memory one.
	Backend func(i int) (backend.Backend, error)
	// Script configures every node's scripts (see server.Options.Script).
	Script server.ScriptOptions
	// Auth turns authentication on in every node (see
	// server.Options.Auth); clients then need Config.Auth.
	Auth server.AuthOptions
}

// Cluster is a running cluster.
type Cluster struct {
	Net   *memnet.Network
	Nodes []*server.Server
	Addrs []string // Addrs[i] is the address of Nodes[i]; Addrs[0] is the seed
	opts  Options
}

// Addr is the address of node i.
func Addr(i int) string { return fmt.Sprintf("node%d:1025", i) }

// Start starts the seed and then the other nodes, each joining through the
// seed; it returns once every node has started (joins run in the
// background: see WaitConverged).
func Start(opts Options) (*Cluster, error) {
	if opts.Groups <= 0 {
		opts.Groups = 3
	}
	if opts.Net == nil {
		opts.Net = memnet.New()
	}
	c := &Cluster{Net: opts.Net, opts: opts}
	for i := range opts.Nodes {
		if _, err := c.Add(); err != nil {
			c.Close()
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
	}
	return c, nil
}

// Add starts one more node, joining through the seed (the first node
// starts alone).
func (c *Cluster) Add() (*server.Server, error) {
	s, err := c.start(len(c.Nodes))
	if err != nil {
		return nil, err
	}
	c.Nodes = append(c.Nodes, s)
	c.Addrs = append(c.Addrs, Addr(len(c.Addrs)))
	return s, nil
}

// Replace shuts node i down and starts a new node in its place: same
// address and group, an empty backend and new ring points, as a machine
// whose disk was wiped.
func (c *Cluster) Replace(ctx context.Context, i int) (*server.Server, error) {
	if err := c.Nodes[i].Shutdown(ctx); err != nil {
		return nil, err
	}
	s, err := c.start(i)
	if err != nil {
		return nil, err
	}
	c.Nodes[i] = s
	return s, nil
}

func (c *Cluster) start(i int) (*server.Server, error) {
	addr := Addr(i)
	var st backend.Backend = mem.New()
	if c.opts.Backend != nil {
		var err error
		if st, err = c.opts.Backend(i); err != nil {
			return nil, fmt.Errorf("node %d: backend: %w", i, err)
		}
	}
	o := server.Options{
		Listen:    []string{addr},
		Backends:  []server.BackendSpec{{ID: 0, Group: uint32(i%c.opts.Groups + 1), Backend: st}},
		Transport: c.Net,
		Peer:      c.opts.Peer,
		Recovery:  c.opts.Recovery,
		Script:    c.opts.Script,
		Auth:      c.opts.Auth,
		// Shutdown of a thousand nodes must not wait on stragglers.
		ShutdownTimeout: 2 * time.Second,
	}
	if c.opts.Logger != nil {
		o.Logger = c.opts.Logger.Named(addr)
	}
	if i > 0 {
		o.Remotes = []string{Addr(0)}
	}
	s, err := server.New(o)
	if err != nil {
		return nil, err
	}
	// Goroutines started by the node carry its address as a pprof label
	// ("node"), so a CPU profile of a whole cluster splits by node
	// (go tool pprof -tagfocus node=node0:1025).
	var err2 error
	pprof.Do(context.Background(), pprof.Labels("node", addr), func(context.Context) { err2 = s.Start() })
	if err2 != nil {
		return nil, err2
	}
	return s, nil
}

// Converged counts the nodes whose route table lists every node's backend.
func (c *Cluster) Converged() int {
	n := 0
	for _, s := range c.Nodes {
		if s.Table().Len() == len(c.Nodes) {
			n++
		}
	}
	return n
}

// Trace, when set, is called on every poll of WaitConverged (for
// debugging slow convergence).
var Trace func(*Cluster)

// WaitConverged waits until every node's route table lists every node's
// backend, polling every 5ms.
func (c *Cluster) WaitConverged(ctx context.Context) error {
	for {
		n := c.Converged()
		if n == len(c.Nodes) {
			return nil
		}
		if Trace != nil {
			Trace(c)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d nodes converged: %w", n, len(c.Nodes), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Client returns a client of the cluster on its network, connected to the
// seed.
func (c *Cluster) Client(ctx context.Context, cfg client.Config) (*client.Node, error) {
	cfg.Dial = c.Net.Dial
	n := client.NewNode(cfg)
	if err := n.AddRemotes(ctx, c.Addrs[0]); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// TableBytes is the memory a route table takes, counted from its contents:
// per backend its entry (route.Backend) and address, per point the 64-byte
// point and its 16-byte ring index entry (prefix and reference). The
// points are shared with the node descriptions they came from, so a node
// holds them once.
func TableBytes(t *route.Table) int {
	n := t.NumPoints() * (id.Size + 16)
	for _, b := range t.Backends() {
		n += int(unsafe.Sizeof(b)) + len(b.Addr)
	}
	return n
}

// Close shuts every node down, in parallel.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for _, s := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Shutdown(context.Background())
		}()
	}
	wg.Wait()
}
