package client_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/status"
)

// stallMem is a mem backend whose reads of keys named "stall*" wait until
// release is closed.
type stallMem struct {
	*mem.Backend
	release chan struct{}
	stalled map[[64]byte]bool
}

func (b *stallMem) Read(ctx context.Context, k backend.Key, offset, size uint64) ([]byte, backend.Meta, error) {
	if b.stalled[k.ID] {
		<-b.release
	}
	return b.Backend.Read(ctx, k, offset, size)
}

func startStallNode(t *testing.T) (*client.Session, *stallMem, []client.Key) {
	t.Helper()
	sb := &stallMem{Backend: mem.New(), release: make(chan struct{}), stalled: map[[64]byte]bool{}}
	s, err := server.New(server.Options{
		Listen:   []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: sb}},
	})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() {
		select {
		case <-sb.release:
		default:
			close(sb.release)
		}
		_ = s.Shutdown(context.Background())
	})
	sess := connect(t, s.Addrs()[0].String())
	var keys []client.Key
	for _, name := range []string{"stall-1", "stall-2", "stall-3", "stall-4"} {
		k := client.NewKey(name)
		_, err := sess.Write(context.Background(), k, []byte(name))
		require.NoError(t, err)
		oid, err := sess.ID(k)
		require.NoError(t, err)
		sb.stalled[oid] = true
		keys = append(keys, k)
	}
	return sess, sb, keys
}

func TestSessionTimeoutWithoutContextDeadline(t *testing.T) {
	sess, sb, keys := startStallNode(t)
	ctx := context.Background()

	// Calls with different timeouts on one connection each fail at their
	// own deadline, not earlier and not much later.
	timeouts := []time.Duration{150 * time.Millisecond, 300 * time.Millisecond, 60 * time.Millisecond}
	var wg sync.WaitGroup
	for i, d := range timeouts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := sess.Clone()
			s.SetTimeout(d)
			start := time.Now()
			_, err := s.Read(ctx, keys[i], 0, 0)
			took := time.Since(start)
			require.ErrorIs(t, err, status.ErrTimeout)
			require.GreaterOrEqual(t, took, d)
			require.Less(t, took, d+time.Second)
		}()
	}
	wg.Wait()

	// The connection still serves; the late replies are dropped.
	k := client.NewKey("plain")
	_, err := sess.Write(ctx, k, []byte("v"))
	require.NoError(t, err)
	close(sb.release)
	e, err := sess.Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "v", string(e.Data))
	e, err = sess.Read(ctx, keys[0], 0, 0)
	require.NoError(t, err)
	require.Equal(t, "stall-1", string(e.Data))
}

func TestContextEndsCallBeforeSessionTimeout(t *testing.T) {
	sess, _, keys := startStallNode(t)
	sess.SetTimeout(10 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sess.Read(ctx, keys[0], 0, 0)
	require.ErrorIs(t, err, status.ErrTimeout, "the context's deadline is a timeout")
	require.Less(t, time.Since(start), 5*time.Second)

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	_, err = sess.Read(ctx, keys[1], 0, 0)
	require.ErrorIs(t, err, status.ErrCanceled)
	require.Less(t, time.Since(start), 5*time.Second)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = sess.Write(ctx, keys[2], []byte("x"))
	require.ErrorIs(t, err, status.ErrCanceled)
}
