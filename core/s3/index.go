package s3

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/client"
)

// The per-bucket index is a B-link tree of one level of leaves under a
// directory (Lehman and Yao's right links make the directory a hint):
//
//   - A page is a cluster object (namespace "s3i/<bucket id>", key
//     "p0" for the first page, "p/<random>" for the others) holding a
//     sorted run of at most PageSize entries (key, size, ETag, mtime), its
//     fence keys [Low, High) and Next, the key of the page to its right.
//     The pages chained by Next cover the whole key space in order; that
//     chain is the truth.
//   - The root ("root") lists every page's Low and key, sorted. It is only
//     a hint: a page's Low never changes (a split keeps the left half in
//     place and moves the right half to a new page), so any page the root
//     names for a key is at or left of the page that holds it, and a
//     search follows Next while the key is >= the page's High. Frontends
//     cache roots; a stale cache costs hops, never correctness.
//   - Inserts and removes change one page by compare-and-swap
//     (client.WriteCAS), so writers through different frontends never lose
//     each other's updates; a write whose key left the page's fences (a
//     split got there first) searches again. A page that grows past
//     PageSize splits: the new right page is written first, then the left
//     page shrinks and links to it in one CAS, then the root learns of it
//     (a crash before that leaves a page only the chain knows about;
//     searches still find it).
//   - A delete that leaves a page under a quarter full merges: the page's
//     right neighbour (if the two fit in half a page) is marked dead by CAS
//     (entries frozen, Fwd naming the page on its left), the live page
//     that links to it takes its entries, High and Next in one CAS, and
//     the root drops it; the page's left neighbour likewise absorbs it.
//     Whoever meets a dead page finishes its merge first (finishMerge).
//     Dead pages are kept, emptied, as tombstones: elliptics lets a CAS on
//     an absent key through, so a writer's CAS prepared against a page
//     before it died would otherwise recreate it, unlinked.
//     A page's Low still never changes, so the root stays a safe hint.
//
// Listing a page of 1000 keys out of a million reads the (cached) root,
// binary-searches it, and reads two or three pages.

const (
	rootKey      = "root"
	firstPageKey = "p0"
)

type indexEntry struct {
	K string `json:"k"`
	S int64  `json:"s"`
	E string `json:"e"`
	T int64  `json:"t"` // mtime, Unix milliseconds
}

type indexPage struct {
	Low     string       `json:"low"`
	High    string       `json:"high,omitempty"`
	Last    bool         `json:"last,omitempty"` // no upper fence
	Next    string       `json:"next,omitempty"`
	V       uint64       `json:"v"` // bumped by every write, so no two writes store the same bytes
	Entries []indexEntry `json:"entries"`
	// Dead: the page is being merged into the page to its left (Fwd is
	// where the search goes on); its entries are frozen until the merge.
	Dead bool   `json:"dead,omitempty"`
	Fwd  string `json:"fwd,omitempty"`
}

func (p *indexPage) covers(k string) bool { return !p.Dead && k >= p.Low && (p.Last || k < p.High) }

// errMissingPage: a page a stale root or link named was merged away.
var errMissingPage = errors.New("index page is gone")

type rootRef struct {
	Low string `json:"l"`
	Key string `json:"p"`
}

type indexRoot struct {
	Pages []rootRef `json:"pages"`
}

// rootCache keeps the roots of recently used buckets, at most max page
// references in all (it starts over when full).
type rootCache struct {
	mu    sync.Mutex
	max   int
	refs  int
	roots map[string][]rootRef
}

func newRootCache(max int) *rootCache { return &rootCache{max: max, roots: map[string][]rootRef{}} }

func (c *rootCache) get(id string) ([]rootRef, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.roots[id]
	return r, ok
}

func (c *rootCache) put(id string, r []rootRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs -= len(c.roots[id])
	if c.refs+len(r) > c.max {
		clear(c.roots)
		c.refs = 0
	}
	if len(r) > c.max {
		return
	}
	c.roots[id] = r
	c.refs += len(r)
}

type index struct {
	h    *handler
	id   string
	sess *client.Session
}

