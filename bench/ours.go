package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/server"
)

// FrameSizes are the payload sizes (after the 120-byte header) of our
// WRITE and READ frames for a value of a given size, as the client and the
// node put them on the wire.
type FrameSizes struct {
	WriteRequest, WriteReply int
	ReadRequest, ReadReply   int
}

// Sizes computes the frame payload sizes for values of valueSize bytes on a
// node reached at addr (the address goes into the WRITE reply).
func Sizes(valueSize int, addr string) FrameSizes {
	attr := proto.IOAttr{Size: uint64(valueSize)}
	li := proto.LookupInfo{Address: addr}
	attrLen := len(attr.Append(nil))
	return FrameSizes{
		WriteRequest: attrLen + valueSize,
		WriteReply:   len(li.Append(nil)),
		ReadRequest:  attrLen,
		ReadReply:    attrLen + valueSize,
	}
}

// fillRandom fills b with incompressible bytes from a seeded generator.
func fillRandom(b []byte, seed uint64) {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 'k', 'v'})
	_, _ = r.Read(b)
}

// RandomValue returns size incompressible bytes.
func RandomValue(size int, seed uint64) []byte {
	b := make([]byte, size)
	fillRandom(b, seed)
	return b
}

// Keys returns n named keys, "kvbench-00000" and so on.
func Keys(n int) []client.Key {
	keys := make([]client.Key, n)
	for i := range keys {
		keys[i] = client.NewKey(fmt.Sprintf("kvbench-%05d", i))
	}
	return keys
}

// StartInProc starts a node in this process serving one in-memory backend
// of group 1 on a free loopback port, the default configuration of
// ellipticsd. Its goroutines carry the pprof label role=server.
func StartInProc(ctx context.Context) (*server.Server, string, error) {
	s, err := server.New(server.Options{
		Listen:   []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}},
	})
	if err != nil {
		return nil, "", err
	}
	pprof.Do(ctx, pprof.Labels("role", "server"), func(context.Context) {
		err = s.Start()
	})
	if err != nil {
		return nil, "", err
	}
	return s, s.Addrs()[0].String(), nil
}

// Connect returns a client node connected to addr and the first group it
// serves.
func Connect(ctx context.Context, addr string) (*client.Node, uint32, error) {
	n := client.NewNode(client.Config{Name: "kvbench", WaitTimeout: 10 * time.Second})
	if err := n.AddRemotes(ctx, addr); err != nil {
		n.Close()
		return nil, 0, err
	}
	groups := n.Groups()
	if len(groups) == 0 {
		n.Close()
		return nil, 0, fmt.Errorf("node %s serves no group", addr)
	}
	return n, groups[0], nil
}

// Preload writes value under every key with conc concurrent writers.
func Preload(ctx context.Context, addr string, keys []client.Key, value []byte, conc int) error {
	n, group, err := Connect(ctx, addr)
	if err != nil {
		return err
	}
	defer n.Close()
	var wg sync.WaitGroup
	errs := make([]error, conc)
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := client.NewSession(n)
			s.SetGroups(group)
			for i := w; i < len(keys); i += conc {
				if _, err := s.Write(ctx, keys[i], value); err != nil {
					errs[w] = fmt.Errorf("preload %s: %w", keys[i], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Op is the operation of a client workload.
type Op string

// The operations measured.
const (
	OpWrite Op = "write"
	OpRead  Op = "read"
)

// ClientWorkload returns a workload of clients goroutines driving the Go
// client against the node at addr: every goroutine has its own Session;
// with sharedNode they all use one client.Node (one pipelined connection),
// otherwise each has its own Node (and connection). Writes store value under
// random keys of keys; reads read random keys of keys, which must hold
// values of len(value) bytes.
func ClientWorkload(name, addr string, op Op, clients int, sharedNode bool, keys []client.Key, value []byte) Workload {
	var shared *client.Node
	var sharedGroup uint32
	w := Workload{
		Name:    name,
		Clients: clients,
		Labels:  []string{"role", "client", "op", string(op)},
	}
	if sharedNode {
		w.Setup = func(ctx context.Context) (func(), error) {
			var err error
			shared, sharedGroup, err = Connect(ctx, addr)
			if err != nil {
				return nil, err
			}
			return func() { shared.Close() }, nil
		}
	}
	w.NewWorker = func(ctx context.Context, i int) (OpFunc, func(), error) {
		n, group, cleanup := shared, sharedGroup, func() {}
		if n == nil {
			var err error
			if n, group, err = Connect(ctx, addr); err != nil {
				return nil, nil, err
			}
			cleanup = func() { n.Close() }
		}
		s := client.NewSession(n)
		s.SetGroups(group)
		return NewClientOp(s, op, keys, value, uint64(i)), cleanup, nil
	}
	return w
}

// NewClientOp returns one worker's operation on session s: a write of value
// or a read of a whole value, under a pseudo-random key of keys per call.
func NewClientOp(s *client.Session, op Op, keys []client.Key, value []byte, seed uint64) OpFunc {
	rng := rand.New(rand.NewPCG(seed, 0x6b7662656e6368))
	ctx := context.Background()
	nkeys := uint64(len(keys))
	if op == OpRead {
		want := len(value)
		return func() error {
			e, err := s.Read(ctx, keys[rng.Uint64()%nkeys], 0, 0)
			if err != nil {
				return err
			}
			if len(e.Data) != want {
				return fmt.Errorf("read %d bytes, want %d", len(e.Data), want)
			}
			return nil
		}
	}
	return func() error {
		_, err := s.Write(ctx, keys[rng.Uint64()%nkeys], value)
		return err
	}
}
