package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/httpapi"
)

// pattern is the byte at offset i of the test bodies: a body checks
// itself without being held in memory.
func pattern(i int64) byte { return byte(i%251) ^ byte(i>>20) }

// patternReader yields n bytes of pattern.
type patternReader struct{ pos, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.pos >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.pos)]
	for i := range p {
		p[i] = pattern(r.pos + int64(i))
	}
	r.pos += int64(len(p))
	return len(p), nil
}

// checkPattern reads r to the end, comparing it with pattern from start.
func checkPattern(r io.Reader, start int64) (int64, error) {
	buf := make([]byte, 64<<10)
	pos := start
	for {
		n, err := r.Read(buf)
		for i := range n {
			if buf[i] != pattern(pos+int64(i)) {
				return pos - start, fmt.Errorf("byte %d differs", pos+int64(i))
			}
		}
		pos += int64(n)
		if err == io.EOF {
			return pos - start, nil
		}
		if err != nil {
			return pos - start, err
		}
	}
}

// heapPeak samples the heap until stop and returns its peak above the
// start.
func heapPeak(t *testing.T) (stop func() uint64) {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
				peak.Store(ms.HeapAlloc - base)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// TestBigStreamedPutGet sends 64 MiB through PUT and GET (whole and
// ranged) and checks that the heap grows by far less than the body: no
// layer holds the object.
func TestBigStreamedPutGet(t *testing.T) {
	const size = 64 << 20
	// Collect sooner than the default so the peak measures what is live
	// rather than garbage the collector has not reached yet.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	a := startAPI(t, httpapi.Options{Chunk: 1 << 20})
	u := a.objURL("ns", "big/object.bin", "")

	stop := heapPeak(t)
	req, err := http.NewRequest(http.MethodPut, u, &patternReader{n: size})
	require.NoError(t, err)
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode, string(body))

	resp, err = http.Get(u)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, fmt.Sprint(size), resp.Header.Get("Content-Length"))
	n, err := checkPattern(resp.Body, 0)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, int64(size), n)

	req, err = http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	const from = size/2 + 12345
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	n, err = checkPattern(resp.Body, from)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, int64(size-from), n)

	peak := stop()
	t.Logf("heap peak %.1f MiB above the start for a %d MiB body", float64(peak)/(1<<20), size>>20)
	require.Less(t, peak, uint64(size/3), "the heap grew by %d bytes: something holds the body", peak)
}

// TestChunkedPutSpools: a body of unknown length bigger than a chunk is
// spooled to a temporary file (removed afterwards) and uploaded from it.
func TestChunkedPutSpools(t *testing.T) {
	spool := t.TempDir()
	a := startAPI(t, httpapi.Options{Chunk: 4096, SpoolDir: spool, MaxBody: 1 << 20})
	u := a.objURL("ns", "chunked", "")
	for _, size := range []int64{10, 4096, 4097, 100000} {
		// Hiding the reader's type makes the client send it chunked.
		req, err := http.NewRequest(http.MethodPut, u, struct{ io.Reader }{&patternReader{n: size}})
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode, size)

		resp, err = http.Get(u)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, size)
		n, err := checkPattern(resp.Body, 0)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, size, n)
	}
	left, err := os.ReadDir(spool)
	require.NoError(t, err)
	require.Empty(t, left, "spool files left behind")

	// Only bodies of unknown length over a chunk are spooled: without a
	// spool directory they fail, and the others do not.
	b := startAPI(t, httpapi.Options{Chunk: 4096, SpoolDir: spool + "/missing"})
	for size, want := range map[int64]int{4096: http.StatusNoContent, 4097: http.StatusInternalServerError} {
		req, err := http.NewRequest(http.MethodPut, b.objURL("ns", "k", ""), struct{ io.Reader }{&patternReader{n: size}})
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, size)
	}
	resp, body := b.do(http.MethodPut, b.objURL("ns", "k", ""), strings.NewReader(strings.Repeat("x", 5000)))
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)

	// Over MaxBody: 413, nothing stored.
	req, err := http.NewRequest(http.MethodPut, a.objURL("ns", "too-big", ""),
		struct{ io.Reader }{strings.NewReader(strings.Repeat("x", 1<<20+1))})
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	resp, err = http.Get(a.objURL("ns", "too-big", ""))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestGetCutWhenReplaced: a GET never mixes two versions: when the object
// is replaced while its body streams, the reply is cut short (the client
// sees fewer bytes than Content-Length), and what came is the old version.
func TestGetCutWhenReplaced(t *testing.T) {
	const size = 16 << 20
	a := startAPI(t, httpapi.Options{Chunk: 64 << 10})
	u := a.objURL("ns", "replaced", "")
	req, err := http.NewRequest(http.MethodPut, u, &patternReader{n: size})
	require.NoError(t, err)
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	resp, err = http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	head := make([]byte, 1024)
	_, err = io.ReadFull(resp.Body, head)
	require.NoError(t, err)
	newer, _ := a.do(http.MethodPut, u, strings.NewReader(strings.Repeat("N", size)))
	require.Equal(t, http.StatusNoContent, newer.StatusCode)

	n, err := checkPattern(resp.Body, int64(len(head)))
	got := int64(len(head)) + n
	if got < size {
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "cut after %d bytes", got)
	} else {
		require.NoError(t, err, "the whole old version, sent before the replacement")
	}
	t.Logf("got %d of %d bytes of the old version", got, size)
}
