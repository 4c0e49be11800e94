package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// rssLimit is the peak resident size the client and the node may reach
// while a big object streams through them.
const rssLimit = 200 << 20

// bigConfig writes a node config with one blob backend (default blob size,
// so a big upload gets a data file of its own) in dir.
func bigConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	p := filepath.Join(dir, "node.toml")
	cfg := fmt.Sprintf(`[node]
listen = ["127.0.0.1:0"]
data_dir = %q
log_level = "warn"
%s
[[backend]]
id = 0
group = 1
type = "blob"
sync = "always"
`, filepath.Join(dir, "data"), extra)
	require.NoError(t, os.WriteFile(p, []byte(cfg), 0o644))
	return p
}

// makeFile writes size pseudo-random bytes to path in pieces and returns
// their SHA-256.
func makeFile(t *testing.T, path string, size int64) []byte {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	h := sha256.New()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		_, _ = r.Read(buf[:n])
		_, _ = w.Write(buf[:n])
		h.Write(buf[:n])
		left -= n
	}
	require.NoError(t, w.Flush())
	return h.Sum(nil)
}

func fileSum(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return h.Sum(nil)
}

// runPeak runs the CLI and returns its peak resident size (the kernel's
// ru_maxrss, the VmHWM of the process at exit) and how long it ran.
func runPeak(t *testing.T, args ...string) (uint64, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "elliptics"), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	require.NoError(t, err, "elliptics %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errb.String())
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return uint64(ru.Maxrss) << 10, took
}

// vmHWM reads the peak resident size of a running process.
func vmHWM(t *testing.T, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

func freeBytes(t *testing.T, dir string) uint64 {
	var st syscall.Statfs_t
	require.NoError(t, syscall.Statfs(dir, &st))
	return st.Bavail * uint64(st.Bsize)
}

// TestBigObjectStreams uploads a big file with the CLI into a node with a
// blob backend and downloads it again, checking the SHA-256 and that
// neither the CLI nor the node holds the object in memory (peak RSS under
// 200 MiB each). 256 MiB in the normal suite; 2 GiB with ELLIPTICS_BIG=1
// (make soak).
func TestBigObjectStreams(t *testing.T) {
	size := int64(256 << 20)
	if os.Getenv("ELLIPTICS_BIG") == "1" {
		size = 2 << 30
	}
	dir := t.TempDir()
	if free := freeBytes(t, dir); free < uint64(3*size+size/2) {
		t.Skipf("%d MiB free in %s, need %d MiB", free>>20, dir, (3*size+size/2)>>20)
	}
	d := startDaemon(t, dir, "--config", bigConfig(t, dir, ""))
	src := filepath.Join(dir, "src.bin")
	want := makeFile(t, src, size)

	common := []string{"--remote", d.Addr, "--groups", "1", "--timeout", "30s"}
	upRSS, upTook := runPeak(t, append(append([]string{"upload"}, common...), "--quiet", "big", src)...)
	out, _, code := cli(t, nil, append(append([]string{"lookup"}, common...), "big")...)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, strconv.FormatInt(size, 10), "lookup shows the whole size")

	dst := filepath.Join(dir, "dst.bin")
	downRSS, downTook := runPeak(t, append(append([]string{"download"}, common...), "--quiet", "big", dst)...)
	require.Equal(t, want, fileSum(t, dst), "SHA-256 of the download")
	nodeRSS := vmHWM(t, d.cmd.Process.Pid)

	mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
	rate := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	t.Logf("%d MiB: upload %.1fs (%.0f MiB/s, CLI peak RSS %.1f MiB), download %.1fs (%.0f MiB/s, CLI peak RSS %.1f MiB), ellipticsd peak RSS %.1f MiB",
		size>>20, upTook.Seconds(), rate(upTook), mib(upRSS), downTook.Seconds(), rate(downTook), mib(downRSS), mib(nodeRSS))
	require.Less(t, upRSS, uint64(rssLimit), "upload CLI peak RSS")
	require.Less(t, downRSS, uint64(rssLimit), "download CLI peak RSS")
	require.Less(t, nodeRSS, uint64(rssLimit), "ellipticsd peak RSS")

	// A plain read of the whole object is refused (it would not fit in a
	// reply), not loaded; ranged reads work.
	if size > 160<<20 {
		_, errOut, code := cli(t, nil, append(append([]string{"read"}, common...), "big")...)
		require.NotEqual(t, 0, code)
		require.Contains(t, errOut, "ranges")
	}
	out, _, code = cli(t, nil, append(append([]string{"read"}, common...), "--offset", "1000", "--size", "16", "big")...)
	require.Equal(t, 0, code)
	require.Len(t, out, 16)
}

