package s3

import (
	"context"
	"fmt"
	"math/rand"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIndexConcurrentInsertAndPaging inserts keys through two frontends
// (two handlers, each with its own root cache) from several goroutines in
// random order, then pages through the bucket with ListObjectsV2 and checks
// that every key comes back once, in order; it logs the time per page.
func TestIndexConcurrentInsertAndPaging(t *testing.T) {
	n := 20000
	if raceEnabled || testing.Short() {
		n = 4000
	}
	s := startServer(t, 3, 1, func(o *Options) { o.PageSize = 256 })
	other := New(s.sess, s.h.opts).(*handler)
	s.must(200, "PUT", "/big", nil)
	b, err := s.h.bucket(context.Background(), "big")
	require.NoError(t, err)

	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k/%06d/%x", i, rand.Int63())
	}
	order := rand.Perm(n)
	start := time.Now()
	var wg sync.WaitGroup
	const workers = 8
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := s.h
			if w%2 == 1 {
				h = other
			}
			x := h.index(b)
			for i := w; i < n; i += workers {
				k := keys[order[i]]
				if err := x.put(context.Background(), indexEntry{K: k, S: int64(len(k)), E: "e", T: 1}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)
	t.Logf("inserted %d keys in %s (%s per key)", n, time.Since(start), time.Since(start)/time.Duration(n))

	sort.Strings(keys)
	var got []string
	tok := ""
	var worst time.Duration
	start = time.Now()
	pages := 0
	for ; ; pages++ {
		q := "/big?list-type=2"
		if tok != "" {
			q += "&continuation-token=" + tok
		}
		t0 := time.Now()
		_, body := s.must(200, "GET", q, nil)
		worst = max(worst, time.Since(t0))
		got = append(got, between(body, "<Key>", "</Key>")...)
		tok = first(between(body, "<NextContinuationToken>", "</NextContinuationToken>"))
		if tok == "" {
			break
		}
	}
	t.Logf("listed %d keys in %d pages of 1000: %s per page, slowest %s", len(got), pages+1, time.Since(start)/time.Duration(pages+1), worst)
	require.Equal(t, keys, got)

	// A page in the middle, found through the root, is as quick.
	t0 := time.Now()
	_, body := s.must(200, "GET", "/big?list-type=2&max-keys=100&start-after="+keys[n/2], nil)
	t.Logf("a page from the middle: %s", time.Since(t0))
	require.Equal(t, keys[n/2+1:n/2+101], between(body, "<Key>", "</Key>"))
}

// TestConcurrentPutDeleteThroughTwoFrontends races PUTs and DELETEs of the
// same keys through two handlers and checks that the listing ends exactly
// as the objects are.
func TestConcurrentPutDeleteThroughTwoFrontends(t *testing.T) {
	s := startServer(t, 3, 2, func(o *Options) { o.PageSize = 8 })
	s.must(200, "PUT", "/race", nil)
	other := New(s.sess, s.h.opts).(*handler)
	srv2 := httptest.NewServer(other)
	t.Cleanup(srv2.Close)
	s2 := &testServer{t: t, srv: srv2, h: other, sess: s.sess}

	const keys, ops = 24, 60
	var wg sync.WaitGroup
	var failed atomic.Int32
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := s
			if w%2 == 1 {
				ts = s2
			}
			rnd := rand.New(rand.NewSource(int64(w)))
			for range ops {
				k := fmt.Sprintf("/race/k%02d", rnd.Intn(keys))
				var code int
				if rnd.Intn(2) == 0 {
					code, _, _ = ts.do("PUT", k, []byte(k))
				} else {
					code, _, _ = ts.do("DELETE", k, nil)
				}
				if code != 200 && code != 204 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load(), "failed requests")
	var want []string
	for i := range keys {
		k := fmt.Sprintf("k%02d", i)
		if code, _, _ := s.do("HEAD", "/race/"+k, nil); code == 200 {
			want = append(want, k)
		}
	}
	_, body := s2.must(200, "GET", "/race?list-type=2", nil)
	require.Equal(t, want, between(body, "<Key>", "</Key>"))
}
