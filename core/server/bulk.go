package server

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// bulkWindow is how many keys of one bulk request run at once: enough to
// keep a backend busy, and a bound on the data a bulk read holds in memory
// beyond its reply (a window of reads, each at most a frame).
const bulkWindow = 64

// bulkMaxError bounds the message of a per-key error in a bulk reply.
const bulkMaxError = 512

// bulkMaxWriteResult is the largest result a WRITE of a bulk can produce:
// a LookupInfo with the longest column, address and path, or an error.
const bulkMaxWriteResult = proto.BulkResultOverhead +
	max(proto.IOAttrSize+proto.MaxColumnLen+proto.CASSize+2+proto.MaxAddressLen+2+proto.MaxPathLen, bulkMaxError)

// handleBulk serves BULK_READ and BULK_WRITE: every key goes through the
// per-key queue and the handler of a single READ or WRITE (a key another
// node owns is forwarded there as that single command), so CAS, TTL and
// upload visibility rules are those of single requests. The keys of one
// request run in windows of bulkWindow; the final reply carries one
// BulkResult per key served, with its own status. Keys whose result would
// not fit in the reply are not served (a read is not even started once the
// reply is full; a write is started only if its largest result still fits)
// and are left out of the reply: the requester sends them again.
func (s *Server) handleBulk(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	keys, err := proto.DecodeBulkRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	if max := s.opts.Limits.MaxBulkKeys; len(keys) > max {
		return nil, status.Errorf(status.TooLarge, "bulk request: %d keys over the node's limit of %d (node.max_bulk_keys)", len(keys), max)
	}
	write := req.Header.Cmd == proto.CmdBulkWrite
	cmd, fn := proto.CmdRead, s.handleRead
	if write {
		cmd, fn = proto.CmdWrite, s.handleWrite
	}
	var room uint64 // reply bytes after the count
	if s.opts.MaxPayload > proto.BulkHeaderSize {
		room = s.opts.MaxPayload - proto.BulkHeaderSize
	}
	type result struct {
		st    status.Code
		parts [][]byte
		size  int
	}
	results := make([]result, len(keys))
	parts := make([][]byte, 1, 1+2*len(keys))
	used, count := uint64(0), uint32(0)
	full := false
	for start := 0; start < len(keys) && !full; {
		n := min(bulkWindow, len(keys)-start)
		if write {
			n = min(n, int((room-used)/bulkMaxWriteResult))
			if n == 0 {
				break
			}
		}
		var wg sync.WaitGroup
		wg.Add(n)
		for i := start; i < start+n; i++ {
			job := func() {
				defer wg.Done()
				ps, err := s.bulkOne(ctx, req, cmd, fn, keys[i])
				r := &results[i]
				if err != nil {
					msg := proto.ErrorPayload(err)
					r.st, r.parts, r.size = status.FromError(err), [][]byte{msg[:min(len(msg), bulkMaxError)]}, min(len(msg), bulkMaxError)
					return
				}
				r.parts = ps
				for _, p := range ps {
					r.size += len(p)
				}
			}
			h := req.Header
			h.ID = keys[i].ID
			// A key another node owns is forwarded outside its queue here,
			// lest two nodes forwarding to each other wait on each other's
			// queue of that key.
			if _, remote := s.route(&h); remote || req.Header.Flags.Has(proto.FlagNoLock) {
				s.workers.run(funcJob(job))
			} else {
				s.keys.run(keys[i].ID, job)
			}
		}
		wg.Wait()
		for i := start; i < start+n; i++ {
			r := &results[i]
			need := uint64(proto.BulkResultOverhead + r.size)
			if used+need > room {
				if count > 0 || write {
					full = true // left out: the requester sends it again
					continue
				}
				// The first result alone is too big for a reply (a read
				// of a value just under a frame): report it, so every
				// reply makes progress; the requester reads it alone.
				msg := []byte("value too large for a bulk reply; read it alone")
				r.st, r.parts, r.size = status.TooLarge, [][]byte{msg}, len(msg)
				need = uint64(proto.BulkResultOverhead + r.size)
			}
			used += need
			count++
			var h [proto.BulkResultOverhead]byte
			binary.LittleEndian.PutUint32(h[0:], uint32(i))
			binary.LittleEndian.PutUint32(h[4:], uint32(r.st))
			binary.LittleEndian.PutUint32(h[8:], uint32(r.size))
			parts = append(parts, h[:])
			parts = append(parts, r.parts...)
		}
		start += n
		if !write && used >= room {
			full = true
		}
	}
	parts[0] = binary.LittleEndian.AppendUint32(nil, count)
	return parts, nil
}

// bulkOne serves one key of a bulk request as the single command cmd: on
// the local backend that owns it, or forwarded to its owner.
func (s *Server) bulkOne(ctx context.Context, req *Request, cmd proto.Cmd, fn Handler, k proto.BulkKey) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.Errorf(status.Canceled, "bulk request ended before key %s", k.ID.Short())
	}
	h := req.Header
	h.Cmd, h.ID = cmd, k.ID
	return s.serveOne(ctx, h, k.Payload, req, fn)
}
