package script

import (
	"container/list"
	"crypto/sha256"
	"sync"

	"go.uber.org/zap"
)

// DefaultCacheSize is the number of compiled programs an Engine keeps.
const DefaultCacheSize = 256

// Options configure an Engine.
type Options struct {
	Logger    *zap.Logger // print() output at debug level, contained panics at error level
	CacheSize int         // compiled programs kept; 0 means DefaultCacheSize
}

// Engine compiles and runs scripts. It is safe for concurrent use.
type Engine struct {
	log   *zap.Logger
	size  int
	stats statsTable

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, most recent first
	index map[cacheKey]*list.Element
}

type cacheKey struct {
	name    string
	version uint64
	sum     [sha256.Size]byte
}

type cacheEntry struct {
	key  cacheKey
	prog *Program
}

// New returns an Engine.
func New(o Options) *Engine {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	return &Engine{log: o.Logger, size: o.CacheSize, lru: list.New(), index: map[cacheKey]*list.Element{}}
}

// Program returns the compiled program of (name, version, src) from the
// cache, compiling it on a miss. The key includes a hash of src, so a
// script re-uploaded under the same version with other text is not
// served stale.
func (e *Engine) Program(name string, version uint64, src []byte) (*Program, error) {
	k := cacheKey{name: name, version: version, sum: sha256.Sum256(src)}
	e.mu.Lock()
	if el, ok := e.index[k]; ok {
		e.lru.MoveToFront(el)
		p := el.Value.(*cacheEntry).prog
		e.mu.Unlock()
		return p, nil
	}
	e.mu.Unlock()

	// Compile outside the lock: a big script must not stall other calls.
	p, err := Compile(name, version, src)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if el, ok := e.index[k]; ok { // compiled meanwhile by another call
		e.lru.MoveToFront(el)
		return el.Value.(*cacheEntry).prog, nil
	}
	e.index[k] = e.lru.PushFront(&cacheEntry{key: k, prog: p})
	for e.lru.Len() > e.size {
		old := e.lru.Back()
		e.lru.Remove(old)
		delete(e.index, old.Value.(*cacheEntry).key)
	}
	return p, nil
}

// Stats returns per-script counters, keyed by script name.
func (e *Engine) Stats() map[string]ScriptStats { return e.stats.snapshot() }
