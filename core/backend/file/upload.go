package file

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// Chunked uploads write in place. A prepare creates the column file (under
// a temporary name, renamed over the old version) with an uncommitted
// header whose size is the reservation, and extends it to that size
// without writing (a sparse file); chunks are pwritten at their offsets; a
// commit computes the data checksum in pieces, rewrites the header in
// place (same length: the column does not change) and cuts the file to the
// final size. A header rewrite is one write of at most 319 bytes at the
// start of the file; a crash that tore it would leave a header that fails
// its checksum, which reads report as corrupt (the file backend is for
// debugging and small data sets; the blob backend never rewrites a
// header).

// writePhased is Write for a step of a chunked upload. The caller holds
// the object's lock.
func (b *Backend) writePhased(req *backend.WriteRequest, ts time.Time, dir, path string) (backend.Meta, error) {
	now := time.Now()
	h, column, fsize, herr := b.readHeader(path)
	existed := herr == nil || !errors.Is(herr, fs.ErrNotExist)
	var prev backend.Previous
	switch {
	case herr == nil && column == req.Column:
		if !backend.Expired(h.ExpireTime(), now) {
			prev = backend.Previous{Exists: true, Pending: h.Flags&flagUncommitted != 0, Expire: h.ExpireTime()}
		}
	case herr == nil:
		if !req.Prepare {
			return backend.Meta{}, corrupt(path, "holds column %q, want %q", column, req.Column)
		}
	case errors.Is(herr, fs.ErrNotExist):
	case req.Prepare && status.FromError(herr) == status.Corrupt:
		// A prepare replaces whatever is there.
	default:
		return backend.Meta{}, herr
	}
	u, err := backend.PlanUpload(prev, h.Size, req, MaxValueSize)
	if err != nil {
		return backend.Meta{}, err
	}
	if prev.Pending && uint64(fsize) != uint64(h.Len)+h.Size {
		return backend.Meta{}, corrupt(path, "upload file of %d bytes, header says %d", fsize, uint64(h.Len)+h.Size)
	}
	var nh header
	nh.setTimestamp(ts)
	nh.UserFlags = req.UserFlags
	nh.Size = u.Reserved
	nh.Expire = unixExpire(u.Expire)
	nh.Flags = flagUncommitted
	if req.Prepare {
		var oldSize uint64
		if existed {
			if _, oldSize, err = b.account(path); err != nil {
				return backend.Meta{}, err
			}
		} else if err := b.ensureDir(req.ID, dir); err != nil {
			return backend.Meta{}, b.writeFailed(err)
		}
		if err := b.prepareFile(dir, path, &nh, req); err != nil {
			return backend.Meta{}, b.writeFailed(err)
		}
		if !existed {
			b.records.Add(1)
		}
		b.bytes.Add(int64(u.Reserved) - int64(oldSize))
		if !u.Commit {
			return nh.Meta(), nil
		}
		h = nh
		h.Len = headerSize(req.Column)
	}
	f, err := b.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return backend.Meta{}, ioError("open "+path, err)
	}
	defer f.Close()
	if !req.Prepare && len(req.Data) > 0 {
		if _, err := f.WriteAt(req.Data, int64(h.Len)+int64(req.Offset)); err != nil {
			return backend.Meta{}, ioError("write chunk to "+path, err)
		}
	}
	if u.Commit {
		d := xxhash.New()
		buf := make([]byte, min(u.Size, readPiece))
		for pos := uint64(0); pos < u.Size; pos += uint64(len(buf)) {
			p := buf[:min(uint64(len(buf)), u.Size-pos)]
			if _, err := f.ReadAt(p, int64(h.Len)+int64(pos)); err != nil && !errors.Is(err, io.EOF) {
				return backend.Meta{}, ioError("read back "+path, err)
			}
			_, _ = d.Write(p)
		}
		nh.Flags, nh.Size, nh.DataSum = 0, u.Size, d.Sum64()
		if err := f.Truncate(int64(h.Len) + int64(u.Size)); err != nil {
			return backend.Meta{}, ioError("cut "+path, err)
		}
		b.bytes.Add(int64(u.Size) - int64(u.Reserved))
	}
	if u.Commit || u.ExpireChanged {
		if _, err := f.WriteAt(encodeHeader(nil, &nh, req.Column), 0); err != nil {
			return backend.Meta{}, ioError("write header of "+path, err)
		}
	}
	if b.sync {
		if err := f.Sync(); err != nil {
			return backend.Meta{}, ioError("sync "+path, err)
		}
	}
	return nh.Meta(), nil
}

// prepareFile creates the uncommitted column file of a prepare: header,
// the reservation as a hole, the prepare's chunk; then renames it over
// path.
func (b *Backend) prepareFile(dir, path string, h *header, req *backend.WriteRequest) error {
	tmp := filepath.Join(dir, tempPrefix+filepath.Base(path)+"."+strconv.FormatUint(b.tmpSeq.Add(1), 10))
	f, err := b.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return ioError("create", err)
	}
	hdr := encodeHeader(nil, h, req.Column)
	err = writeAll(f, hdr)
	if err == nil {
		err = f.Truncate(int64(len(hdr)) + int64(h.Size))
	}
	if err == nil && len(req.Data) > 0 {
		_, err = f.WriteAt(req.Data, int64(len(hdr))+int64(req.Offset))
	}
	if err == nil && b.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = b.fs.Rename(tmp, path)
	}
	if err != nil {
		if rerr := b.fs.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			b.log.Warn("cannot remove temporary file", zap.String("path", tmp), zap.Error(rerr))
		}
		return ioError("store upload", err)
	}
	if b.sync {
		if err := b.fs.SyncDir(dir); err != nil {
			return ioError("sync directory "+dir, err)
		}
	}
	return nil
}

func unixExpire(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1) // 0 would mean never
}
