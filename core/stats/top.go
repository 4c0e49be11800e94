package stats

import (
	"cmp"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/id"
)

// Defaults of TopConfig.
const (
	DefaultTopLength = 50
	DefaultTopPeriod = 300 * time.Second
)

// topShards spreads keys over independently locked shards, so concurrent
// requests for different keys rarely wait for each other.
const topShards = 8

// topSlack is how many keys a sketch tracks per key reported: the
// space-saving estimate of a key is exact while the sketch has room, and
// is off by at most total/capacity once it is full.
const topSlack = 4

// TopConfig sizes a top-keys tracker.
type TopConfig struct {
	// Length is how many keys a snapshot lists per ordering (default 50).
	Length int
	// Period is the window: a snapshot covers the current period and the
	// one before it (so between one and two periods; default 300 s).
	// Periods are aligned on multiples of Period since the Unix epoch.
	Period time.Duration
}

// Top tracks the most requested keys over a recent window, by number of
// requests and by bytes moved, in bounded memory whatever the number of
// keys: each ordering is a space-saving sketch (Metwally et al.), split
// over shards by key, of 2*topSlack*Length/topShards keys (at least 32)
// per shard and window. The zero value is not usable: see NewTop.
type Top struct {
	length int
	period time.Duration
	shards [topShards]topShard
}

type topShard struct {
	mu    sync.Mutex
	epoch int64 // the current window: Unix time / period
	// cur and prev are the current and previous windows, each a sketch
	// by requests and one by bytes.
	cur, prev [2]sketch
	_         [64]byte // keeps shards' locks on separate cache lines
}

const (
	byRequests = iota
	byBytes
)

// NewTop returns a tracker; zero fields of cfg take the defaults.
func NewTop(cfg TopConfig) *Top {
	if cfg.Length <= 0 {
		cfg.Length = DefaultTopLength
	}
	if cfg.Period <= 0 {
		cfg.Period = DefaultTopPeriod
	}
	t := &Top{length: cfg.Length, period: cfg.Period}
	// Hot keys spread unevenly over the shards: each gets twice its
	// share of the capacity.
	per := max(2*cfg.Length*topSlack/topShards, 32)
	for i := range t.shards {
		sh := &t.shards[i]
		for k := range 2 {
			sh.cur[k].init(per, k == byBytes)
			sh.prev[k].init(per, k == byBytes)
		}
	}
	return t
}

// Record counts one request for key that moved bytes payload bytes, at
// time now (the caller has it already; the tracker reads no clock).
func (t *Top) Record(key id.ID, bytes uint64, now time.Time) {
	if t == nil {
		return
	}
	// A hash of the whole ID picks the shard and names the key in the
	// sketch: the keys a node serves share the leading bytes of its ring
	// ranges, and IDs given raw (not SHA-512 of a name) may share any.
	h := xxhash.Sum64(key[:])
	sh := &t.shards[h%topShards]
	epoch := now.UnixNano() / int64(t.period)
	sh.mu.Lock()
	if epoch != sh.epoch {
		sh.rotate(epoch)
	}
	sh.cur[byRequests].add(h, &key, 1, bytes)
	sh.cur[byBytes].add(h, &key, 1, bytes)
	sh.mu.Unlock()
}

// rotate starts window epoch; a window older than the one before it is
// dropped whole, so an idle tracker forgets its keys. Windows are aligned
// on multiples of the period, the same for every shard.
func (sh *topShard) rotate(epoch int64) {
	stale := epoch != sh.epoch+1
	for k := range 2 {
		sh.prev[k], sh.cur[k] = sh.cur[k], sh.prev[k]
		sh.cur[k].reset()
		if stale {
			sh.prev[k].reset()
		}
	}
	sh.epoch = epoch
}

// TopKey is one key of a top list.
type TopKey struct {
	Key string `json:"key"` // the ID in hex
	// Requests and Bytes are the counts of the window; while the sketch is
	// full they may overcount by up to Error (requests or bytes, by the
	// list's ordering) — never undercount.
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
	Error    uint64 `json:"error"`
}

// TopStats are the top keys of the window, by requests and by bytes.
type TopStats struct {
	Length   int      `json:"top_length"`
	PeriodS  float64  `json:"period_s"`
	Requests []TopKey `json:"by_requests"`
	Bytes    []TopKey `json:"by_bytes"`
}

