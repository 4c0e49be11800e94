package server

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

// Leaving: a backend that drops out of the route table (its node died,
// stopped or was cut off) hands its arcs to its ring neighbours at once —
// writes go there from then on — but its data is still on its disk and
// comes back with it. Once it has been gone for RecoveryOptions.LeaveAfter,
// or an operator declares its node gone for good ('elliptics node remove
// ADDR'), the neighbours that took over its arcs fill them from the other
// groups (a dc job limited to those ranges). A backend that comes back
// before then is forgotten as departed; the merge moves the writes it
// missed back to it.

// departure is a backend that left the table.
type departure struct {
	b     route.Backend // as the last table that had it described it
	since time.Time
	gone  bool // declared gone for good by an operator
}

// DefaultLeaveAfter is the default of RecoveryOptions.LeaveAfter.
const DefaultLeaveAfter = 10 * time.Minute

// noteDepartures records the backends that left the table since the last
// call and forgets those that came back.
func (s *Server) noteDepartures(t *route.Table) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	now := time.Now()
	if prev := s.rec.prevTable; prev != nil {
		for _, b := range prev.Backends() {
			if _, ok := t.Backend(b.Addr, b.ID); !ok {
				if _, known := s.rec.departed[b.Name()]; !known {
					s.rec.departed[b.Name()] = &departure{b: b, since: now}
				}
			}
		}
	}
	for name, d := range s.rec.departed {
		if _, back := t.Backend(d.b.Addr, d.b.ID); back {
			delete(s.rec.departed, name)
		}
	}
	s.rec.prevTable = t
}

// forgetNode declares the node at addr gone for good: its departed
// backends are filled from other groups now. A node still in the table is
// refused.
func (s *Server) forgetNode(addr string) (int, error) {
	t := s.Table()
	for _, b := range t.Backends() {
		if b.Addr == addr {
			return 0, status.Errorf(status.Invalid, "%s is in the route table (alive): stop it before removing it", addr)
		}
	}
	s.rec.mu.Lock()
	n := 0
	for _, d := range s.rec.departed {
		if d.b.Addr == addr {
			d.gone = true
			n++
		}
	}
	s.rec.mu.Unlock()
	if n > 0 {
		s.log.Info("node declared gone: filling its ranges from other groups", zap.String("node", addr), zap.Int("backends", n))
		s.kickRecovery()
	}
	return n, nil
}

// fillDeparted starts a dc job on each local backend for the arcs it took
// over from backends gone longer than LeaveAfter (or declared gone). It
// reports whether some must be tried again (a job still running) or are
// not due yet.
func (s *Server) fillDeparted() (pending bool) {
	t := s.Table()
	self := s.cluster.peers.Self()
	s.rec.mu.Lock()
	var due []*departure
	for _, d := range s.rec.departed {
		if d.gone || time.Since(d.since) >= s.opts.Recovery.LeaveAfter {
			due = append(due, d)
		} else {
			pending = true
		}
	}
	s.rec.mu.Unlock()
	for _, d := range due {
		ranges, err := takenOver(t, d.b, self)
		if err != nil {
			s.log.Warn("recovery: cannot compute the ranges of a departed backend", zap.String("backend", d.b.Name()), zap.Error(err))
			s.dropDeparture(d)
			continue
		}
		started := true
		for id, rs := range ranges {
			_, err := s.rec.mgr.Start(recovery.Spec{Kind: recovery.DC, Backend: id, Ranges: rs, Auto: true})
			if err != nil {
				started = false
				if !errors.Is(err, status.ErrAlready) {
					s.log.Warn("recovery: cannot start the fill of a departed backend's ranges", zap.String("departed", d.b.Name()),
						zap.Int32("backend", id), zap.Error(err))
				}
			}
		}
		if started {
			s.log.Info("filling the ranges of a departed backend from other groups", zap.String("departed", d.b.Name()),
				zap.Duration("gone_for", time.Since(d.since)), zap.Int("local_backends", len(ranges)))
			s.dropDeparture(d)
		} else {
			pending = true
		}
	}
	return pending
}

func (s *Server) dropDeparture(d *departure) {
	s.rec.mu.Lock()
	delete(s.rec.departed, d.b.Name())
	s.rec.mu.Unlock()
}

// takenOver returns, per local backend, the parts of the departed
// backend's arcs (as they were with it in the table) that the local
// backends own now.
func takenOver(t *route.Table, gone route.Backend, self string) (map[int32][]recovery.IDRange, error) {
	with, err := route.New(append(t.Backends(), gone))
	if err != nil {
		return nil, fmt.Errorf("table with %s: %w", gone.Name(), err)
	}
	out := map[int32][]recovery.IDRange{}
	for _, r := range with.Ranges(gone.Addr) {
		if r.Backend != gone.ID || r.Group != gone.Group {
			continue
		}
		for _, p := range t.Split(r.Start, r.End, gone.Group) {
			if p.Owner.Addr == self {
				out[p.Owner.ID] = append(out[p.Owner.ID], recovery.IDRange{Start: p.Start, End: p.End})
			}
		}
	}
	return out, nil
}
