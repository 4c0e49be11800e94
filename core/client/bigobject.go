package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

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
	// download). WriteFrom ignores it.
	Offset uint64
	// TTL gives the committed object a lifetime (WriteFrom; 0 = none).
	TTL time.Duration
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
func (s *Session) WriteFrom(ctx context.Context, k Key, r io.Reader, size uint64, o StreamOptions) (Result, error) {
	if o.TTL < 0 {
		return Result{}, status.Errorf(status.Invalid, "write: negative ttl %s (0 = no lifetime)", o.TTL)
	}
	buf := make([]byte, min(uint64(o.chunk()), size))
	up := s.Clone()
	var res Result
	for off := uint64(0); ; {
		n := min(uint64(len(buf)), size-off)
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return res, fmt.Errorf("upload: read the input at byte %d of %d: %w", off, size, err)
		}
		wo := WriteOptions{Offset: off}
		switch {
		case off == 0:
			wo.Prepare, wo.TotalSize = true, size
		default:
			wo.Plain = true
		}
		last := off+n == size
		if last {
			wo.Commit, wo.TotalSize, wo.TTL = true, size, o.TTL
			wo.Plain = false
			up.SetTimeout(max(s.timeout, commitTimeout))
		}
		var err error
		res, err = up.WriteWith(ctx, k, buf[:n], wo)
		if err != nil {
			return res, fmt.Errorf("upload: chunk at byte %d of %d: %w", off, size, err)
		}
		// Later chunks go only to the groups that have the upload.
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
		if last {
			return res, nil
		}
	}
}

// ReadTo streams the object under key into w in ranged reads of Chunk
// bytes, from the first group that has it (and only that group after the
// first chunk), starting at Offset. Memory stays at about one chunk. It
// returns the first chunk's entry (Data cleared, Size the bytes written)
// and fails with status.ErrMismatch if the object changes meanwhile.
func (s *Session) ReadTo(ctx context.Context, k Key, w io.Writer, o StreamOptions) (Entry, error) {
	chunk := uint64(o.chunk())
	first, err := s.Read(ctx, k, o.Offset, chunk)
	if err != nil {
		return first, err
	}
	total := first.TotalSize
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
			o.Progress(done, total-o.Offset)
		}
		if pos >= total {
			break
		}
		if len(e.Data) == 0 {
			return first, status.Errorf(status.Protocol, "download: empty reply at byte %d of %d", pos, total)
		}
		if e, err = pin.Read(ctx, k, pos, chunk); err != nil {
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