// Snapshot returns the top keys of the window as of now.
func (t *Top) Snapshot(now time.Time) TopStats {
	out := TopStats{Length: t.length, PeriodS: t.period.Seconds()}
	var all [2][]TopKey
	epoch := now.UnixNano() / int64(t.period)
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		if epoch != sh.epoch {
			sh.rotate(epoch)
		}
		for k := range 2 {
			all[k] = merge(all[k], &sh.cur[k], &sh.prev[k])
		}
		sh.mu.Unlock()
	}
	out.Requests = best(all[byRequests], t.length, func(k TopKey) uint64 { return k.Requests })
	out.Bytes = best(all[byBytes], t.length, func(k TopKey) uint64 { return k.Bytes })
	return out
}

// merge appends the keys of both windows of one shard, summed per key.
func merge(dst []TopKey, cur, prev *sketch) []TopKey {
	sum := make(map[id.ID]TopKey, len(cur.entries)+len(prev.entries))
	for _, sk := range [...]*sketch{cur, prev} {
		sk.each(func(e *topEntry) {
			k := sum[e.key]
			k.Requests += e.requests
			k.Bytes += e.bytes
			k.Error += e.err
			sum[e.key] = k
		})
	}
	for key, k := range sum {
		k.Key = hex.EncodeToString(key[:])
		dst = append(dst, k)
	}
	return dst
}

func best(keys []TopKey, n int, by func(TopKey) uint64) []TopKey {
	slices.SortFunc(keys, func(a, b TopKey) int {
		if c := cmp.Compare(by(b), by(a)); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if len(keys) > n {
		keys = keys[:n]
	}
	if keys == nil {
		keys = []TopKey{}
	}
	return keys
}

// sketch is a space-saving sketch: at most cap keys, in a min-heap by
// weight (requests or bytes); a new key replaces the lightest one and
// inherits its weight as its error bound. The heap orders indexes into
// entries, so moving a key in it touches no map.
type sketch struct {
	byBytes bool
	cap     int
	// slot is each key's index in entries, by the key's 64-bit hash (a
	// collision among a few dozen keys is as likely as never; it would
	// merge two keys' counts).
	slot    map[uint64]int32
	entries []topEntry
	heap    []int32 // indexes into entries, lightest first
}

type topEntry struct {
	key             id.ID
	hash            uint64 // its name in slot
	requests, bytes uint64
	err             uint64
	at              int32 // index in heap
}

// init sizes the sketch; its memory grows with the keys seen, up to
// capacity, so a node that serves few keys (a test cluster of a thousand
// nodes) pays for few.
func (s *sketch) init(capacity int, byBytes bool) {
	s.cap, s.byBytes = capacity, byBytes
	s.slot = map[uint64]int32{}
}

func (s *sketch) reset() {
	clear(s.slot)
	s.entries = s.entries[:0]
	s.heap = s.heap[:0]
}

// each calls fn for every key tracked.
func (s *sketch) each(fn func(*topEntry)) {
	for i := range s.entries {
		fn(&s.entries[i])
	}
}

func (s *sketch) weight(h int) uint64 {
	e := &s.entries[s.heap[h]]
	if s.byBytes {
		return e.bytes
	}
	return e.requests
}

func (s *sketch) add(pk uint64, key *id.ID, requests, bytes uint64) {
	if i, ok := s.slot[pk]; ok {
		e := &s.entries[i]
		e.requests += requests
		e.bytes += bytes
		s.down(int(e.at))
		return
	}
	if len(s.entries) < s.cap {
		i := int32(len(s.entries))
		s.entries = append(s.entries, topEntry{key: *key, hash: pk, requests: requests, bytes: bytes, at: int32(len(s.heap))})
		s.heap = append(s.heap, i)
		s.slot[pk] = i
		s.up(len(s.heap) - 1)
		return
	}
	// Replace the lightest key: the new one may have been counted in its
	// place before, so it inherits the count as an over-estimate.
	i := s.heap[0]
	e := &s.entries[i]
	delete(s.slot, e.hash)
	e.err = e.requests
	if s.byBytes {
		e.err = e.bytes
	}
	e.key, e.hash = *key, pk
	e.requests += requests
	e.bytes += bytes
	s.slot[pk] = i
	s.down(0)
}

func (s *sketch) swap(a, b int) {
	s.heap[a], s.heap[b] = s.heap[b], s.heap[a]
	s.entries[s.heap[a]].at = int32(a)
	s.entries[s.heap[b]].at = int32(b)
}

func (s *sketch) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if s.weight(p) <= s.weight(i) {
			return
		}
		s.swap(i, p)
		i = p
	}
}

func (s *sketch) down(i int) {
	n := len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.weight(r) < s.weight(l) {
			m = r
		}
		if s.weight(i) <= s.weight(m) {
			return
		}
		s.swap(i, m)
		i = m
	}
}