func (h *handler) index(b *bucketRec) *index {
	return &index{h: h, id: b.ID, sess: h.ns(b.indexNS())}
}

// root returns the root (from the cache unless fresh).
func (x *index) root(ctx context.Context, fresh bool) ([]rootRef, error) {
	if !fresh {
		if r, ok := x.h.roots.get(x.id); ok {
			return r, nil
		}
	}
	var root indexRoot
	if _, err := readJSON(ctx, x.sess, rootKey, &root); err != nil {
		return nil, err
	}
	if len(root.Pages) == 0 || root.Pages[0].Low != "" {
		root.Pages = append([]rootRef{{Low: "", Key: firstPageKey}}, root.Pages...)
	}
	x.h.roots.put(x.id, root.Pages)
	return root.Pages, nil
}

// readPage reads a page; the first page exists implicitly.
func (x *index) readPage(ctx context.Context, key string) (*indexPage, error) {
	var p indexPage
	found, err := readJSON(ctx, x.sess, key, &p)
	if err != nil {
		return nil, err
	}
	if !found {
		if key == firstPageKey {
			return &indexPage{Last: true}, nil
		}
		return nil, fmt.Errorf("index page %s/%s: %w", x.sess.Namespace(), key, errMissingPage)
	}
	return &p, nil
}

const maxHops = 1 << 20

// find returns the page that covers k and its key.
func (x *index) find(ctx context.Context, k string) (string, *indexPage, error) {
	fresh := false
	for attempt := 0; attempt < 8; attempt++ {
		key, p, err := x.findFrom(ctx, k, fresh)
		if errors.Is(err, errMissingPage) {
			fresh = true // a cached root named a page merged away
			continue
		}
		return key, p, err
	}
	return "", nil, fmt.Errorf("index %s: pages keep vanishing on the way to %q", x.sess.Namespace(), k)
}

func (x *index) findFrom(ctx context.Context, k string, fresh bool) (string, *indexPage, error) {
	refs, err := x.root(ctx, fresh)
	if err != nil {
		return "", nil, err
	}
	i, found := slices.BinarySearchFunc(refs, k, func(r rootRef, k string) int { return strings.Compare(r.Low, k) })
	if !found {
		i--
	}
	key := refs[max(i, 0)].Key
	for hops := 0; hops < maxHops; hops++ {
		p, err := x.readPage(ctx, key)
		if err != nil {
			return "", nil, err
		}
		if p.Dead {
			// Finish its merge (whoever started it), then search from
			// the page it went into, which is to its left.
			if err := x.finishMerge(ctx, key, p, 0); err != nil {
				return "", nil, err
			}
			key = p.Fwd
			continue
		}
		if p.covers(k) {
			if hops > 2 {
				_, _ = x.root(ctx, true)
			}
			return key, p, nil
		}
		if p.Last || p.Next == "" || k < p.Low {
			return "", nil, fmt.Errorf("index %s: page %s [%q, %q) does not lead to %q", x.sess.Namespace(), key, p.Low, p.High, k)
		}
		key = p.Next
	}
	return "", nil, fmt.Errorf("index %s: too many hops to %q", x.sess.Namespace(), k)
}

// mergeRight is called after a delete left page pkey small: its right
// neighbour R is marked dead (frozen, pointing back to pkey) and merged
// into the page that links to it. Any frontend that meets a dead page
// finishes the merge (finishMerge), so a frontend that stops half way
// leaves nothing stuck.
//
// It merges only small pages (under a quarter of PageSize) with a
// neighbour that leaves the result at most half full; more reports a
// merge (the page may still be small).
func (x *index) mergeRight(ctx context.Context, pkey string) (more bool, err error) {
	p, err := x.readPage(ctx, pkey)
	if err != nil || p.Dead || p.Last || p.Next == "" || !x.small(len(p.Entries)) {
		return false, err
	}
	rkey := p.Next
	var dead *indexPage
	err = casJSON(ctx, x.sess, rkey, func(r *indexPage, found bool) error {
		dead = nil // an earlier attempt's snapshot did not commit
		if !found || r.Dead || r.Low != p.High || len(p.Entries)+len(r.Entries) > x.h.opts.PageSize/2 {
			return errSkip
		}
		r.Dead, r.Fwd = true, pkey
		r.V++
		c := *r
		dead = &c
		return nil
	})
	if err != nil || dead == nil {
		return false, err
	}
	return true, x.finishMerge(ctx, rkey, dead, 0)
}

