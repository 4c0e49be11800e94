package file

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/vfs"
)

// DefaultRewriteThreshold is the default of Options.RewriteThreshold.
const DefaultRewriteThreshold = 1 << 20

// rewrite writes an offset write or append whose new value holds at least
// rewriteAt bytes not in the request (the old value's, or zeros of a gap)
// without holding the value in memory: the old file is streamed (and
// verified) piece by piece into the temporary file, the request's bytes put
// over the pieces, the data checksum computed on the way, and the header
// (which carries that checksum) written last at offset 0. The temporary
// file is then synced and renamed over the column as every write is, so a
// crash or failure at any point leaves the old file, and Open removes the
// temporary one. ok false leaves the write to the in-memory path: a small
// result, and any state that path reports or handles (a damaged or
// uncommitted column, a limit exceeded). The caller holds the object lock.
func (b *Backend) rewrite(req *backend.WriteRequest, ts time.Time, dir, path string) (backend.Meta, bool, error) {
	h, column, _, err := b.readHeader(path)
	existed := err == nil
	if (err != nil && !errors.Is(err, fs.ErrNotExist)) || (existed && column != req.Column) {
		return backend.Meta{}, false, nil
	}
	if existed && h.Flags&flagUncommitted != 0 {
		return backend.Meta{}, false, nil
	}
	// The base Compose takes: a visible value, which also lends its expiry.
	var base, oldSize uint64
	var expire time.Time
	if existed {
		oldSize = h.Size
		if h.visible(time.Now()) {
			base, expire = h.Size, h.ExpireTime()
		}
	}
	if !req.Expire.IsZero() {
		expire = req.Expire
	}
	off := req.Offset
	if req.Append {
		off = base
	}
	end := off + uint64(len(req.Data))
	if end < off || end > MaxValueSize {
		return backend.Meta{}, false, nil
	}
	size := max(end, base)
	if size-uint64(len(req.Data)) < b.rewriteAt {
		return backend.Meta{}, false, nil
	}

	var nh header
	nh.setTimestamp(ts)
	nh.UserFlags = req.UserFlags
	nh.Size = size
	if !expire.IsZero() {
		nh.Expire = max(expire.UnixNano(), 1) // 0 would mean never
	}
	hlen := int64(headerSize(req.Column))
	sum := xxhash.New()
	// put writes the bytes [pos, pos+len(p)) of the new value, with the
	// request's bytes over p where they fall in it.
	put := func(f vfs.File, pos uint64, p []byte) error {
		if pe := pos + uint64(len(p)); off < pe && end > pos {
			lo, hi := max(pos, off), min(pe, end)
			copy(p[lo-pos:hi-pos], req.Data[lo-off:hi-off])
		}
		_, _ = sum.Write(p)
		_, err := f.WriteAt(p, hlen+int64(pos))
		return err
	}
	var streamErr error // a failure to read the old value, reported as is
	fill := func(f vfs.File) error {
		if base > 0 {
			var werr error
			_, err := b.streamColumn(req.Key, path, func(h *header) error {
				if h.Size != base {
					return corrupt(path, "changed size while rewritten: %d bytes, was %d", h.Size, base)
				}
				return nil
			}, func(pos uint64, p []byte) {
				if werr == nil {
					werr = put(f, pos, p)
				}
			})
			if werr != nil {
				return werr
			}
			if err != nil {
				streamErr = err
				return err
			}
		}
		if base < size {
			buf := make([]byte, min(readPiece, size-base))
			for pos := base; pos < size; {
				p := buf[:min(uint64(len(buf)), size-pos)]
				clear(p)
				if err := put(f, pos, p); err != nil {
					return err
				}
				pos += uint64(len(p))
			}
		}
		nh.DataSum = sum.Sum64()
		_, err := f.WriteAt(encodeHeader(make([]byte, 0, hlen), &nh, req.Column), 0)
		return err
	}

	if !existed {
		if err := b.ensureDir(req.ID, dir); err != nil {
			return backend.Meta{}, true, b.writeFailed(err)
		}
	}
	renamed, err := b.replaceWith(dir, path, fill)
	if renamed {
		if !existed {
			b.records.Add(1)
		}
		b.bytes.Add(int64(size) - int64(oldSize))
	}
	if streamErr != nil {
		if status.FromError(streamErr) == status.NotFound {
			// Expired between the header check and the read: no base after
			// all, which the in-memory path handles.
			return backend.Meta{}, false, nil
		}
		return backend.Meta{}, true, fmt.Errorf("file backend: rewrite %s: %w", path, streamErr)
	}
	if err != nil {
		return backend.Meta{}, true, b.writeFailed(err)
	}
	return nh.Meta(), true, nil
}
