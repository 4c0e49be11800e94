package script

import (
	"errors"
	"sync"
	"time"
)

// ScriptStats are the counters of one script (by name, all versions).
type ScriptStats struct {
	Calls, Errors                                uint64
	StepLimit, TimeLimit, ByteLimit, MemoryLimit uint64
	Latency                                      time.Duration // total
	MaxLatency                                   time.Duration
}

type statsTable struct {
	mu sync.Mutex
	m  map[string]*ScriptStats
}

func (t *statsTable) record(name string, err error, took time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*ScriptStats{}
	}
	s := t.m[name]
	if s == nil {
		s = &ScriptStats{}
		t.m[name] = s
	}
	s.Calls++
	s.Latency += took
	s.MaxLatency = max(s.MaxLatency, took)
	if err == nil {
		return
	}
	s.Errors++
	switch {
	case errors.Is(err, ErrSteps):
		s.StepLimit++
	case errors.Is(err, ErrTimeout):
		s.TimeLimit++
	case errors.Is(err, ErrBudget):
		s.ByteLimit++
	case errors.Is(err, ErrMemory):
		s.MemoryLimit++
	}
}

func (t *statsTable) snapshot() map[string]ScriptStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]ScriptStats, len(t.m))
	for k, v := range t.m {
		out[k] = *v
	}
	return out
}
