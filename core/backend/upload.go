package backend

import (
	"time"

	"github.com/elliptics/elliptics/core/status"
)

// Upload is one step of a chunked upload as PlanUpload checks it: what a
// backend must do, without building the value. Backends write the chunk in
// place (at Offset of the reservation) instead of rewriting the column, so
// an upload of n bytes costs O(n) whatever the number of chunks.
type Upload struct {
	// Reserve is the size to reserve (a Prepare); 0 with Prepare false.
	Reserve uint64
	// Reserved is the reservation the chunk is checked against: Reserve
	// for a Prepare, the upload's own for Plain and Commit.
	Reserved uint64
	// End is Offset + len(Data): the chunk is [req.Offset, End).
	End uint64
	// Commit: after the chunk, cut the value to Size and make it visible.
	Commit bool
	Size   uint64
	// Expire is the column's expiry after the step: the upload's deadline
	// while pending, the object's lifetime once committed.
	Expire time.Time
	// ExpireChanged says a Plain chunk carries a new deadline (a TTL).
	ExpireChanged bool
}

// PlanUpload checks a phased write (req.Phased) against the column's
// current state, with the same rules and errors Compose gives: reserved
// is the reservation of the upload in progress (prev.Pending), limit the
// largest value the backend stores.
func PlanUpload(prev Previous, reserved uint64, req *WriteRequest, limit uint64) (Upload, error) {
	var u Upload
	if req.Append {
		return u, status.Errorf(status.Invalid, "append cannot be part of a chunked upload (prepare/plain/commit)")
	}
	if req.Prepare {
		if req.TotalSize > limit {
			return u, status.Errorf(status.TooLarge, "prepare of %d bytes over the backend limit of %d", req.TotalSize, limit)
		}
		u.Reserve, u.Reserved, u.Expire = req.TotalSize, req.TotalSize, req.Expire
	} else {
		if !prev.Exists || !prev.Pending {
			return u, status.Errorf(status.NotFound, "no upload in progress (prepare first)")
		}
		u.Reserved, u.Expire = reserved, req.Expire
		if u.Expire.IsZero() && !req.Commit {
			u.Expire = prev.Expire
		} else if !req.Commit {
			u.ExpireChanged = true
		}
	}
	end, err := chunkEnd(req.Offset, req.Data, limit)
	if err != nil {
		return u, err
	}
	if end > u.Reserved {
		return u, status.Errorf(status.Invalid, "chunk [%d, %d) ends past the %d bytes prepared", req.Offset, end, u.Reserved)
	}
	u.End = end
	if req.Commit {
		if req.TotalSize > u.Reserved {
			return u, status.Errorf(status.Invalid, "commit of %d bytes, larger than the %d bytes prepared", req.TotalSize, u.Reserved)
		}
		u.Commit, u.Size = true, req.TotalSize
	}
	return u, nil
}
