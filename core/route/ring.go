package route

import (
	"iter"
	"sort"
)

// chunkSize is the number of points a ring chunk is cut to. An update
// rewrites the chunks it adds points to or takes points from, so smaller
// chunks make updates cheaper and lookups a little slower (one more
// binary search level); at 64, a node joining a thousand-node table
// rewrites about 16 × 64 of its 16,000 points.
const chunkSize = 64

// ring is the index of one group: all its points in ascending order, each
// as the top 64 bits (for a fast, cache-friendly binary search) and a
// reference to the full point in its backend (to break ties between equal
// prefixes), 16 bytes per point besides the point itself.
//
// The points are cut into chunks that tables share: an update builds new
// chunks only where it adds or removes points. Rewriting every point for
// each change made route updates a fifth of the CPU of a forming
// thousand-node cluster, where every node applies a few joiners per push.
type ring struct {
	group  uint32
	n      int       // points
	heads  []uint64  // the first prefix of every chunk
	starts []int     // the ring index of every chunk's first point
	chunks [][]entry // never empty; shared between tables, never modified
}

// entry is one point of a ring.
type entry struct {
	prefix uint64 // the point's first 8 bytes, big-endian
	ref
}

// ref names a point: point p of the backend in slot s (see Table.index).
// Updates do not renumber slots, so a chunk stays valid in later tables.
type ref struct{ s, p int32 }

// newRing cuts the sorted es into chunks (which keep es's array).
func newRing(group uint32, es []entry) ring {
	r := ring{group: group}
	r.chunks = appendChunks(make([][]entry, 0, len(es)/chunkSize+1), es)
	r.reindex()
	return r
}

// appendChunks appends es to chunks, cut into pieces of about chunkSize
// points (one piece up to twice that, none when es is empty).
func appendChunks(chunks [][]entry, es []entry) [][]entry {
	if len(es) <= 2*chunkSize {
		if len(es) > 0 {
			chunks = append(chunks, es[:len(es):len(es)])
		}
		return chunks
	}
	pieces := (len(es) + chunkSize - 1) / chunkSize
	for i := range pieces {
		lo, hi := i*len(es)/pieces, (i+1)*len(es)/pieces
		chunks = append(chunks, es[lo:hi:hi])
	}
	return chunks
}

// reindex sets n, heads and starts from chunks.
func (r *ring) reindex() {
	r.heads = make([]uint64, len(r.chunks))
	r.starts = make([]int, len(r.chunks))
	r.n = 0
	for i, ch := range r.chunks {
		r.heads[i], r.starts[i] = ch[0].prefix, r.n
		r.n += len(ch)
	}
}

// at returns the point at index i of the ring, 0 <= i < r.n.
func (r *ring) at(i int) entry {
	c := sort.Search(len(r.starts), func(k int) bool { return r.starts[k] > i }) - 1
	return r.chunks[c][i-r.starts[c]]
}

// all yields the ring's points in order with their indices.
func (r *ring) all() iter.Seq2[int, entry] {
	return func(yield func(int, entry) bool) {
		i := 0
		for _, ch := range r.chunks {
			for _, e := range ch {
				if !yield(i, e) {
					return
				}
				i++
			}
		}
	}
}

// chunkFor returns the chunk a point of prefix v belongs in: the last one
// whose first prefix is <= v, or the first chunk.
func (r *ring) chunkFor(v uint64) int {
	return max(upperBound(r.heads, v)-1, 0)
}

// upper returns the index of the first point whose prefix is > v (r.n if
// none).
func (r *ring) upper(v uint64) int {
	c := upperBound(r.heads, v) // the first chunk starting above v
	if c == 0 {
		return 0
	}
	return r.starts[c-1] + upperBoundEntries(r.chunks[c-1], v)
}

// upperBound returns the index of the first element of the sorted p that is
// greater than v (len(p) if none). The loop has no data-dependent branch
// (the compiler turns the if into a conditional move), which matters on
// large rings where the comparisons are unpredictable.
func upperBound(p []uint64, v uint64) int {
	if len(p) == 0 {
		return 0
	}
	base, n := 0, len(p)
	for n > 1 {
		half := n >> 1
		if p[base+half] <= v {
			base += half
		}
		n -= half
	}
	if p[base] <= v {
		return base + 1
	}
	return base
}

// upperBoundEntries is upperBound over the prefixes of a chunk.
func upperBoundEntries(es []entry, v uint64) int {
	if len(es) == 0 {
		return 0
	}
	base, n := 0, len(es)
	for n > 1 {
		half := n >> 1
		if es[base+half].prefix <= v {
			base += half
		}
		n -= half
	}
	if es[base].prefix <= v {
		return base + 1
	}
	return base
}

// flatten returns the ring's points in one new slice.
func (r *ring) flatten() []entry {
	es := make([]entry, 0, r.n)
	for _, ch := range r.chunks {
		es = append(es, ch...)
	}
	return es
}
