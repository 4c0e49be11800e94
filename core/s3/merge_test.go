package s3

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// chainPages walks the page chain from the first page.
func chainPages(t *testing.T, x *index) (pages int, keys []string) {
	t.Helper()
	key := firstPageKey
	for key != "" {
		p, err := x.readPage(context.Background(), key)
		require.NoError(t, err)
		require.False(t, p.Dead, "dead page %s still linked", key)
		pages++
		for _, e := range p.Entries {
			keys = append(keys, e.K)
		}
		if p.Last {
			break
		}
		key = p.Next
	}
	return pages, keys
}

// TestIndexMergesEmptiedPages deletes most keys of a bucket from several
// goroutines through two frontends while others insert, and checks that
// emptied pages were merged away and nothing was lost.
func TestIndexMergesEmptiedPages(t *testing.T) {
	s := startServer(t, 3, 2, func(o *Options) { o.PageSize = 8 })
	other := New(s.sess, s.h.opts).(*handler)
	s.must(200, "PUT", "/mrg", nil)
	ctx := context.Background()
	b, err := s.h.bucket(ctx, "mrg")
	require.NoError(t, err)
	const n = 800
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("k%04d", i))
	}
	x := s.h.index(b)
	for _, i := range rand.Perm(n) {
		require.NoError(t, x.put(ctx, indexEntry{K: keys[i], E: "e"}))
	}
	before, _ := chainPages(t, x)

	// Keep every 50th key; delete the rest in random order while other
	// goroutines add new keys.
	var del, add []string
	want := map[string]bool{}
	for i, k := range keys {
		if i%50 == 0 {
			want[k] = true
		} else {
			del = append(del, k)
		}
	}
	for i := range 100 {
		k := fmt.Sprintf("k%04d+new", rand.Intn(n)) + fmt.Sprint(i)
		add = append(add, k)
		want[k] = true
	}
	rand.Shuffle(len(del), func(i, j int) { del[i], del[j] = del[j], del[i] })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := s.h
			if w%2 == 1 {
				h = other
			}
			xi := h.index(b)
			for i := w; i < len(del); i += 8 {
				if err := xi.delete(ctx, del[i]); err != nil {
					errs <- err
					return
				}
				if i%7 == 0 && i/7 < len(add) {
					if err := xi.put(ctx, indexEntry{K: add[i/7], E: "e"}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	require.NoError(t, <-errs)
	for i := range add {
		if i*7 >= len(del) {
			require.NoError(t, x.put(ctx, indexEntry{K: add[i], E: "e"}))
		}
	}
	var wantKeys []string
	for k := range want {
		wantKeys = append(wantKeys, k)
	}
	sort.Strings(wantKeys)

	after, chained := chainPages(t, x)
	require.Equal(t, wantKeys, chained)
	t.Logf("pages: %d before, %d after deleting %d of %d keys", before, after, len(del), n)
	require.Less(t, after, before/2)

	// Listing (through a frontend whose cached root predates the merges)
	// agrees, and every page the root names exists.
	_, body := s.must(200, "GET", "/mrg?list-type=2", nil)
	require.Equal(t, wantKeys, between(body, "<Key>", "</Key>"))
	refs, err := x.root(ctx, true)
	require.NoError(t, err)
	for _, r := range refs {
		_, err := x.readPage(ctx, r.Key)
		require.NoError(t, err, "root names %s", r.Key)
	}
	// Emptying the bucket leaves one page.
	for _, k := range wantKeys {
		require.NoError(t, x.delete(ctx, k))
	}
	pages, _ := chainPages(t, x)
	require.LessOrEqual(t, pages, 2)
	empty, err := x.empty(ctx)
	require.NoError(t, err)
	require.True(t, empty)
}

// TestCursorOverDeadPage: a cursor whose next page died (merged into the
// page it is on) searches again from after the last key it returned.
func TestCursorOverDeadPage(t *testing.T) {
	s := startServer(t, 2, 1, func(o *Options) { o.PageSize = 8 })
	s.must(200, "PUT", "/cur", nil)
	ctx := context.Background()
	b, err := s.h.bucket(ctx, "cur")
	require.NoError(t, err)
	x := s.h.index(b)
	var keys []string
	for i := range 40 {
		k := fmt.Sprintf("k%03d", i)
		keys = append(keys, k)
		require.NoError(t, x.put(ctx, indexEntry{K: k}))
	}
	c, err := x.seek(ctx, "")
	require.NoError(t, err)
	next := c.p.Next
	var got []string
	for range len(c.p.Entries) {
		e, ok, err := c.next(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		got = append(got, e.K)
	}
	// Now most keys go: the first page shrinks and absorbs its
	// neighbours, the one the cursor will read next among them.
	for i, k := range keys {
		if i%10 != 0 {
			require.NoError(t, x.delete(ctx, k))
		}
	}
	p, err := x.readPage(ctx, next)
	require.NoError(t, err)
	require.True(t, p.Dead, "the next page should have merged away")
	last := got[len(got)-1]
	for {
		e, ok, err := c.next(ctx)
		require.NoError(t, err)
		if !ok {
			break
		}
		got = append(got, e.K)
	}
	_, now := chainPages(t, x)
	var want []string
	for _, k := range got {
		if k <= last {
			want = append(want, k)
		}
	}
	for _, k := range now {
		if k > last {
			want = append(want, k)
		}
	}
	require.Equal(t, want, got)
}
