package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/stats"
	"github.com/elliptics/elliptics/core/status"
)

// MonitorStatResult is the statistics of one node.
type MonitorStatResult struct {
	// Address is the node asked.
	Address string
	// Raw is the node's JSON as it sent it (docs/monitoring.md); Stats is
	// it parsed. Both are empty when Err is set.
	Raw   []byte
	Stats *stats.Snapshot
	Err   error
}

// MonitorStat gathers the statistics of the given categories
// (stats.Category* bits; stats.CategoryAll for everything) from the node
// at addr, or, when addr is "", from every node of the client's route
// table at once, each bounded by the session's timeout. Results come in
// address order. With addr "" a node that fails has its Err set and the
// call fails only if every node did; with an addr the call fails with that
// node's error.
func (s *Session) MonitorStat(ctx context.Context, addr string, categories uint64) ([]MonitorStatResult, error) {
	if addr != "" {
		r := s.monitorStat(ctx, addr, categories)
		return []MonitorStatResult{r}, r.Err
	}
	addrs := s.node.Table().Addresses()
	if len(addrs) == 0 {
		return nil, status.Errorf(status.NoRoute, "monitor stat: the route table lists no node")
	}
	return s.MonitorStatOf(ctx, addrs, categories)
}

// MonitorStatOf is MonitorStat of the nodes at addrs, asked at once.
func (s *Session) MonitorStatOf(ctx context.Context, addrs []string, categories uint64) ([]MonitorStatResult, error) {
	addrs = slices.Clone(addrs)
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	if len(addrs) == 0 {
		return nil, status.Errorf(status.Invalid, "monitor stat: no address")
	}
	out := make([]MonitorStatResult, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() { out[i] = s.monitorStat(ctx, a, categories) })
	}
	wg.Wait()
	errs := make([]error, 0, len(out))
	for _, r := range out {
		if r.Err == nil {
			return out, nil
		}
		errs = append(errs, r.Err)
	}
	return out, fmt.Errorf("monitor stat: every node failed: %w", errors.Join(errs...))
}

func (s *Session) monitorStat(ctx context.Context, addr string, categories uint64) MonitorStatResult {
	res := MonitorStatResult{Address: addr}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// A node the client does not reach (a Proxy client, NAT) is asked
	// through one it does, which relays the request.
	hp, err := s.node.hopTo(ctx, addr)
	if err != nil {
		res.Err = fmt.Errorf("monitor stat of %s: %w", addr, err)
		return res
	}
	h, payload := hp.wrap(s.header(proto.CmdMonitorStat, id.ID{}, 0), proto.MonitorStatRequest{Categories: categories}.Append(nil))
	r, err := hp.c.roundTrip(ctx, h, payload)
	if err != nil {
		res.Err = fmt.Errorf("monitor stat of %s: %w", addr, err)
		return res
	}
	var snap stats.Snapshot
	if err := json.Unmarshal(r.payload, &snap); err != nil {
		res.Err = status.Errorf(status.Protocol, "monitor stat reply from %s: %v", addr, err)
		return res
	}
	res.Raw, res.Stats = r.payload, &snap
	return res
}