// TestUploadSurvivesKill SIGKILLs a node in the middle of a chunked
// upload: after the restart the object is still invisible, the rest of the
// chunks and the commit succeed; an upload left past the node's
// upload_timeout is gone (its commit answers not found).
func TestUploadSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cfg := bigConfig(t, dir, `upload_timeout = "3s"`)
	d := startDaemon(t, dir, "--config", cfg)
	ctx := context.Background()
	const size, chunk = 48 << 20, 4 << 20
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{9})
	_, _ = r.Read(data)

	s := session(t, d.Addr)
	s.SetGroups(1)
	key := client.NewKey("resumed")
	for off := 0; off < size/2; off += chunk {
		o := client.WriteOptions{Offset: uint64(off), Plain: off > 0, Prepare: off == 0}
		if off == 0 {
			o.TotalSize = size
		}
		_, err := s.WriteWith(ctx, key, data[off:off+chunk], o)
		require.NoError(t, err)
	}
	_, err := s.WriteWith(ctx, client.NewKey("abandoned"), data[:chunk], client.WriteOptions{Prepare: true, TotalSize: size})
	require.NoError(t, err)
	d.kill()

	d = startDaemon(t, dir, "--config", cfg)
	s = session(t, d.Addr)
	s.SetGroups(1)
	_, err = s.Read(ctx, key, 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound, "uncommitted after the restart")
	_, err = s.Lookup(ctx, key)
	require.ErrorIs(t, err, status.ErrNotFound)
	for off := size / 2; off < size; off += chunk {
		o := client.WriteOptions{Offset: uint64(off), Plain: true}
		if off+chunk == size {
			o = client.WriteOptions{Offset: uint64(off), Commit: true, TotalSize: size}
		}
		_, err := s.WriteWith(ctx, key, data[off:off+chunk], o)
		require.NoError(t, err, "chunk at %d after the restart", off)
	}
	var got strings.Builder
	_, err = s.ReadTo(ctx, key, &got, client.StreamOptions{Chunk: 1 << 20})
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(data), sha256.Sum256([]byte(got.String())))

	// The abandoned upload expires with upload_timeout (3s from its prepare).
	time.Sleep(3 * time.Second)
	_, err = s.WriteWith(ctx, client.NewKey("abandoned"), nil, client.WriteOptions{Commit: true, TotalSize: chunk})
	require.ErrorIs(t, err, status.ErrNotFound, "an upload past upload_timeout is gone")
}

// TestStreamOffsets covers the parts of WriteFrom and ReadTo that the
// bindings' write_file / read_file use besides whole objects: ReadTo from
// Offset for Size bytes, and WriteFrom at a non-zero Offset, which writes
// into the object as it is instead of replacing it.
func TestStreamOffsets(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, "--config", bigConfig(t, dir, ""))
	ctx := context.Background()
	s := session(t, d.Addr)
	s.SetGroups(1)
	key := client.NewKey("offsets")
	data := make([]byte, 3<<20+17)
	rand.NewChaCha8([32]byte{5}).Read(data)
	o := client.StreamOptions{Chunk: 1 << 20}
	_, err := s.WriteFrom(ctx, key, strings.NewReader(string(data)), uint64(len(data)), o)
	require.NoError(t, err)

	read := func(off, size uint64) ([]byte, client.Entry) {
		var got strings.Builder
		e, err := s.ReadTo(ctx, key, &got, client.StreamOptions{Chunk: 1 << 20, Offset: off, Size: size})
		require.NoError(t, err, "offset %d size %d", off, size)
		return []byte(got.String()), e
	}
	got, e := read(1<<20-3, 1<<20+6)
	require.Equal(t, data[1<<20-3:2<<20+3], got)
	require.Equal(t, uint64(1<<20+6), e.Size)
	require.Equal(t, uint64(len(data)), e.TotalSize)
	got, _ = read(uint64(len(data))-5, 100) // past the end: stops there
	require.Equal(t, data[len(data)-5:], got)
	_, err = s.ReadTo(ctx, key, io.Discard, client.StreamOptions{Offset: uint64(len(data)) + 1})
	require.ErrorIs(t, err, status.ErrInvalid)

	// 2 MiB + 1 at offset 1000, in 1 MiB chunks: the bytes around stay.
	patch := make([]byte, 2<<20+1)
	rand.NewChaCha8([32]byte{6}).Read(patch)
	var progress []uint64
	o.Offset = 1000
	o.Progress = func(done, _ uint64) { progress = append(progress, done) }
	_, err = s.WriteFrom(ctx, key, strings.NewReader(string(patch)), uint64(len(patch)), o)
	require.NoError(t, err)
	require.Equal(t, []uint64{1 << 20, 2 << 20, 2<<20 + 1}, progress)
	want := append(append(append([]byte{}, data[:1000]...), patch...), data[1000+len(patch):]...)
	got, _ = read(0, 0)
	require.Equal(t, want, got)
}
