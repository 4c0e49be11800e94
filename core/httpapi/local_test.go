package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/backendtest"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/httpapi"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
)

// countingLocal counts the reads its node served.
type countingLocal struct {
	httpapi.LocalReader
	served atomic.Int64
}

func (c *countingLocal) ReadLocal(ctx context.Context, oid id.ID, g uint32, a proto.IOAttr, alloc func(int) []byte) (proto.IOAttr, []byte, error) {
	ra, data, err := c.LocalReader.ReadLocal(ctx, oid, g, a, alloc)
	if err == nil {
		c.served.Add(1)
	}
	return ra, data, err
}

// A handler inside node 0 of a two-node group reads node 0's keys locally
// and the others from the cluster: both give the same bytes, whole,
// ranged and chunk by chunk; a missing key is 404 and a corrupt record an
// error, never its bytes.
func TestLocalReads(t *testing.T) {
	ctx := context.Background()
	dirs := []string{t.TempDir(), t.TempDir()}
	c, n := startBlobCluster(t, ctx, 1, dirs)
	local := &countingLocal{LocalReader: c.Nodes[0]}
	// Chunks of 4 KiB: a 10 KiB object is three reads.
	srv := httptest.NewServer(httpapi.New(client.NewSession(n), httpapi.Options{Chunk: 4096, Local: local}))
	t.Cleanup(srv.Close)
	a := &testAPI{t: t, url: srv.URL}

	value := func(i int) string { return string(bytes.Repeat(fmt.Appendf(nil, "object %d|", i), 1200))[:10<<10] }
	for i := range 20 {
		a.put("ns", fmt.Sprint("k", i), value(i))
	}
	for i := range 20 {
		resp, body := a.do(http.MethodGet, a.objURL("ns", fmt.Sprint("k", i), ""), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.Equal(t, value(i), body, "key k%d", i)
	}
	// Each of node 0's keys is read in three local reads, the others in
	// none: 20 keys on two nodes give some of each.
	whole := local.served.Load()
	require.NotZero(t, whole, "no read was local")
	require.Zero(t, whole%3, "%d local reads: not three per key", whole)
	require.Less(t, whole, int64(3*20), "every read was local, though node 1 owns keys")

	t.Run("range", func(t *testing.T) {
		for i := range 20 {
			resp, body := a.do(http.MethodGet, a.objURL("ns", fmt.Sprint("k", i), ""), nil, "Range", "bytes=4000-8999")
			require.Equal(t, http.StatusPartialContent, resp.StatusCode, body)
			require.Equal(t, value(i)[4000:9000], body, "key k%d", i)
		}
		require.Greater(t, local.served.Load(), whole)
	})
	t.Run("pooled", func(t *testing.T) {
		// Reads of 64 KiB and more reuse pooled buffers: concurrent GETs
		// of different objects, whole and in 128 KiB chunks, each get
		// their own bytes.
		big := func(i int) string { return string(bytes.Repeat(fmt.Appendf(nil, "big %d|", i), 60000))[:300<<10+i] }
		for i := range 8 {
			a.put("ns", fmt.Sprint("big", i), big(i))
		}
		before := local.served.Load()
		for _, chunk := range []int{0, 128 << 10} {
			hs := httptest.NewServer(httpapi.New(client.NewSession(n), httpapi.Options{Chunk: chunk, Local: local}))
			b := &testAPI{t: t, url: hs.URL}
			var wg sync.WaitGroup
			errs := make(chan error, 8*10)
			for i := range 8 {
				wg.Go(func() {
					for range 10 {
						resp, err := http.Get(b.objURL("ns", fmt.Sprint("big", i), ""))
						if err != nil {
							errs <- err
							return
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || string(body) != big(i) {
							errs <- fmt.Errorf("chunk %d, big%d: %d bytes, %v, right bytes: %v", chunk, i, len(body), err, string(body) == big(i))
						}
					}
				})
			}
			wg.Wait()
			hs.Close()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		}
		require.Greater(t, local.served.Load(), before)
	})
	t.Run("missing", func(t *testing.T) {
		for i := range 10 {
			resp, body := a.do(http.MethodGet, a.objURL("ns", fmt.Sprint("missing-", i), ""), nil)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, body)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		// A key of node 0, so that the local read meets the bad record.
		key := ""
		for i := 0; key == ""; i++ {
			require.Less(t, i, 1000, "no key of node 0")
			k := fmt.Sprint("bad-", i)
			before := local.served.Load()
			a.put("ns", k, "probe")
			a.do(http.MethodGet, a.objURL("ns", k, ""), nil)
			if local.served.Load() > before {
				key = k
			}
		}
		bad := string(bytes.Repeat([]byte("corrupt-me-"), 300))
		a.put("ns", key, bad)
		backendtest.CorruptValue(t, dirs[0], []byte(bad))
		resp, body := a.do(http.MethodGet, a.objURL("ns", key, ""), nil)
		require.GreaterOrEqual(t, resp.StatusCode, 500, body)
		require.NotContains(t, body, bad[:100])
	})
}
