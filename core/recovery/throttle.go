package recovery

import (
	"context"

	"golang.org/x/time/rate"
)

// Limits bound how fast recovery works, so user traffic keeps its latency.
// Zero means unlimited.
type Limits struct {
	BytesPerSec   int64
	ObjectsPerSec int64
}

// throttle is a pair of token buckets; one is shared by every job of a
// node, and a job started with its own rate has one more.
type throttle struct {
	bytes, objects *rate.Limiter
}

func newThrottle(l Limits) *throttle {
	t := &throttle{}
	if l.BytesPerSec > 0 {
		// A burst of a second's worth (at least 1 MiB) lets one object of
		// that size through at once; larger objects wait in pieces.
		t.bytes = rate.NewLimiter(rate.Limit(l.BytesPerSec), int(max(l.BytesPerSec, 1<<20)))
	}
	if l.ObjectsPerSec > 0 {
		t.objects = rate.NewLimiter(rate.Limit(l.ObjectsPerSec), int(max(l.ObjectsPerSec/10, 1)))
	}
	return t
}

// wait takes one object and n bytes from the buckets.
func (t *throttle) wait(ctx context.Context, n uint64) error {
	if t == nil {
		return nil
	}
	if t.objects != nil {
		if err := t.objects.Wait(ctx); err != nil {
			return err
		}
	}
	if t.bytes != nil {
		burst := uint64(t.bytes.Burst())
		for n > 0 {
			step := min(n, burst)
			if err := t.bytes.WaitN(ctx, int(step)); err != nil {
				return err
			}
			n -= step
		}
	}
	return nil
}
