package e2e

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// blobNode starts a node with one blob backend (group 1) and returns it
// with its config, so the test can restart it on the same address.
func blobNode(t *testing.T) (d *daemon, dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	d = startDaemon(t, dir, "--config", blobConfig(t, dir, "127.0.0.1:0", "always"))
	return d, dir, blobConfig(t, dir, d.Addr, "always")
}

// restart stops d gracefully and starts it again from the same directory.
func restart(t *testing.T, d *daemon, dir, cfg string) *daemon {
	t.Helper()
	require.NoError(t, d.stop())
	return startDaemon(t, dir, "--config", cfg)
}

func TestOffsetsAndAppend(t *testing.T) {
	d, _, _ := blobNode(t)
	s := session(t, d.Addr)
	ctx := context.Background()
	k := client.NewKey("offsets")
	_, err := s.Write(ctx, k, []byte("55555"))
	require.NoError(t, err)
	_, err = s.WriteWith(ctx, k, []byte("43210"), client.WriteOptions{Offset: 1})
	require.NoError(t, err)
	e, err := s.Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "543210", string(e.Data))

	e, err = s.Read(ctx, k, 2, 3)
	require.NoError(t, err)
	require.Equal(t, "321", string(e.Data))
	require.Equal(t, uint64(6), e.TotalSize, "a ranged read reports the whole size")
	e, err = s.Read(ctx, k, 6, 0)
	require.NoError(t, err, "offset at the end reads nothing")
	require.Empty(t, e.Data)
	_, err = s.Read(ctx, k, 7, 0)
	require.ErrorIs(t, err, status.ErrInvalid, "offset past the end")
	_, err = s.Read(ctx, k, 1, ^uint64(0))
	require.ErrorIs(t, err, status.ErrInvalid, "offset + size over 2^64")

	a := client.NewKey("append-missing")
	_, err = s.WriteWith(ctx, a, []byte("first"), client.WriteOptions{Append: true})
	require.NoError(t, err, "append to a missing key writes it")
	_, err = s.WriteWith(ctx, a, []byte("+second"), client.WriteOptions{Append: true})
	require.NoError(t, err)
	e, err = s.Read(ctx, a, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "first+second", string(e.Data))
}

func TestCompareAndSwap(t *testing.T) {
	d, _, _ := blobNode(t)
	s := session(t, d.Addr)
	ctx := context.Background()
	k := client.NewKey("cas")

	sum := id.Transform([]byte("anything"))
	_, err := s.WriteWith(ctx, k, []byte("v1"), client.WriteOptions{CAS: &sum})
	require.NoError(t, err, "CAS on a missing key succeeds")

	wrong := id.Transform([]byte("v0"))
	res, err := s.WriteWith(ctx, k, []byte("v2"), client.WriteOptions{CAS: &wrong})
	require.ErrorIs(t, err, status.ErrMismatch)
	require.Equal(t, status.Mismatch, res.Entries[0].Status)
	e, err := s.Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "v1", string(e.Data), "a refused CAS leaves the value")

	right := id.Transform([]byte("v1"))
	_, err = s.WriteWith(ctx, k, []byte("v2"), client.WriteOptions{CAS: &right})
	require.NoError(t, err)
	var zero id.ID
	_, err = s.WriteWith(ctx, k, []byte("v3"), client.WriteOptions{CAS: &zero})
	require.ErrorIs(t, err, status.ErrMismatch, "the zero checksum means absent")

	// By timestamp: a write older than the stored value is refused.
	ts := client.NewKey("cas-ts")
	now := time.Now()
	old := s.Clone()
	old.SetTimestamp(now)
	_, err = old.Write(ctx, ts, []byte("new"))
	require.NoError(t, err)
	old.SetTimestamp(now.Add(-time.Minute))
	_, err = old.WriteWith(ctx, ts, []byte("stale"), client.WriteOptions{CASTimestamp: true})
	require.ErrorIs(t, err, status.ErrMismatch)
	old.SetTimestamp(now.Add(time.Minute))
	_, err = old.WriteWith(ctx, ts, []byte("newer"), client.WriteOptions{CASTimestamp: true})
	require.NoError(t, err)

	// The converter form loses no increment under contention.
	ctr := client.NewKey("counter")
	const workers, rounds = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				_, err := s.WriteCAS(ctx, ctr, func(cur []byte) ([]byte, error) {
					var n uint64
					if cur != nil {
						n = binary.BigEndian.Uint64(cur)
					}
					return binary.BigEndian.AppendUint64(nil, n+1), nil
				}, 1000)
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	e, err = s.Read(ctx, ctr, 0, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(workers*rounds), binary.BigEndian.Uint64(e.Data))

	// A converter error ends WriteCAS at once.
	boom := errors.New("boom")
	_, err = s.WriteCAS(ctx, ctr, func([]byte) ([]byte, error) { return nil, boom }, 3)
	require.ErrorIs(t, err, boom)
}

