package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/httpapi"
)

// BenchmarkStream compares a 32 MiB PUT and GET through the HTTP API with
// the same transfer made by the Go client directly (WriteFrom, ReadTo): the
// API's own cost is the difference.
func BenchmarkStream(b *testing.B) {
	const size = 32 << 20
	a := startAPI(b, httpapi.Options{})
	u := a.objURL("ns", "bench", "")
	sess := a.sess.Clone()
	sess.SetNamespace("ns")
	key := client.NewKey("bench-direct")
	ctx := context.Background()
	b.Run("http-put", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			req, _ := http.NewRequest(http.MethodPut, u, &patternReader{n: size})
			req.ContentLength = size
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusNoContent {
				b.Fatal(err, resp)
			}
			resp.Body.Close()
		}
	})
	b.Run("http-get", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			resp, err := http.Get(u)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatal(err, resp)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n != size {
				b.Fatal(fmt.Sprintf("got %d bytes", n))
			}
		}
	})
	b.Run("client-writefrom", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			if _, err := sess.WriteFrom(ctx, key, &patternReader{n: size}, size, client.StreamOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client-readto", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			if _, err := sess.ReadTo(ctx, key, io.Discard, client.StreamOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
