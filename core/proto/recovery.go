package proto

import (
	"encoding/json"

	"github.com/elliptics/elliptics/core/status"
)

// RecoveryRequest is the payload of RECOVERY, in JSON: recovery is an
// operator's command whose options grow, and its replies are read by
// people and scripts, so a self-describing form costs nothing that
// matters. Unknown fields are ignored.
type RecoveryRequest struct {
	// Action is start, status, pause, resume, stop, forget or digests.
	Action string `json:"action"`
	// Kind (start) is merge or dc.
	Kind string `json:"kind,omitempty"`
	// Group (start) limits the job to the node's backends of this group (0:
	// every group); Backend to one backend (-1: every backend).
	Group   uint32 `json:"group,omitempty"`
	Backend int32  `json:"backend"`
	// DryRun (start) reports the plan without moving data.
	DryRun bool `json:"dry_run,omitempty"`
	// Verify (start, dc) checks the data of the local records against
	// their checksums first, replacing corrupt ones from other groups.
	Verify bool `json:"verify,omitempty"`
	// BytesPerSec and ObjectsPerSec (start) limit the job on top of the
	// node's limits (0: only the node's).
	BytesPerSec   int64 `json:"bytes_per_sec,omitempty"`
	ObjectsPerSec int64 `json:"objects_per_sec,omitempty"`
	// Job (pause, resume, stop) is the job's id.
	Job uint64 `json:"job,omitempty"`
	// Address (forget) is a node gone for good, whose ranges the nodes
	// that took them over fill from the other groups now.
	Address string `json:"address,omitempty"`
	// First and Last (digests) are the buckets (package digest) whose
	// range hashes Backend reports.
	First int `json:"first,omitempty"`
	Last  int `json:"last,omitempty"`
}

// MaxDigestBuckets bounds the buckets of one digests request (all of them:
// 512 KiB of sums).
const MaxDigestBuckets = 1 << 16

// Append encodes the request.
func (r *RecoveryRequest) Append(b []byte) []byte {
	out, _ := json.Marshal(r) // plain fields: cannot fail
	return append(b, out...)
}

// DecodeRecoveryRequest parses and checks a RECOVERY payload.
func DecodeRecoveryRequest(b []byte) (RecoveryRequest, error) {
	r := RecoveryRequest{Backend: -1}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, status.Errorf(status.Protocol, "recovery request: %v", err)
	}
	switch r.Action {
	case "start":
		if r.Kind != "merge" && r.Kind != "dc" {
			return r, status.Errorf(status.Invalid, "recovery request: kind %q: want merge or dc", r.Kind)
		}
	case "status":
	case "forget":
		if r.Address == "" {
			return r, status.Errorf(status.Invalid, "recovery request: forget needs the address of the node gone")
		}
	case "digests":
		if r.Backend < 0 || r.First < 0 || r.Last < r.First || r.Last >= MaxDigestBuckets {
			return r, status.Errorf(status.Invalid, "recovery request: digests of backend %d buckets %d..%d: want one backend and 0 <= first <= last < %d",
				r.Backend, r.First, r.Last, MaxDigestBuckets)
		}
	case "pause", "resume", "stop":
		if r.Job == 0 {
			return r, status.Errorf(status.Invalid, "recovery request: %s needs a job id", r.Action)
		}
	default:
		return r, status.Errorf(status.Invalid, "recovery request: action %q: want start, status, pause, resume, stop, forget or digests", r.Action)
	}
	if r.BytesPerSec < 0 || r.ObjectsPerSec < 0 {
		return r, status.Errorf(status.Invalid, "recovery request: negative rate")
	}
	return r, nil
}
