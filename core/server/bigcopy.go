package server

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// Recovery moves records bigger than recovery.BigObject in chunks, as
// chunked uploads (prepare, plain writes, commit), never whole in memory:
// they may be far larger than a frame, let alone than what a node should
// hold at once.

// copyChunk is the bytes per step of a chunked copy.
const copyChunk = 4 << 20

// storeReader reads one column of a backend from the start, a piece per
// call.
type storeReader struct {
	ctx  context.Context
	st   backend.Backend
	key  backend.Key
	off  uint64
	size uint64
}

func (r *storeReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	data, _, err := r.st.Read(r.ctx, r.key, r.off, min(uint64(len(p)), r.size-r.off))
	if err != nil {
		return 0, fmt.Errorf("read at byte %d: %w", r.off, err)
	}
	if len(data) == 0 {
		return 0, io.ErrUnexpectedEOF // the record shrank meanwhile
	}
	n := copy(p, data)
	r.off += uint64(n)
	return n, nil
}

// uploader writes what it is given into a local backend as a chunked
// upload of size bytes carrying meta's timestamp, user flags and expiry;
// the prepare and the commit each refuse (status.ErrMismatch) where a
// newer copy is stored. Each step runs in the key's queue.
type uploader struct {
	ctx  context.Context
	s    *Server
	dst  backend.Backend
	key  backend.Key
	meta backend.Meta
	off  uint64
}

func (u *uploader) Write(p []byte) (int, error) {
	size := u.meta.Size
	if u.off+uint64(len(p)) > size {
		return 0, status.Errorf(status.Invalid, "copy of %d bytes got %d", size, u.off+uint64(len(p)))
	}
	wr := &backend.WriteRequest{Key: u.key, Data: p, Offset: u.off, TotalSize: size, Timestamp: u.meta.Timestamp,
		UserFlags: u.meta.UserFlags, Prepare: u.off == 0, Commit: u.off+uint64(len(p)) == size}
	wr.Plain = !wr.Prepare && !wr.Commit
	switch {
	case wr.Commit:
		wr.Expire = u.meta.Expire
	case wr.Prepare:
		wr.Expire = time.Now().Add(u.s.opts.UploadTimeout)
	}
	err := u.s.withKey(u.ctx, u.key.ID, func() error {
		if wr.Prepare || wr.Commit {
			cond := backend.Condition{NotOlder: true, Timestamp: u.meta.Timestamp}
			if err := cond.Check(u.ctx, u.dst, u.key); err != nil {
				return err
			}
		}
		_, err := u.dst.Write(u.ctx, wr)
		return err
	})
	if err != nil {
		return 0, err
	}
	u.off += uint64(len(p))
	return len(p), nil
}

// uploadLocal copies size bytes of r into dst as a chunked upload.
func (s *Server) uploadLocal(ctx context.Context, dst backend.Backend, key backend.Key, r io.Reader, meta backend.Meta) error {
	u := &uploader{ctx: ctx, s: s, dst: dst, key: key, meta: meta}
	n, err := io.CopyBuffer(u, io.LimitReader(r, int64(meta.Size)), make([]byte, copyChunk))
	if err == nil && uint64(n) != meta.Size {
		err = status.Errorf(status.IOError, "copied %d of %d bytes", n, meta.Size)
	}
	return err
}
