package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// DefaultChunk is the request size of WriteFrom and ReadTo.
const DefaultChunk = 4 << 20

// commitTimeout is the least a commit of a streamed upload is waited for:
// the node may read back blocks it did not see whole to checksum them.
const commitTimeout = 2 * time.Minute

// StreamOptions tune WriteFrom and ReadTo.
type StreamOptions struct {
	// Chunk is the bytes per request (default DefaultChunk). Memory use is
	// about one chunk, whatever the object's size.
	Chunk int
	// Offset: ReadTo starts reading at this byte of the object (to resume a
	// download). WriteFrom writes at this byte of the object when it is not
	// 0: see WriteFrom.
	Offset uint64
	// Size: ReadTo reads at most this many bytes (0: to the end of the
	// object). WriteFrom takes its size as an argument and ignores it.
	Size uint64
	// TTL gives the committed object a lifetime (WriteFrom; 0 = none).
	TTL time.Duration
	// CASTimestamp (WriteFrom) refuses the upload where the stored object
	// is newer than the session's timestamp: the prepare and the commit
	// fail with status.ErrMismatch there (recovery copies never replace
	// newer data).
	CASTimestamp bool
	// CAS (WriteFrom from offset 0) makes the upload conditional as
	// WriteOptions.CAS does: the prepare, sent while the old value is still
	// the visible one, checks it, so a refused upload changes nothing
	// (status.ErrMismatch). Not allowed with a non-zero Offset.
	CAS *id.ID
	// Progress, when set, is called after every chunk with the bytes done
	// so far (counting from Offset for ReadTo) and the total.
	Progress func(done, total uint64)
}

func (o *StreamOptions) chunk() int {
	if o.Chunk <= 0 {
		return DefaultChunk
	}
	return o.Chunk
}

// WriteFrom streams size bytes from r into key as a chunked upload: a
// prepare of size bytes with the first chunk, plain writes, and a commit
// with the last one, each one request of at most Chunk bytes to every
// group of the session, so memory stays at one chunk for objects of any
// size. The object is invisible until the commit; an upload cut short
// (error, crash) stays invisible and is reclaimed after the node's
// upload_timeout. Groups that fail a chunk are dropped for the rest of the
// upload; the session's checker judges each step. The result is the
// commit's.
//
// With a non-zero Offset it cannot be an upload (an upload replaces the
// whole object, and the bytes before Offset would be lost): the chunks are
// then plain writes at Offset, Offset+Chunk, ..., each as Write at that
// offset, into the object as it is. Each chunk is visible once written, so
// a reader may see the range partly rewritten, and a failure leaves the
// chunks before it in place. The result is the last chunk's.
func (s *Session) WriteFrom(ctx context.Context, k Key, r io.Reader, size uint64, o StreamOptions) (Result, error) {
	if o.TTL < 0 {
		return Result{}, status.Errorf(status.Invalid, "write: negative ttl %s (0 = no lifetime)", o.TTL)
	}
	if o.Offset > 0 {
		if o.CAS != nil {
			return Result{}, status.Errorf(status.Invalid, "write: compare-and-swap needs a whole upload (offset 0), not a write at %d", o.Offset)
		}
		return s.writeAtFrom(ctx, k, r, size, o)
	}
	return s.writeChunks(ctx, k, r, size, o, "upload", func(off, n uint64) WriteOptions {
		wo := WriteOptions{Offset: off, CASTimestamp: o.CASTimestamp}
		switch {
		case off+n == size:
			wo.Commit, wo.TotalSize, wo.TTL = true, size, o.TTL
			wo.Prepare = off == 0
		case off == 0:
			wo.Prepare, wo.TotalSize = true, size
		default:
			wo.Plain = true
		}
		if off == 0 {
			wo.CAS = o.CAS
		}
		return wo
	})
}

// writeAtFrom is WriteFrom at a non-zero offset: plain offset writes of a
// chunk each.
func (s *Session) writeAtFrom(ctx context.Context, k Key, r io.Reader, size uint64, o StreamOptions) (Result, error) {
	if o.Offset > math.MaxUint64-size {
		return Result{}, status.Errorf(status.Invalid, "write: offset %d + size %d overflows", o.Offset, size)
	}
	return s.writeChunks(ctx, k, r, size, o, fmt.Sprintf("write at %d", o.Offset), func(off, n uint64) WriteOptions {
		wo := WriteOptions{Offset: o.Offset + off}
		if off+n == size {
			wo.TTL = o.TTL
		}
		return wo
	})
}