func TestTTLAcrossRestart(t *testing.T) {
	d, dir, cfg := blobNode(t)
	s := session(t, d.Addr)
	ctx := context.Background()
	short, long := client.NewKey("ttl-short"), client.NewKey("ttl-long")
	start := time.Now()
	res, err := s.WriteWith(ctx, short, []byte("short"), client.WriteOptions{TTL: 3 * time.Second})
	require.NoError(t, err)
	require.WithinDuration(t, start.Add(3*time.Second), res.Entries[0].Expire, 2*time.Second, "the write reply reports the expiry")
	_, err = s.WriteWith(ctx, long, []byte("long"), client.WriteOptions{TTL: time.Hour})
	require.NoError(t, err)
	_, err = s.WriteWith(ctx, client.NewKey("x"), []byte("x"), client.WriteOptions{TTL: -time.Second})
	require.ErrorIs(t, err, status.ErrInvalid, "negative ttl")

	e, err := s.Lookup(ctx, long)
	require.NoError(t, err)
	expire := e.Expire
	require.WithinDuration(t, start.Add(time.Hour), expire, 5*time.Second)

	d = restart(t, d, dir, cfg)
	s = session(t, d.Addr)
	e, err = s.Lookup(ctx, long)
	require.NoError(t, err)
	require.Equal(t, expire, e.Expire, "the expiry survives the restart")
	e, err = s.Read(ctx, short, 0, 0)
	require.NoError(t, err, "not expired yet")
	require.Equal(t, "short", string(e.Data))

	time.Sleep(time.Until(start.Add(3*time.Second)) + 100*time.Millisecond)
	_, err = s.Read(ctx, short, 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound, "expired")
	_, err = s.Lookup(ctx, short)
	require.ErrorIs(t, err, status.ErrNotFound, "expired")

	d = restart(t, d, dir, cfg)
	s = session(t, d.Addr)
	_, err = s.Read(ctx, short, 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound, "still expired after a restart")
	_, err = s.Read(ctx, long, 0, 0)
	require.NoError(t, err)
}

