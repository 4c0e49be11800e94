package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/elliptics/elliptics/core/proto"
)

// DefaultJobConcurrency is JobOptions.Concurrency's default.
const DefaultJobConcurrency = 16

// JobOptions modify RunJobs.
type JobOptions struct {
	// Concurrency is how many jobs run at once (default
	// DefaultJobConcurrency); each runs on its key's owner, so the load
	// spreads over the nodes as the keys do.
	Concurrency int
	// Exec is passed to every Exec.
	Exec ExecOptions
	// Progress, when set, is called after each job with the jobs done
	// (succeeded or failed) and the total, from one goroutine at a time.
	Progress func(done, total int)
}

// JobSummary counts the outcome of RunJobs.
type JobSummary struct {
	Total, Succeeded, Failed int
}

// RunJobs is the job manager: it runs event on the owner of every key,
// with data as input, Concurrency at a time, and calls fn with each job's
// result as it completes (from one goroutine at a time; the result's Key
// names the job). A job whose node cannot be reached or is going away is
// retried on the key's owner in the session's next group (Exec), so a
// dead node's jobs run on another group's replica. Jobs stop being
// started when ctx ends. RunJobs fails only on bad arguments or when ctx
// ended before every job ran; failed jobs are counted and reported to fn.
func (s *Session) RunJobs(ctx context.Context, event string, keys []string, data []byte, o JobOptions,
	fn func(ExecResult)) (JobSummary, error) {
	sum := JobSummary{Total: len(keys)}
	if _, _, err := proto.ParseEvent(event); err != nil {
		return sum, err
	}
	workers := o.Concurrency
	if workers <= 0 {
		workers = DefaultJobConcurrency
	}
	workers = min(workers, max(len(keys), 1))
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				r, err := s.Exec(ctx, NewKey(keys[i]), event, data, o.Exec)
				r.Key = keys[i]
				if err != nil && r.Err == nil {
					r.Err = err
				}
				func() {
					mu.Lock()
					defer mu.Unlock()
					if r.Err == nil {
						sum.Succeeded++
					} else {
						sum.Failed++
					}
					if fn != nil {
						fn(r)
					}
					if o.Progress != nil {
						o.Progress(sum.Succeeded+sum.Failed, sum.Total)
					}
				}()
			}
		})
	}
	wg.Wait()
	if done := sum.Succeeded + sum.Failed; done < sum.Total {
		return sum, fmt.Errorf("jobs %s: stopped after %d of %d: %w", event, done, sum.Total, errors.Join(ctx.Err()))
	}
	return sum, nil
}
