package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

// Coverage: for each local backend, the ranges it is known to hold the
// data of ("verified"), kept in RecoveryOptions.Dir. The ranges a backend
// owns but has not verified were gained: a neighbour died, stopped or was
// cut off, or left while this node was down. Gains that last
// RecoveryOptions.LeaveAfter (or at once, after 'elliptics node remove')
// are filled from the other groups with a dc job on just those ranges,
// then verified. A neighbour that comes back before then takes its ranges
// back, the gain disappears and nothing is filled: the merge moves the
// writes it missed back to it.
//
// Kept on disk rather than derived from the departures a node saw, so a
// node that was down when a neighbour left still fills what it gained.

// DefaultLeaveAfter is the default of RecoveryOptions.LeaveAfter.
const DefaultLeaveAfter = 10 * time.Minute

type coverage struct {
	// empty: the backend started empty (a new node, a wiped disk) and has
	// not been filled yet.
	empty    bool
	verified []recovery.IDRange
	since    time.Time // when the current gain appeared (zero: none)
	fillJob  uint64    // the dc filling fillRanges
	fill     []recovery.IDRange
	// retryAt delays the next fill after a failed one, by backoff.
	retryAt time.Time
	backoff time.Duration
	// synced is when the last anti-entropy pass over every owned range
	// started (or the coverage was loaded).
	synced time.Time
	// scrubbed is when the last pass that verified checksums started
	// (or the coverage was loaded).
	scrubbed time.Time
}

func (s *Server) coverageFile(backendID int32) string {
	if s.opts.Recovery.Dir == "" {
		return ""
	}
	return filepath.Join(s.opts.Recovery.Dir, fmt.Sprintf("verified-%d.json", backendID))
}

// coverageOf returns the coverage of b, loading it on first use. A backend
// that started empty has verified nothing, whatever a file says; one
// without a file but with data (kept by an older version) counts as
// having verified what it owns.
func (s *Server) coverageOf(b *Backend, owned []recovery.IDRange, emptyAtStart bool) *coverage {
	if cv := s.rec.cover[b.ID]; cv != nil {
		return cv
	}
	cv := &coverage{empty: emptyAtStart, synced: time.Now(), scrubbed: time.Now()}
	s.rec.cover[b.ID] = cv
	if emptyAtStart {
		return cv
	}
	if f := s.coverageFile(b.ID); f != "" {
		data, err := os.ReadFile(f)
		if err == nil {
			if err := json.Unmarshal(data, &cv.verified); err == nil {
				cv.verified = recovery.Normalize(cv.verified)
				return cv
			}
			s.log.Warn("recovery: unreadable coverage file; assuming the backend holds what it owns", zap.String("file", f), zap.Error(err))
		} else if !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("recovery: cannot read coverage file", zap.String("file", f), zap.Error(err))
		}
	}
	cv.verified = owned
	return cv
}

func (s *Server) saveCoverage(id int32, cv *coverage) {
	f := s.coverageFile(id)
	if f == "" {
		return
	}
	data, err := json.Marshal(cv.verified)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(f), 0o755)
	}
	if err == nil {
		tmp := f + ".tmp"
		if err = os.WriteFile(tmp, data, 0o644); err == nil {
			err = os.Rename(tmp, f)
		}
	}
	if err != nil {
		s.log.Warn("recovery: cannot save coverage", zap.String("file", f), zap.Error(err))
	}
}

// fillGains starts the dc of the ranges b gained and marks filled ranges
// verified. A backend that started empty is filled at once, but only with
// what was written before the node started (later writes reach it
// directly). It reports whether it must look again later.
// It runs with s.rec.coverMu held.
func (s *Server) fillGainsLocked(t *route.Table, b *Backend, owned []recovery.IDRange, emptyAtStart, now bool) (pending bool) {
	cv := s.coverageOf(b, owned, emptyAtStart)
	empty := cv.empty
	old := cv.verified
	if cv.fillJob != 0 {
		st, ok := s.jobStatus(cv.fillJob)
		switch {
		case ok && !st.State.Finished():
			return true
		case ok && st.State == recovery.Done:
			cv.verified = recovery.Union(cv.verified, cv.fill)
			cv.backoff = 0
		default:
			cv.backoff = min(max(2*cv.backoff, 5*time.Second), 5*time.Minute)
			cv.retryAt = time.Now().Add(cv.backoff)
		}
		cv.fillJob, cv.fill = 0, nil
	}
	cv.verified = recovery.Intersect(cv.verified, owned)
	gained := recovery.Subtract(owned, cv.verified)
	if !hasOtherGroups(t, b.Group) {
		if empty && time.Since(s.rec.started) < emptyWait {
			return true // the other groups may not be known yet
		}
		// Nothing to fill from: what it owns is all there is.
		cv.verified, gained, cv.empty = owned, nil, false
	}
	if !slices.Equal(old, cv.verified) {
		s.saveCoverage(b.ID, cv)
	}
	if len(gained) == 0 {
		cv.since = time.Time{}
		return s.antiEntropyLocked(b, cv, owned)
	}
	if cv.since.IsZero() {
		cv.since = time.Now()
	}
	if !empty && !now && time.Since(cv.since) < s.opts.Recovery.LeaveAfter {
		return true // a neighbour may come back
	}
	if time.Now().Before(cv.retryAt) {
		return true
	}
	spec := recovery.Spec{Kind: recovery.DC, Backend: b.ID, Ranges: gained, Auto: true}
	if empty {
		spec.Before = s.rec.started
	}
	st, err := s.rec.mgr.Start(spec)
	if err != nil {
		if !errors.Is(err, status.ErrAlready) {
			s.log.Warn("recovery: cannot start the fill of gained ranges", zap.Int32("backend", b.ID), zap.Error(err))
		}
		return true
	}
	s.log.Info("filling gained ranges from the other groups", zap.Int32("backend", b.ID), zap.Int("ranges", len(gained)),
		zap.Duration("gained_for", time.Since(cv.since)), zap.Bool("empty_at_start", empty), zap.Uint64("job", st.ID))
	cv.fillJob, cv.fill, cv.empty = st.ID, gained, false
	return true
}

