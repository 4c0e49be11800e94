package s3

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// bulkLoad builds a bucket's index from sorted entries directly (pages
// half full, linked, and the root), as a test fixture for big buckets.
func bulkLoad(ctx context.Context, x *index, entries []indexEntry) error {
	per := x.h.opts.PageSize / 2
	var root indexRoot
	n := (len(entries) + per - 1) / per
	keyOf := func(i int) string {
		if i == 0 {
			return firstPageKey
		}
		return fmt.Sprintf("p/bulk%08d", i)
	}
	for i := 0; i < n; i++ {
		run := entries[i*per : min((i+1)*per, len(entries))]
		p := indexPage{Entries: run, Last: i == n-1}
		if i > 0 {
			p.Low = run[0].K
		}
		if i < n-1 {
			p.High, p.Next = entries[(i+1)*per].K, keyOf(i+1)
		}
		if err := writeJSON(ctx, x.sess, keyOf(i), &p); err != nil {
			return err
		}
		root.Pages = append(root.Pages, rootRef{Low: p.Low, Key: keyOf(i)})
	}
	return writeJSON(ctx, x.sess, rootKey, &root)
}

// TestBigBucketListing (S3_INDEX_KEYS=1000000 go test -run BigBucket
// ./core/s3) lists pages of 1000 keys from a bucket of that many objects
// at several places, on a cold root cache and a warm one, and inserts into
// it.
func TestBigBucketListing(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("S3_INDEX_KEYS"))
	if n <= 0 {
		t.Skip("set S3_INDEX_KEYS to the number of objects")
	}
	ctx := context.Background()
	s := startServer(t, 3, 1, nil)
	s.must(200, "PUT", "/huge", nil)
	b, err := s.h.bucket(ctx, "huge")
	require.NoError(t, err)
	entries := make([]indexEntry, n)
	for i := range entries {
		entries[i] = indexEntry{K: fmt.Sprintf("objects/%03d/%09d.jpg", i%1000, i), S: int64(i), E: "0123456789abcdef0123456789abcdef", T: 1}
	}
	slicesSortEntries(entries)
	t0 := time.Now()
	require.NoError(t, bulkLoad(ctx, s.h.index(b), entries))
	t.Logf("bulk-loaded %d keys in %s", n, time.Since(t0))

	for _, cold := range []bool{true, false} {
		for _, at := range []int{0, n / 3, n / 2, n - 500} {
			if cold {
				s.h.roots = newRootCache(rootCacheRefs)
			}
			q := "/huge?list-type=2"
			if at > 0 {
				q += "&start-after=" + entries[at-1].K
			}
			t0 := time.Now()
			_, body := s.must(200, "GET", q, nil)
			d := time.Since(t0)
			keys := between(body, "<Key>", "</Key>")
			require.Equal(t, entries[at].K, keys[0])
			t.Logf("page of %d keys at %d (cold root %v): %s", len(keys), at, cold, d)
		}
	}
	t0 = time.Now()
	_, body := s.must(200, "GET", "/huge?list-type=2&delimiter=/&prefix=objects/", nil)
	t.Logf("common prefixes of %d objects: %d in %s", n, len(between(body, "<Prefix>", "</Prefix>"))-1, time.Since(t0))
	t0 = time.Now()
	for i := range 100 {
		s.must(200, "PUT", fmt.Sprintf("/huge/objects/%03d/new%d", i*7%1000, i), []byte("x"))
	}
	t.Logf("100 PUTs into the big bucket: %s each", time.Since(t0)/100)
}

func slicesSortEntries(e []indexEntry) {
	sort.Slice(e, func(i, j int) bool { return e[i].K < e[j].K })
}