func TestUploadInvisibleAcrossRestart(t *testing.T) {
	d, dir, cfg := blobNode(t)
	s := session(t, d.Addr)
	ctx := context.Background()
	k := client.NewKey("upload")
	_, err := s.Write(ctx, k, []byte("previous"))
	require.NoError(t, err)

	res, err := s.WriteWith(ctx, k, []byte("ab"), client.WriteOptions{Prepare: true, TotalSize: 8})
	require.NoError(t, err)
	require.NotZero(t, res.Entries[0].RecordFlags&(1<<7), "reply marks the record uncommitted")
	_, err = s.WriteWith(ctx, k, []byte("cd"), client.WriteOptions{Plain: true, Offset: 2})
	require.NoError(t, err)
	_, err = s.Read(ctx, k, 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound, "uncommitted upload is invisible")
	_, err = s.Lookup(ctx, k)
	require.ErrorIs(t, err, status.ErrNotFound)

	d = restart(t, d, dir, cfg)
	s = session(t, d.Addr)
	_, err = s.Read(ctx, k, 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound, "still invisible after a restart")

	_, err = s.WriteWith(ctx, k, []byte("ef"), client.WriteOptions{Plain: true, Offset: 7})
	require.ErrorIs(t, err, status.ErrInvalid, "chunk past the reservation")
	_, err = s.WriteWith(ctx, k, nil, client.WriteOptions{Commit: true, TotalSize: 9})
	require.ErrorIs(t, err, status.ErrInvalid, "commit larger than prepared")
	_, err = s.WriteWith(ctx, k, []byte("ef"), client.WriteOptions{Commit: true, Offset: 4, TotalSize: 6})
	require.NoError(t, err)
	e, err := s.Read(ctx, k, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "abcdef", string(e.Data))

	_, err = s.WriteWith(ctx, client.NewKey("no-upload"), []byte("x"), client.WriteOptions{Commit: true, TotalSize: 1})
	require.ErrorIs(t, err, status.ErrNotFound, "commit without prepare")
	_, err = s.WriteWith(ctx, k, []byte("x"), client.WriteOptions{Prepare: true, Append: true})
	require.ErrorIs(t, err, status.ErrInvalid, "append in an upload")
}

func TestDataOpsCLI(t *testing.T) {
	d, _, _ := blobNode(t)
	r := "--remote=" + d.Addr
	run := func(stdin string, args ...string) (string, string, int) {
		return cli(t, []byte(stdin), append([]string{r}, args...)...)
	}
	_, stderr, code := run("55555", "write", "k", "-")
	require.Equal(t, 0, code, stderr)
	_, stderr, code = run("43210", "write", "--offset", "1", "k", "-")
	require.Equal(t, 0, code, stderr)
	out, stderr, code := run("", "read", "--offset", "1", "--size", "3", "k")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "432", out)

	// CAS with the checksum lookup prints.
	out, _, code = run("", "lookup", "--checksum", "k")
	require.Equal(t, 0, code)
	var sum string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "checksum:"); ok {
			sum = strings.TrimSpace(v)
		}
	}
	require.Len(t, sum, 128, out)
	_, stderr, code = run("new", "write", "--cas", strings.Repeat("0", 127)+"1", "k", "-")
	require.Equal(t, 1, code, "mismatch fails")
	require.Contains(t, stderr, "compare-and-swap mismatch")
	_, stderr, code = run("new", "write", "--cas", sum, "k", "-")
	require.Equal(t, 0, code, stderr)
	_, _, code = run("x", "write", "--cas", "abc", "k", "-")
	require.Equal(t, 2, code, "a short checksum is a usage error")

	// TTL.
	_, stderr, code = run("t", "write", "--ttl", "1h", "t", "-")
	require.Equal(t, 0, code, stderr)
	out, _, code = run("", "lookup", "t")
	require.Equal(t, 0, code)
	require.Contains(t, out, "expires:")
	for _, bad := range []string{"0s", "-5s"} {
		_, stderr, code = run("t", "write", "--ttl", bad, "t", "-")
		require.Equal(t, 2, code, "ttl %s: %s", bad, stderr)
	}

	// Chunked upload.
	_, stderr, code = run("ab", "write", "--prepare", "4", "u", "-")
	require.Equal(t, 0, code, stderr)
	_, _, code = run("", "read", "u")
	require.Equal(t, 3, code, "invisible until commit")
	_, stderr, code = run("cd", "write", "--commit", "4", "--offset", "2", "u", "-")
	require.Equal(t, 0, code, stderr)
	out, _, code = run("", "read", "u")
	require.Equal(t, 0, code)
	require.Equal(t, "abcd", out)
}