// merges runs mergeRight on a page while it merges (at most 64 times).
func (x *index) merges(ctx context.Context, key string) {
	for range 64 {
		more, err := x.mergeRight(ctx, key)
		if err != nil && x.h.opts.Logf != nil {
			x.h.opts.Logf("s3: merge index page %s: %v", key, err)
		}
		if !more {
			return
		}
	}
}

// pred returns the live page whose Next is key (a page whose Low is low),
// "" when there is none.
func (x *index) pred(ctx context.Context, key, low string) (string, error) {
	refs, err := x.root(ctx, false)
	if err != nil {
		return "", err
	}
	i, _ := slices.BinarySearchFunc(refs, low, func(r rootRef, k string) int { return strings.Compare(r.Low, k) })
	cur := refs[max(i-1, 0)].Key
	for hops := 0; hops < 64; hops++ {
		p, err := x.readPage(ctx, cur)
		if err != nil {
			return "", err
		}
		switch {
		case p.Dead:
			cur = p.Fwd
		case p.Next == key:
			return cur, nil
		case p.Last || p.Next == "" || p.Low >= low:
			return "", nil
		default:
			cur = p.Next
		}
	}
	return "", nil
}

// small reports whether a page of n entries should absorb its neighbour.
func (x *index) small(n int) bool { return n < max(1, x.h.opts.PageSize/4) }

// finishMerge merges the dead page rkey into the live page that links to
// it (found from r.Fwd along Next: splits may have put pages between),
// drops it from the root and empties it (it stays as a tombstone). It does
// nothing when that was done already.
func (x *index) finishMerge(ctx context.Context, rkey string, r *indexPage, depth int) error {
	if depth > 8 {
		return fmt.Errorf("index %s: merges nested too deep at %s", x.sess.Namespace(), rkey)
	}
	key := r.Fwd
	for hops := 0; hops < maxHops; hops++ {
		p, err := x.readPage(ctx, key)
		if errors.Is(err, errMissingPage) {
			return nil // the page we came from went too: someone finished
		}
		if err != nil {
			return err
		}
		if p.Dead {
			if err := x.finishMerge(ctx, key, p, depth+1); err != nil {
				return err
			}
			key = p.Fwd
			continue
		}
		if p.covers(r.Low) || p.Last || p.Next == "" || p.Low > r.Low {
			return nil // merged already: no live page links to it
		}
		if p.Next != rkey {
			key = p.Next
			continue
		}
		merged := false
		err = casJSON(ctx, x.sess, key, func(q *indexPage, found bool) error {
			merged = false
			if !found || q.Dead || q.Next != rkey {
				return errSkip // changed: look again
			}
			q.Entries = append(q.Entries, r.Entries...)
			q.High, q.Last, q.Next = r.High, r.Last, r.Next
			q.V++
			merged = true
			return nil
		})
		if err != nil {
			return err
		}
		if !merged {
			continue // read the page again
		}
		err = casJSON(ctx, x.sess, rootKey, func(root *indexRoot, _ bool) error {
			n := len(root.Pages)
			root.Pages = slices.DeleteFunc(root.Pages, func(ref rootRef) bool { return ref.Key == rkey })
			if len(root.Pages) == n {
				return errSkip
			}
			return nil
		})
		if err != nil {
			return err
		}
		_, _ = x.root(ctx, true)
		// The dead page stays, emptied, as a tombstone: removing it would
		// let a CAS prepared against it before it died succeed on the
		// absent key (a CAS on an absent key succeeds) and lose that
		// entry in a page no one links to.
		return casJSON(ctx, x.sess, rkey, func(d *indexPage, found bool) error {
			if !found || !d.Dead || len(d.Entries) == 0 {
				return errSkip
			}
			d.Entries = nil
			d.V++
			return nil
		})
	}
	return fmt.Errorf("index %s: too many hops merging %s", x.sess.Namespace(), rkey)
}

