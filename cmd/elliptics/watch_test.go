package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWatch runs 'watch KEY --count 2' while another invocation writes KEY
// and removes it: the watch prints its start and both events, then exits.
func TestWatch(t *testing.T) {
	addr := startNode(t, 1)
	type result struct {
		code        int
		out, errout string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"--remote", addr, "watch", "k", "--count", "2"}, nil, &out, &errb)
		done <- result{code, out.String(), errb.String()}
	}()
	// Writes made before the watch started are not reported: keep writing
	// until the watch has seen two events.
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		select {
		case r := <-done:
			require.Equal(t, exitOK, r.code, r.errout)
			lines := strings.Split(strings.TrimSpace(r.out), "\n")
			require.GreaterOrEqual(t, len(lines), 3, r.out)
			require.True(t, strings.HasPrefix(lines[0], "started group 1 "+addr), r.out)
			require.Contains(t, r.out, "write   group 1 "+addr)
			return
		case <-deadline:
			t.Fatal("watch did not see two writes")
		case <-time.After(20 * time.Millisecond):
		}
		o := runCLI(t, []byte("abc"), "--remote", addr, "write", "k", "-")
		require.Equal(t, exitOK, o.code, o.stderr)
	}
}

// TestWatchJSON: --json prints one object per event.
func TestWatchJSON(t *testing.T) {
	addr := startNode(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--remote", addr, "--json", "watch", "k"}, nil, &out, &errb)
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "started") }, 10*time.Second, 10*time.Millisecond)
	cancel() // as an interrupt does
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, errb.String())
		require.Contains(t, out.String(), `"kind":"started"`)
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end when interrupted")
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