// writeChunks reads size bytes of r a chunk at a time and writes each with
// the options opts gives it (by its offset in the input and length), the
// later chunks only to the groups that took the earlier ones. The result
// is the last chunk's.
func (s *Session) writeChunks(ctx context.Context, k Key, r io.Reader, size uint64, o StreamOptions, what string,
	opts func(off, n uint64) WriteOptions) (Result, error) {
	buf := make([]byte, min(uint64(o.chunk()), size))
	up := s.Clone()
	var res Result
	for off := uint64(0); ; {
		n := min(uint64(len(buf)), size-off)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return res, fmt.Errorf("%s: read the input at byte %d of %d: %w", what, off, size, err)
		}
		wo := opts(off, n)
		if wo.Commit {
			// The node may read back blocks it did not see whole to
			// checksum them.
			up.SetTimeout(max(s.timeout, commitTimeout))
		}
		var err error
		res, err = up.WriteWith(ctx, k, buf[:n], wo)
		if err != nil {
			return res, fmt.Errorf("%s: chunk at byte %d of %d: %w", what, off, size, err)
		}
		var ok []uint32
		for _, e := range res.Entries {
			if e.OK() {
				ok = append(ok, e.Group)
			}
		}
		if len(ok) > 0 && len(ok) < len(up.groups) {
			up.SetGroups(ok...)
		}
		off += n
		if o.Progress != nil {
			o.Progress(off, size)
		}
		if off == size {
			return res, nil
		}
	}
}

// ReadTo streams the object under key into w in ranged reads of Chunk
// bytes, from the first group that has it (and only that group after the
// first chunk), starting at Offset, up to Size bytes (0: to the end).
// Memory stays at about one chunk. It returns the first chunk's entry
// (Data cleared, Offset the first byte read, Size the bytes written) and
// fails with status.ErrMismatch if the object changes meanwhile.
func (s *Session) ReadTo(ctx context.Context, k Key, w io.Writer, o StreamOptions) (Entry, error) {
	chunk := uint64(o.chunk())
	if o.Size > 0 && o.Offset > math.MaxUint64-o.Size {
		return Entry{}, status.Errorf(status.Invalid, "read: offset %d + size %d overflows", o.Offset, o.Size)
	}
	want := chunk
	if o.Size > 0 {
		want = min(chunk, o.Size)
	}
	first, err := s.Read(ctx, k, o.Offset, want)
	if err != nil {
		return first, err
	}
	total := first.TotalSize
	if o.Offset > total {
		return first, status.Errorf(status.Invalid, "download: offset %d is past the end of the object (%d bytes)", o.Offset, total)
	}
	// end is where reading stops: the object's end, or Offset+Size before it.
	end := total
	if o.Size > 0 && o.Offset+o.Size < total {
		end = o.Offset + o.Size
	}
	pin := s.Clone()
	pin.SetGroups(first.Group)
	e := first
	var done uint64
	for pos := o.Offset; ; {
		if len(e.Data) > 0 {
			if _, err := w.Write(e.Data); err != nil {
				return first, fmt.Errorf("download: write at byte %d: %w", pos, err)
			}
		}
		pos += uint64(len(e.Data))
		done += uint64(len(e.Data))
		if o.Progress != nil {
			o.Progress(done, end-o.Offset)
		}
		if pos >= end {
			break
		}
		if len(e.Data) == 0 {
			return first, status.Errorf(status.Protocol, "download: empty reply at byte %d of %d", pos, total)
		}
		if e, err = pin.Read(ctx, k, pos, min(chunk, end-pos)); err != nil {
			return first, fmt.Errorf("download: chunk at byte %d of %d: %w", pos, total, err)
		}
		if e.TotalSize != total || !e.Timestamp.Equal(first.Timestamp) {
			return first, status.Errorf(status.Mismatch, "download: the object changed while read (size %d, now %d; timestamp %s, now %s)",
				total, e.TotalSize, first.Timestamp.Format(time.RFC3339Nano), e.Timestamp.Format(time.RFC3339Nano))
		}
	}
	first.Data, first.Size = nil, done
	return first, nil
}