var errMoved = errors.New("key moved to another page")

// update applies fn to the entries of the page covering k, by CAS,
// splitting the page when it grows past PageSize.
func (x *index) update(ctx context.Context, k string, fn func(p *indexPage) error) error {
	for attempt := 0; attempt < 100; attempt++ {
		key, _, err := x.find(ctx, k)
		if err != nil {
			return err
		}
		var split *rootRef
		emptied, low := false, ""
		err = casJSON(ctx, x.sess, key, func(p *indexPage, found bool) error {
			split, emptied = nil, false
			if !found {
				if key != firstPageKey {
					return errMoved
				}
				*p = indexPage{Last: true}
			}
			if !p.covers(k) {
				return errMoved
			}
			before := len(p.Entries)
			if err := fn(p); err != nil {
				return err
			}
			p.V++
			emptied = len(p.Entries) < before && x.small(len(p.Entries))
			low = p.Low
			if len(p.Entries) <= x.h.opts.PageSize && (len(p.Entries) < 2 || pageBytes(p) <= maxPageBytes) {
				return nil
			}
			mid := len(p.Entries) / 2
			right := indexPage{Low: p.Entries[mid].K, High: p.High, Last: p.Last, Next: p.Next,
				Entries: slices.Clone(p.Entries[mid:])}
			rkey := "p/" + randomID(10)
			if err := writeJSON(ctx, x.sess, rkey, &right); err != nil {
				return err
			}
			p.High, p.Last, p.Next = right.Low, false, rkey
			p.Entries = slices.Clip(p.Entries[:mid])
			split = &rootRef{Low: right.Low, Key: rkey}
			return nil
		})
		if errors.Is(err, errMoved) {
			_, _ = x.root(ctx, true)
			time.Sleep(time.Duration(attempt) * time.Millisecond)
			continue
		}
		if err != nil {
			return err
		}
		if emptied {
			// Best effort: a failed merge leaves an empty page (or a
			// dead one the next search finishes).
			// The page absorbs small right neighbours, and its left
			// neighbour absorbs it if small too (deleting in key order
			// empties pages left to right).
			x.merges(ctx, key)
			if low != "" {
				if pred, err := x.pred(ctx, key, low); err == nil && pred != "" {
					x.merges(ctx, pred)
				}
			}
		}
		if split != nil {
			err := casJSON(ctx, x.sess, rootKey, func(r *indexRoot, _ bool) error {
				i, found := slices.BinarySearchFunc(r.Pages, split.Low, func(r rootRef, k string) int { return strings.Compare(r.Low, k) })
				if found {
					return errSkip
				}
				r.Pages = slices.Insert(r.Pages, i, *split)
				return nil
			})
			if err != nil {
				return err
			}
			_, _ = x.root(ctx, true)
		}
		return nil
	}
	return fmt.Errorf("index %s: %q kept moving", x.sess.Namespace(), k)
}

// put adds or replaces the entry of e.K.
func (x *index) put(ctx context.Context, e indexEntry) error {
	return x.update(ctx, e.K, func(p *indexPage) error {
		i, found := slices.BinarySearchFunc(p.Entries, e.K, cmpEntry)
		if found {
			p.Entries[i] = e
		} else {
			p.Entries = slices.Insert(p.Entries, i, e)
		}
		return nil
	})
}

// sync makes the entry of k what load says (nil: no entry), calling load
// inside every CAS attempt, after the page is read. Every attempt writes
// (the page's version changes), so of two frontends syncing the same key
// the one that commits last read the object record after the other's
// commit: the index ends as the record is, whatever the interleaving of
// record and index updates.
func (x *index) sync(ctx context.Context, k string, load func() (*indexEntry, error)) error {
	return x.update(ctx, k, func(p *indexPage) error {
		e, err := load()
		if err != nil {
			return err
		}
		i, found := slices.BinarySearchFunc(p.Entries, k, cmpEntry)
		switch {
		case e == nil && found:
			p.Entries = slices.Delete(p.Entries, i, i+1)
		case e != nil && found:
			p.Entries[i] = *e
		case e != nil:
			p.Entries = slices.Insert(p.Entries, i, *e)
		}
		return nil
	})
}

