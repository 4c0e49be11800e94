package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/elliptics/elliptics/core/status"
)

// bulkInFlight bounds the keys of one bulk call in flight at once: enough to
// keep every node of a cluster busy, few enough that a call of a million keys
// does not open a million requests.
const bulkInFlight = 64

// BulkWrite writes datas[i] under keys[i] for every i, many keys at once.
// each, if not nil, is called once per key as its write completes, one call
// at a time, with the key's index, result and error (the checker's verdict).
// BulkWrite returns an error if any key failed, naming how many.
func (s *Session) BulkWrite(ctx context.Context, keys []Key, datas [][]byte, each func(i int, r Result, err error)) error {
	if len(keys) != len(datas) {
		return fmt.Errorf("bulk write: %d keys but %d values", len(keys), len(datas))
	}
	var (
		mu       sync.Mutex
		failed   int
		firstErr error
	)
	bulk(len(keys), func(i int) {
		r, err := s.Write(ctx, keys[i], datas[i])
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if failed == 0 {
				firstErr = err
			}
			failed++
		}
		if each != nil {
			each(i, r, err)
		}
	})
	if failed > 0 {
		return fmt.Errorf("bulk write: %d of %d keys failed, first: %w", failed, len(keys), firstErr)
	}
	return ctx.Err()
}

// BulkRead reads every key, many at once, each from the first group that
// has it. each is called once per key as its read completes, one call at a
// time; a missing key gets an error matching status.NotFound (and the entry
// of the last group tried, with that status). BulkRead
// itself fails only if ctx ends first.
func (s *Session) BulkRead(ctx context.Context, keys []Key, each func(i int, e Entry, err error)) error {
	var mu sync.Mutex
	bulk(len(keys), func(i int) {
		e, tried, err := s.ReadAll(ctx, keys[i], 0, 0)
		if err != nil && len(tried) > 0 {
			// The last group tried says where the key was looked for.
			e = tried[len(tried)-1]
			e.Status, e.Err, e.Data = status.FromError(err), err, nil
		}
		mu.Lock()
		defer mu.Unlock()
		each(i, e, err)
	})
	return ctx.Err()
}

// bulk runs do(0..n-1) with at most bulkInFlight running at once, and
// returns when all have returned. Every index runs even after the caller's
// context ended (each then fails fast), so every key is reported.
func bulk(n int, do func(i int)) {
	workers := min(n, bulkInFlight)
	next := make(chan int)
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for i := range next {
				do(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
