package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
)

// blobConfig writes a node config with one blob backend in dir.
func blobConfig(t *testing.T, dir, listen, sync string) string {
	t.Helper()
	p := filepath.Join(dir, "node.toml")
	cfg := fmt.Sprintf(`[node]
listen = [%q]
data_dir = %q
log_level = "warn"

[[backend]]
id = 0
group = 1
type = "blob"
sync = %q
blob_size = "1MiB"
`, listen, filepath.Join(dir, "data"), sync)
	require.NoError(t, os.WriteFile(p, []byte(cfg), 0o644))
	return p
}

// value encodes the key and a version, padded so records vary in size.
func value(key string, version int) []byte {
	head := fmt.Sprintf("%s@%d|", key, version)
	return append([]byte(head), bytes.Repeat([]byte{byte(version)}, 100+version%900)...)
}

func versionOf(t *testing.T, key string, v []byte) int {
	head, _, ok := bytes.Cut(v, []byte("|"))
	require.True(t, ok, "value of %s has no header: corrupt", key)
	k, ver, ok := bytes.Cut(head, []byte("@"))
	require.True(t, ok)
	require.Equal(t, key, string(k), "value belongs to another key")
	n, err := strconv.Atoi(string(ver))
	require.NoError(t, err)
	require.Equal(t, value(key, n), v, "value of %s version %d damaged", key, n)
	return n
}

// TestKillDuringWritesLosesNothing SIGKILLs a node with a blob backend in
// the middle of a concurrent write load, several times, and checks after
// each restart that every acknowledged write reads back intact: the value
// is the last acknowledged version or a newer one whose write was in flight.
func TestKillDuringWritesLosesNothing(t *testing.T) {
	for _, syncMode := range []string{"always", "none"} {
		t.Run("sync="+syncMode, func(t *testing.T) {
			dir := t.TempDir()
			d := startDaemon(t, dir, "--config", blobConfig(t, dir, "127.0.0.1:0", syncMode))
			addr := d.Addr
			cfg := blobConfig(t, dir, addr, syncMode)

			var mu sync.Mutex
			acked := map[string]int{}     // last acknowledged version
			attempted := map[string]int{} // last version sent
			const writers, keysPerWriter = 8, 40
			for round := 0; round < 3; round++ {
				s := session(t, addr)
				s.SetTimeout(2 * time.Second)
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; ctx.Err() == nil; i++ {
							key := fmt.Sprintf("w%d-k%d", w, i%keysPerWriter)
							mu.Lock()
							ver := attempted[key] + 1
							attempted[key] = ver
							mu.Unlock()
							if _, err := s.Write(ctx, client.NewKey(key), value(key, ver)); err != nil {
								if ctx.Err() != nil {
									return
								}
								time.Sleep(5 * time.Millisecond)
								continue
							}
							mu.Lock()
							if ver > acked[key] {
								acked[key] = ver
							}
							mu.Unlock()
						}
					}()
				}
				time.Sleep(700 * time.Millisecond)
				d.kill() // SIGKILL, mid-load
				cancel()
				wg.Wait()
				s.Node().Close()

				d = startDaemon(t, dir, "--config", cfg)
				r := session(t, addr)
				mu.Lock()
				require.NotEmpty(t, acked)
				for key, ver := range acked {
					e, err := r.Read(context.Background(), client.NewKey(key), 0, 0)
					require.NoError(t, err, "acknowledged key %s lost (round %d)", key, round)
					got := versionOf(t, key, e.Data)
					require.GreaterOrEqual(t, got, ver, "key %s went back to an older version", key)
					require.LessOrEqual(t, got, attempted[key])
					acked[key] = got // the stored version is the base for the next round
				}
				mu.Unlock()
			}
			require.NoError(t, d.stop())
		})
	}
}
