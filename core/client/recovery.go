package client

import (
	"context"
	"encoding/binary"
	"encoding/json"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/status"
)

// Recovery jobs of one node (RECOVERY). Like the backend admin calls,
// these address a node by "host:port" and ignore the session's groups.

// RecoveryOptions describe a recovery run started by an operator.
type RecoveryOptions struct {
	// Group and Backend select the node's backends (0 and -1: all).
	Group   uint32
	Backend int32
	// DryRun reports the plan without moving data.
	DryRun bool
	// Verify (dc) checks the local records against their checksums first
	// and replaces corrupt ones from other groups.
	Verify bool
	// Limits slow this run down beyond the node's own limits.
	Limits recovery.Limits
}

// StartRecovery starts a merge or dc job on each selected backend of the
// node at addr and returns the jobs started.
func (s *Session) StartRecovery(ctx context.Context, addr string, kind recovery.Kind, o RecoveryOptions) ([]recovery.Status, error) {
	req := proto.RecoveryRequest{Action: "start", Kind: string(kind), Group: o.Group, Backend: o.Backend, DryRun: o.DryRun, Verify: o.Verify,
		BytesPerSec: o.Limits.BytesPerSec, ObjectsPerSec: o.Limits.ObjectsPerSec}
	return s.recovery(ctx, addr, &req)
}

// RecoveryStatus lists the recovery jobs of the node at addr, newest first.
func (s *Session) RecoveryStatus(ctx context.Context, addr string) ([]recovery.Status, error) {
	return s.recovery(ctx, addr, &proto.RecoveryRequest{Action: "status", Backend: -1})
}

// ControlRecovery pauses, resumes or stops job jobID of the node at addr
// and returns its status afterwards.
func (s *Session) ControlRecovery(ctx context.Context, addr string, jobID uint64, a recovery.Action) (recovery.Status, error) {
	jobs, err := s.recovery(ctx, addr, &proto.RecoveryRequest{Action: string(a), Job: jobID, Backend: -1})
	if err != nil {
		return recovery.Status{}, err
	}
	if len(jobs) != 1 {
		return recovery.Status{}, status.Errorf(status.Protocol, "recovery %s: %d jobs in the reply, want 1", a, len(jobs))
	}
	return jobs[0], nil
}

func (s *Session) recovery(ctx context.Context, addr string, req *proto.RecoveryRequest) ([]recovery.Status, error) {
	rep, err := s.Recovery(ctx, addr, *req)
	return rep.Jobs, err
}

// Recovery sends any RECOVERY request to the node at addr and returns its
// reply (the other calls of this file are built on it; bindings pass
// requests through).
func (s *Session) Recovery(ctx context.Context, addr string, req proto.RecoveryRequest) (recovery.Reply, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	c, err := s.node.connTo(ctx, addr)
	if err != nil {
		return recovery.Reply{}, err
	}
	r, err := c.roundTrip(ctx, s.header(proto.CmdRecovery, id.ID{}, 0), req.Append(nil))
	if err != nil {
		return recovery.Reply{}, err
	}
	var rep recovery.Reply
	if err := json.Unmarshal(r.payload, &rep); err != nil {
		return recovery.Reply{}, status.Errorf(status.Protocol, "recovery reply from %s: %v", addr, err)
	}
	return rep, nil
}

// ForgetNode tells the node at addr that the node at gone is gone for good
// (the original had no such call; its recovery was run by hand): the
// ranges it held that addr's backends took over are filled from the other
// groups now instead of after the node's leave_after. A node still in
// addr's route table is refused (status.ErrInvalid).
func (s *Session) ForgetNode(ctx context.Context, addr, gone string) error {
	_, err := s.recovery(ctx, addr, &proto.RecoveryRequest{Action: "forget", Address: gone, Backend: -1})
	return err
}

// RangeDigests returns the range hashes (package digest) of buckets
// first..last of backend backendID of the node at addr; ok is false when
// the backend keeps none or has not built them yet.
func (s *Session) RangeDigests(ctx context.Context, addr string, backendID int32, first, last int) (sums []uint64, ok bool, err error) {
	rep, err := s.Recovery(ctx, addr, proto.RecoveryRequest{Action: "digests", Backend: backendID, First: first, Last: last})
	if err != nil {
		return nil, false, err
	}
	d := rep.Digests
	switch {
	case d == nil:
		return nil, false, status.Errorf(status.Protocol, "recovery digests reply without digests")
	case !d.Ready:
		return nil, false, nil
	case d.First != first || len(d.Sums) != 8*(last-first+1):
		return nil, false, status.Errorf(status.Protocol, "recovery digests reply: %d bytes from bucket %d, want %d from %d",
			len(d.Sums), d.First, 8*(last-first+1), first)
	}
	sums = make([]uint64, last-first+1)
	for i := range sums {
		sums[i] = binary.LittleEndian.Uint64(d.Sums[8*i:])
	}
	return sums, true, nil
}