// antiEntropyLocked starts, every RecoveryOptions.AntiEntropy, a dc of
// every range the backend owns: it compares them with the other groups
// (metadata only) and copies only what is missing or older here, and
// applies newer removes (tombstones). It catches what no gain shows: a
// neighbour that joined and left before this node saw it, a write that
// reached some groups only. It reports whether the loop must look again.
func (s *Server) antiEntropyLocked(b *Backend, cv *coverage, owned []recovery.IDRange) bool {
	every := s.opts.Recovery.AntiEntropy
	if every <= 0 || cv.fillJob != 0 || !hasOtherGroups(s.Table(), b.Group) {
		return false
	}
	if time.Since(cv.synced) < every {
		return false
	}
	scrub := s.opts.Recovery.Scrub > 0 && time.Since(cv.scrubbed) >= s.opts.Recovery.Scrub
	st, err := s.rec.mgr.Start(recovery.Spec{Kind: recovery.DC, Backend: b.ID, Ranges: owned, Auto: true, Verify: scrub})
	if err != nil {
		if !errors.Is(err, status.ErrAlready) {
			s.log.Warn("recovery: cannot start anti-entropy", zap.Int32("backend", b.ID), zap.Error(err))
		}
		return true
	}
	s.log.Info("anti-entropy: comparing the backend's ranges with the other groups", zap.Int32("backend", b.ID),
		zap.Uint64("job", st.ID))
	cv.synced, cv.fillJob, cv.fill = time.Now(), st.ID, owned
	if scrub {
		cv.scrubbed = cv.synced
	}
	return true
}

// emptyWait is how long a backend that started empty waits to learn other
// groups to fill from before it concludes there are none.
const emptyWait = time.Minute

// noteOwnership drops from each backend's verified ranges those it no
// longer owns, at every route change: a neighbour that joins and leaves
// again between two runs of the recovery loop must still leave a gain
// behind, since writes may have gone to it meanwhile.
func (s *Server) noteOwnership() {
	s.rec.coverMu.Lock()
	defer s.rec.coverMu.Unlock()
	if len(s.rec.cover) == 0 {
		// Nothing loaded yet (the first settle has not come): skip the
		// walk of the table, which a forming cluster of a thousand nodes
		// would pay thousands of times on every node.
		return
	}
	owned := map[int32][]recovery.IDRange{}
	for _, r := range s.Table().Ranges(s.cluster.peers.Self()) {
		owned[r.Backend] = append(owned[r.Backend], recovery.IDRange{Start: r.Start, End: r.End})
	}
	for id, cv := range s.rec.cover {
		rs, ok := owned[id]
		if !ok {
			continue // not in the table (disabled, not announced yet)
		}
		rs = recovery.Normalize(rs)
		// A fill running now verifies only what stays owned throughout.
		cv.fill = recovery.Intersect(cv.fill, rs)
		if v := recovery.Intersect(cv.verified, rs); !slices.Equal(v, cv.verified) {
			cv.verified = v
			s.saveCoverage(id, cv)
		}
	}
}

func (s *Server) jobStatus(id uint64) (recovery.Status, bool) {
	for _, st := range s.rec.mgr.Jobs() {
		if st.ID == id {
			return st, true
		}
	}
	return recovery.Status{}, false
}

// forgetNode declares the node at addr gone for good: the ranges it held
// are filled now instead of after LeaveAfter. A node still in the table
// is refused.
func (s *Server) forgetNode(addr string) error {
	for _, b := range s.Table().Backends() {
		if b.Addr == addr {
			return status.Errorf(status.Invalid, "%s is in the route table (alive): stop it before removing it", addr)
		}
	}
	s.rec.mu.Lock()
	s.rec.fillNow = true
	s.rec.mu.Unlock()
	s.log.Info("node declared gone: filling gained ranges from other groups", zap.String("node", addr))
	s.kickRecovery()
	return nil
}