// delete removes the entry of k.
func (x *index) delete(ctx context.Context, k string) error {
	return x.update(ctx, k, func(p *indexPage) error {
		i, found := slices.BinarySearchFunc(p.Entries, k, cmpEntry)
		if !found {
			return errSkip
		}
		p.Entries = slices.Delete(p.Entries, i, i+1)
		return nil
	})
}

// maxPageBytes splits pages of long keys before PageSize entries.
const maxPageBytes = 256 << 10

// pageBytes is about the encoded size of a page.
func pageBytes(p *indexPage) int {
	n := len(p.Low) + len(p.High) + len(p.Next)
	for _, e := range p.Entries {
		n += len(e.K) + len(e.E) + 48
	}
	return n
}

func cmpEntry(e indexEntry, k string) int { return strings.Compare(e.K, k) }

// cursor walks the index in key order.
type cursor struct {
	x    *index
	p    *indexPage
	pos  int
	done bool
	from string  // where it was placed
	last *string // the last key returned
}

// seek places a cursor at the first entry >= from.
func (x *index) seek(ctx context.Context, from string) (*cursor, error) {
	_, p, err := x.find(ctx, from)
	if err != nil {
		return nil, err
	}
	i, _ := slices.BinarySearchFunc(p.Entries, from, cmpEntry)
	return &cursor{x: x, p: p, pos: i, from: from}, nil
}

// seek moves the cursor forward to the first entry >= from, within the
// current page when it covers from (no cluster read), else through the
// root.
func (c *cursor) seek(ctx context.Context, from string) error {
	if c.p.covers(from) {
		c.pos, _ = slices.BinarySearchFunc(c.p.Entries, from, cmpEntry)
		c.done, c.from, c.last = false, from, nil
		return nil
	}
	n, err := c.x.seek(ctx, from)
	if err != nil {
		return err
	}
	*c = *n
	return nil
}

// next returns the next entry; ok is false at the end.
func (c *cursor) next(ctx context.Context) (e indexEntry, ok bool, err error) {
	for !c.done {
		if c.pos < len(c.p.Entries) {
			c.pos++
			k := c.p.Entries[c.pos-1].K
			c.last = &k
			return c.p.Entries[c.pos-1], true, nil
		}
		if c.p.Last || c.p.Next == "" {
			c.done = true
			break
		}
		p, err := c.x.readPage(ctx, c.p.Next)
		if errors.Is(err, errMissingPage) || err == nil && p.Dead {
			// Merged away since: search again from after the last key
			// returned (its entries went to the page on its left).
			from := c.from
			if c.last != nil {
				from = *c.last + "\x00"
			}
			last := c.last
			n, err := c.x.seek(ctx, from)
			if err != nil {
				return e, false, err
			}
			*c = *n
			c.last = last
			continue
		}
		if err != nil {
			return e, false, err
		}
		c.p, c.pos = p, 0
	}
	return e, false, nil
}

// empty reports whether the index has no entries.
func (x *index) empty(ctx context.Context) (bool, error) {
	c, err := x.seek(ctx, "")
	if err != nil {
		return false, err
	}
	_, ok, err := c.next(ctx)
	return !ok, err
}

// drop removes every page and the root.
func (x *index) drop(ctx context.Context) error {
	key := firstPageKey
	for hops := 0; key != "" && hops < maxHops; hops++ {
		var p indexPage
		found, err := readJSON(ctx, x.sess, key, &p)
		if err != nil {
			return err
		}
		if !found {
			break
		}
		if err := remove(ctx, x.sess, key); err != nil {
			return err
		}
		key = p.Next
		if p.Last {
			key = ""
		}
	}
	return remove(ctx, x.sess, rootKey)
}
