package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// ExecOptions modify an exec.
type ExecOptions struct {
	// Limits lower the node's script limits for this call (zero fields
	// keep the node's; a node never raises its limits for a caller).
	Limits proto.ExecLimits
}

// ExecResult is one run of a script (the original's ExecResultEntry): the
// node and group that ran it and what the function returned, or Err.
type ExecResult struct {
	Event    string // "script@function"
	Key      string // the key the script ran on; "" for a fan-out run
	ID       id.ID  // the key's ID (zero for a fan-out run)
	Address  string // the node that ran it (or was asked, when Err is set)
	Group    uint32
	Data     []byte // the function's result
	Duration time.Duration
	Err      error
	Status   status.Code
}

// Exec runs event ("script@function", a script stored with PutScript) on
// the node that owns k, next to its data, with data as the function's
// input, and returns what it returned. The session's groups are tried in
// read order; the next group is tried only when the node could not be
// reached or is going away (no route, connection lost, shutting down,
// overloaded), never after the script ran and failed, so a script runs at
// most once unless its node died under it. The script's own reads try the
// session's groups in that order and its writes go to all of them. The
// session's timeout bounds each try.
func (s *Session) Exec(ctx context.Context, k Key, event string, data []byte, o ExecOptions) (ExecResult, error) {
	res := ExecResult{Event: event, Key: k.String()}
	script, fn, err := proto.ParseEvent(event)
	if err != nil {
		return res, err
	}
	oid, err := s.resolve(k)
	if err != nil {
		return res, err
	}
	res.ID = oid
	key := k.Name
	if k.Raw {
		key = oid.String()
	}
	head := s.execRequest(script, fn, key, o, 0)
	groups := s.readGroups(oid)
	if len(groups) == 0 {
		return res, status.Errorf(status.NoRoute, "exec %s: session has no groups", event)
	}
	var errs []error
	for _, g := range groups {
		r := res
		r.Group = g
		deadline := time.Now().Add(s.timeout)
		c, err := s.node.connForKey(ctx, deadline, oid, g)
		if err == nil {
			r.Address = c.addr
			var rep reply
			rep, err = c.do(ctx, deadline, s.header(proto.CmdExec, oid, g), head, data)
			if err == nil {
				err = r.fill(rep.payload)
			}
		}
		if err == nil {
			return r, nil
		}
		r.Err, r.Status = err, status.FromError(err)
		errs = append(errs, fmt.Errorf("group %d: %w", g, err))
		if !nodeTrouble(r.Status) || ctx.Err() != nil {
			return r, err
		}
	}
	return res, fmt.Errorf("exec %s on %s: every group failed: %w", event, k, errors.Join(errs...))
}

// nodeTrouble says whether an exec failed because of its node rather than
// its script: only then is another group's replica tried.
func nodeTrouble(c status.Code) bool {
	switch c {
	case status.NoRoute, status.ConnectionLost, status.ShuttingDown, status.Overloaded:
		return true
	}
	return false
}

// ExecEach runs event once on every node of the route table (a fan-out:
// the script's key is None), each with data as input, and calls fn with
// each node's result as it arrives, from one goroutine at a time. A node
// that fails has its result's Err set; ExecEach fails only when no node
// could run it. Nodes the client does not reach are asked through one it
// does (relayed).
func (s *Session) ExecEach(ctx context.Context, event string, data []byte, o ExecOptions, fn func(ExecResult)) error {
	script, name, err := proto.ParseEvent(event)
	if err != nil {
		return err
	}
	addrs := slices.Clone(s.node.Table().Addresses())
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	if len(addrs) == 0 {
		return status.Errorf(status.NoRoute, "exec %s: the route table lists no node", event)
	}
	head := s.execRequest(script, name, "", o, proto.ExecNoKey)
	var (
		mu   sync.Mutex
		ok   bool
		errs []error
		wg   sync.WaitGroup
	)
	for _, a := range addrs {
		wg.Go(func() {
			r := s.execOn(ctx, a, event, head, data)
			mu.Lock()
			defer mu.Unlock()
			if r.Err == nil {
				ok = true
			} else {
				errs = append(errs, r.Err)
			}
			fn(r)
		})
	}
	wg.Wait()
	if !ok {
		return fmt.Errorf("exec %s: every node failed: %w", event, errors.Join(errs...))
	}
	return nil
}

// ExecAll is ExecEach gathering the results, in address order.
func (s *Session) ExecAll(ctx context.Context, event string, data []byte, o ExecOptions) ([]ExecResult, error) {
	var out []ExecResult
	err := s.ExecEach(ctx, event, data, o, func(r ExecResult) { out = append(out, r) })
	slices.SortFunc(out, func(a, b ExecResult) int { return strings.Compare(a.Address, b.Address) })
	return out, err
}

// execOn runs a fan-out exec on the node at addr.
func (s *Session) execOn(ctx context.Context, addr, event string, head, data []byte) ExecResult {
	r := ExecResult{Event: event, Address: addr}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := func() error {
		hp, err := s.node.hopTo(ctx, addr)
		if err != nil {
			return err
		}
		h, payload := hp.wrap(s.header(proto.CmdExec, id.ID{}, 0), head)
		// The data follows the (possibly relay-wrapped) head as its own
		// part: a payload is its parts laid end to end.
		rep, err := hp.c.roundTrip(ctx, h, payload, data)
		if err != nil {
			return err
		}
		return r.fill(rep.payload)
	}()
	if err != nil {
		r.Err, r.Status = fmt.Errorf("exec %s on %s: %w", event, addr, err), status.FromError(err)
	}
	return r
}

// fill sets r from an EXEC reply.
func (r *ExecResult) fill(payload []byte) error {
	rep, err := proto.DecodeExecReply(payload)
	if err != nil {
		return err
	}
	if rep.Address != "" {
		r.Address = rep.Address
	}
	r.Group, r.Duration, r.Data = rep.Group, rep.Duration, rep.Result
	return nil
}

// execRequest encodes an EXEC request without its data, which travels as
// the frame's next part.
func (s *Session) execRequest(script, fn, key string, o ExecOptions, flags proto.ExecFlags) []byte {
	r := proto.ExecRequest{Flags: flags, Limits: o.Limits, Groups: s.groups, Script: script, Function: fn,
		Namespace: s.namespace, Key: key}
	return r.Append(nil)
}
