// Package file is the file backend: one file per column of an object, in a
// directory per object, fanned out by the first two bytes of the ID.
//
// Layout under the backend's directory:
//
//	FORMAT                          layout marker, written on first Open
//	objects/ab/cd/<128 hex digits>/ one directory per object ID ab cd ...
//	    _                           the default column ""
//	    c<hex of the name>          a column name of up to 100 bytes
//	    h<hex SHA-256 of the name>  a longer column name (up to MaxColumnLen)
//	    .tmp.<file name>.<n>        a write in progress, removed on Open
//
// File names are lower-case hex, so ReadDir's sorted order is ID order and
// Iterate walks the tree without sorting or indexing, skipping whole
// fan-out directories outside its range. Every column file is a small
// header (see header.go: magic, version, timestamp, user flags, data size,
// xxhash64 of the data and of the header, the column name) followed by the
// data. Reads verify the data checksum and return status.ErrCorrupt rather
// than wrong bytes.
//
// Every write, including appends and offset writes, builds the complete new
// column file under a temporary name in the object's directory and renames
// it over the old one, so a crash leaves the old or the new version, never a
// mix. With SyncAlways the file and the directory are fsynced before Write
// returns. Values are rewritten whole, so the backend suits small and
// medium objects; MaxValueSize bounds one column.
//
// A write that fails with a full disk returns status.ErrNoSpace, leaves the
// old version in place and turns the backend read-only until an operator
// calls SetReadOnly(false).
package file

import (
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/vfs"
)

// MaxColumnLen is the longest column name, the protocol's limit.
const MaxColumnLen = 255

// MaxValueSize bounds one column: values are read and rewritten whole, so a
// write at a huge offset is refused instead of allocating the gap.
const MaxValueSize = 1 << 30

// SyncMode selects how durable a write is when Write returns.
type SyncMode int

const (
	// SyncAlways fsyncs the column file and its directory before Write and
	// Remove return: acknowledged data survives a power loss. The default.
	SyncAlways SyncMode = iota
	// SyncNone leaves flushing to the operating system: a crash of the
	// machine (not of the process) may lose recent writes, though each file
	// is still replaced atomically.
	SyncNone
)

// String names the mode as configuration spells it.
func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncNone:
		return "none"
	}
	return "SyncMode(" + strconv.Itoa(int(m)) + ")"
}

// Options configure Open. The zero value is valid.
type Options struct {
	// FS is the file system; nil means vfs.Default.
	FS vfs.FS
	// Sync is the durability of writes; the default is SyncAlways.
	Sync SyncMode
	// Logger receives errors such as entering read-only mode; nil logs
	// nothing.
	Logger *zap.Logger
	// RewriteThreshold: an offset write or append whose new value holds at
	// least this many bytes not in the request is streamed from the old
	// file into the new one (rewrite.go) instead of built in memory.
	// Default DefaultRewriteThreshold.
	RewriteThreshold uint64
}

// lockStripes bounds the per-object locks; writers of different objects
// rarely share one.
const lockStripes = 256

// Backend is the file backend. It implements backend.Backend and
// backend.ReadOnlySetter.
type Backend struct {
	dir  string // as given to Open
	objs string // dir/objects
	fs   vfs.FS
	sync bool
	log  *zap.Logger
	// rewriteAt is Options.RewriteThreshold.
	rewriteAt uint64

	// locks serialise writes and removes of the same object, so the
	// statistics stay exact even if callers do not order them.
	locks [lockStripes]sync.Mutex

	records atomic.Int64
	bytes   atomic.Int64
	closed  atomic.Bool
	tmpSeq  atomic.Uint64

	readOnly atomic.Bool
	roMu     sync.Mutex
	roReason string // why readOnly is set, guarded by roMu
}

var (
	_ backend.Backend        = (*Backend)(nil)
	_ backend.ReadOnlySetter = (*Backend)(nil)
)

// Open opens the file backend in dir, creating it if needed. It removes
// temporary files left by writes interrupted by a crash and counts the
// stored records for Stats.
func Open(dir string, opts Options) (*Backend, error) {
	if dir == "" {
		return nil, status.Errorf(status.Invalid, "file backend: no directory given")
	}
	switch opts.Sync {
	case SyncAlways, SyncNone:
	default:
		return nil, status.Errorf(status.Invalid, "file backend: unknown sync mode %d", int(opts.Sync))
	}
	b := &Backend{
		dir:  dir,
		objs: filepath.Join(dir, objectsDir),
		fs:   opts.FS,
		sync: opts.Sync == SyncAlways,
		log:  opts.Logger,

		rewriteAt: opts.RewriteThreshold,
	}
	if b.rewriteAt == 0 {
		b.rewriteAt = DefaultRewriteThreshold
	}
	if b.fs == nil {
		b.fs = vfs.Default
	}
	if b.log == nil {
		b.log = zap.NewNop()
	}
	b.log = b.log.With(zap.String("backend", "file"), zap.String("dir", dir))
	if err := b.fs.MkdirAll(b.objs, 0o755); err != nil {
		return nil, ioError("create "+b.objs, err)
	}
	if err := b.checkFormat(); err != nil {
		return nil, err
	}
	if err := b.scan(); err != nil {
		return nil, err
	}
	b.log.Info("opened", zap.Int64("records", b.records.Load()), zap.Int64("bytes", b.bytes.Load()),
		zap.Stringer("sync", opts.Sync))
	return b, nil
}

// checkFormat writes the layout marker in a new directory and refuses a
// directory marked with another layout.
func (b *Backend) checkFormat() error {
	name := filepath.Join(b.dir, formatFile)
	got, err := vfs.ReadFile(b.fs, name)
	switch {
	case err == nil:
		if string(got) != formatText {
			return status.Errorf(status.Invalid, "file backend: %s holds %q, want %q: not this backend's directory or an unsupported layout",
				name, got, formatText)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if err := vfs.WriteFileAtomic(b.fs, name, []byte(formatText)); err != nil {
			return ioError("write "+name, err)
		}
		return nil
	default:
		return ioError("read "+name, err)
	}
}

// scan walks every object directory on Open: it removes temporary files and
// empty object directories and counts records and bytes.
func (b *Backend) scan() error {
	var records, bytes int64
	err := b.walk(context.Background(), id.Zero, id.Max, func(oid id.ID, dir string) error {
		ents, err := b.fs.ReadDir(dir)
		if err != nil {
			return ioError("list "+dir, err)
		}
		left := 0
		for _, e := range ents {
			name := e.Name()
			if isTemp(name) {
				p := filepath.Join(dir, name)
				if err := b.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
					b.log.Warn("cannot remove leftover temporary file", zap.String("path", p), zap.Error(err))
					left++
				} else {
					b.log.Info("removed leftover temporary file", zap.String("path", p))
				}
				continue
			}
			left++
			if _, _, ok := parseColumnFileName(name); !ok {
				b.log.Warn("unknown file in object directory ignored", zap.String("path", filepath.Join(dir, name)))
				continue
			}
			exists, size, err := b.account(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			if exists {
				records++
				bytes += int64(size)
			}
		}
		if left == 0 {
			// A crash between the removal of the last column and of its
			// directory leaves it empty.
			_ = b.fs.Remove(dir)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.records.Store(records)
	b.bytes.Store(bytes)
	return nil
}

// ---- errors ----

// fsError is a file system failure with the status code it maps to. It
// matches both the status sentinel and the underlying error with errors.Is,
// so status.FromError gives its code and errors.Is(err, syscall.ENOSPC)
// still holds.
type fsError struct {
	st    *status.Error
	cause error
}

func (e *fsError) Error() string   { return e.st.Error() }
func (e *fsError) Unwrap() []error { return []error{e.st, e.cause} }

// ioError maps a file system error from operation op: a full disk or quota
// to NoSpace, a read-only file system to ReadOnly, anything else to IOError.
func ioError(op string, err error) error {
	code := status.IOError
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		code = status.NoSpace
	case errors.Is(err, syscall.EROFS):
		code = status.ReadOnly
	}
	return &fsError{st: &status.Error{Code: code, Msg: "file backend: " + op + ": " + err.Error()}, cause: err}
}

func corrupt(path string, format string, args ...any) error {
	return status.Errorf(status.Corrupt, "file backend: %s: %s", path, fmt.Sprintf(format, args...))
}

func notFound(k backend.Key) error {
	return status.Errorf(status.NotFound, "key %s column %q", k.ID.Short(), k.Column)
}

// writeFailed turns the backend read-only when err says the disk is full or
// the file system read-only, and returns err.
func (b *Backend) writeFailed(err error) error {
	switch status.FromError(err) {
	case status.NoSpace, status.ReadOnly:
		b.enterReadOnly(err)
	}
	return err
}

func (b *Backend) enterReadOnly(cause error) {
	b.roMu.Lock()
	defer b.roMu.Unlock()
	if b.readOnly.Load() {
		return
	}
	b.roReason = "a write failed: " + status.Message(cause)
	b.readOnly.Store(true)
	b.log.Error("write failed, backend is now read-only until made writable again", zap.Error(cause))
}

// SetReadOnly implements backend.ReadOnlySetter: an operator turns
// read-only mode on, or off again after freeing space.
func (b *Backend) SetReadOnly(ro bool) {
	b.roMu.Lock()
	defer b.roMu.Unlock()
	if ro == b.readOnly.Load() {
		return
	}
	if ro {
		b.roReason = "set by the operator"
		b.readOnly.Store(true)
		b.log.Info("backend made read-only")
		return
	}
	b.log.Info("backend made writable again", zap.String("was read-only because", b.roReason))
	b.roReason = ""
	b.readOnly.Store(false)
}

func (b *Backend) readOnlyErr() error {
	b.roMu.Lock()
	reason := b.roReason
	b.roMu.Unlock()
	return status.Errorf(status.ReadOnly, "file backend %s is read-only: %s", b.dir, reason)
}

// check fails calls after Close and with a done context.
func (b *Backend) check(ctx context.Context) error {
	if b.closed.Load() {
		return status.Errorf(status.ShuttingDown, "file backend %s closed", b.dir)
	}
	return ctx.Err()
}

// checkWritable also refuses modifications in read-only mode.
func (b *Backend) checkWritable(ctx context.Context) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if b.readOnly.Load() {
		return b.readOnlyErr()
	}
	return nil
}

func (b *Backend) lock(oid id.ID) *sync.Mutex {
	return &b.locks[xxhash.Sum64(oid[:])%lockStripes]
}

// ---- reading column files ----

// readColumn reads and verifies a whole column file. A missing file is
// status.ErrNotFound; a bad header, a length that disagrees with the header,
// a column name that does not belong to the file or a data checksum
// mismatch is status.ErrCorrupt.
func (b *Backend) readColumn(k backend.Key, path string) (header, []byte, error) {
	f, err := vfs.Open(b.fs, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return header{}, nil, notFound(k)
		}
		return header{}, nil, ioError("open", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return header{}, nil, ioError("stat", err)
	}
	size := st.Size()
	if size < 0 || size > maxHeaderSize+MaxValueSize {
		return header{}, nil, corrupt(path, "file of %d bytes over the size limit", size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return header{}, nil, corrupt(path, "file shrank while read")
		}
		return header{}, nil, ioError("read "+path, err)
	}
	h, column, n, err := decodeHeader(buf)
	if err != nil {
		return header{}, nil, corrupt(path, "%v", err)
	}
	if column != k.Column {
		return header{}, nil, corrupt(path, "holds column %q, want %q", column, k.Column)
	}
	data := buf[n:]
	if uint64(len(data)) != h.Size {
		return header{}, nil, corrupt(path, "%d bytes of data, header says %d (truncated or extended)", len(data), h.Size)
	}
	if sum := dataSum(data); sum != h.DataSum {
		return header{}, nil, corrupt(path, "data checksum %016x, stored %016x", sum, h.DataSum)
	}
	return h, data[:len(data):len(data)], nil
}

// readHeader reads and verifies the header of a column file without its
// data and returns the file's size (also with a status.ErrCorrupt error).
// Errors are as for readColumn, except that a missing file is returned as
// an error matching fs.ErrNotExist.
func (b *Backend) readHeader(path string) (header, string, int64, error) {
	f, err := vfs.Open(b.fs, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return header{}, "", 0, err
		}
		return header{}, "", 0, ioError("open", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return header{}, "", 0, ioError("stat", err)
	}
	var buf [maxHeaderSize]byte
	n, err := io.ReadFull(f, buf[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return header{}, "", 0, ioError("read "+path, err)
	}
	h, column, _, err := decodeHeader(buf[:n])
	if err != nil {
		return header{}, "", st.Size(), corrupt(path, "%v", err)
	}
	return h, column, st.Size(), nil
}

// account returns what a column file counts for in Stats: whether it exists
// and its data size per the header. Open and every write and remove use it,
// so the figures stay consistent. A file whose header is damaged counts with
// its length less the header length its name implies, which is exact for
// damage in place (bit rot); a file truncated or extended behind the
// backend's back leaves the figures off until the next Open recounts. An
// I/O error reading the header is returned.
func (b *Backend) account(path string) (exists bool, size uint64, err error) {
	h, _, fsize, err := b.readHeader(path)
	switch {
	case err == nil:
		return true, h.Size, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, 0, nil
	case status.FromError(err) != status.Corrupt:
		return false, 0, err
	}
	hlen := int64(fixedHeaderSize)
	if column, known, _ := parseColumnFileName(filepath.Base(path)); known {
		hlen = int64(headerSize(column))
	}
	b.log.Warn("damaged column file, its size is estimated", zap.String("path", path), zap.Error(err))
	return true, uint64(max(fsize-hlen, 0)), nil
}

// ---- backend.Backend ----

// Write implements backend.Backend.
func (b *Backend) Write(ctx context.Context, req *backend.WriteRequest) (backend.Meta, error) {
	if err := b.checkWritable(ctx); err != nil {
		return backend.Meta{}, err
	}
	if len(req.Column) > MaxColumnLen {
		return backend.Meta{}, status.Errorf(status.TooLarge, "column name of %d bytes over the limit of %d", len(req.Column), MaxColumnLen)
	}
	ts := req.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}

	mu := b.lock(req.ID)
	mu.Lock()
	defer mu.Unlock()

	dir := objectDir(b.dir, req.ID)
	path := filepath.Join(dir, columnFileName(req.Column))
	// The current state, verified: the whole value when the write builds
	// on it, else the header (what Stats count, whether an upload is in
	// progress, the expiry to keep).
	if req.Phased() {
		return b.writePhased(req, ts, dir, path)
	}
	var (
		prev    backend.Previous
		existed bool
		oldSize uint64
	)
	pending := false
	if req.NeedsPrevious() {
		// An upload in progress is no base (Compose starts afresh) and has
		// no data checksum yet: its header is enough.
		if h, _, _, err := b.readHeader(path); err == nil && h.Flags&flagUncommitted != 0 {
			pending, existed, oldSize = true, true, h.Size
		}
	}
	if req.NeedsPrevious() && !pending {
		if m, ok, err := b.rewrite(req, ts, dir, path); ok || err != nil {
			return m, err
		}
		h, old, err := b.readColumn(req.Key, path)
		switch {
		case err == nil:
			existed, oldSize = true, uint64(len(old))
			if !backend.Expired(h.ExpireTime(), time.Now()) {
				prev = backend.Previous{Exists: true, Pending: h.Flags&flagUncommitted != 0, Data: old, Expire: h.ExpireTime()}
			}
		case errors.Is(err, status.ErrNotFound):
		default:
			return backend.Meta{}, err
		}
	} else if !pending {
		var err error
		if existed, oldSize, err = b.account(path); err != nil {
			return backend.Meta{}, err
		}
	}
	out, err := backend.Compose(prev, req, MaxValueSize)
	if err != nil {
		return backend.Meta{}, err
	}
	data := out.Data

	var h header
	h.setTimestamp(ts)
	h.UserFlags = req.UserFlags
	h.Size = uint64(len(data))
	h.DataSum = dataSum(data)
	if !out.Expire.IsZero() {
		h.Expire = max(out.Expire.UnixNano(), 1) // 0 would mean never
	}
	if out.Pending {
		h.Flags |= flagUncommitted
	}
	hdr := encodeHeader(make([]byte, 0, headerSize(req.Column)), &h, req.Column)

	if !existed {
		if err := b.ensureDir(req.ID, dir); err != nil {
			return backend.Meta{}, b.writeFailed(err)
		}
	}
	renamed, err := b.replace(dir, path, hdr, data)
	if renamed {
		if !existed {
			b.records.Add(1)
		}
		b.bytes.Add(int64(len(data)) - int64(oldSize))
	}
	if err != nil {
		return backend.Meta{}, b.writeFailed(err)
	}
	return h.Meta(), nil
}

// ensureDir creates the object directory of oid and any missing fan-out
// directory above it, syncing each parent in SyncAlways mode.
func (b *Backend) ensureDir(oid id.ID, dir string) error {
	if _, err := b.fs.Stat(dir); err == nil {
		return nil
	}
	l1n, l2n := fanout(oid)
	l1 := filepath.Join(b.objs, l1n)
	l2 := filepath.Join(l1, l2n)
	for _, d := range [...]struct{ dir, parent string }{{l1, b.objs}, {l2, l1}, {dir, l2}} {
		if _, err := b.fs.Stat(d.dir); err == nil {
			continue
		}
		if err := b.fs.MkdirAll(d.dir, 0o755); err != nil {
			return ioError("create directory", err)
		}
		if b.sync {
			if err := b.fs.SyncDir(d.parent); err != nil {
				return ioError("sync directory "+d.parent, err)
			}
		}
	}
	return nil
}

// replace writes hdr and data to a temporary file in dir and renames it
// over path, with fsyncs in SyncAlways mode. renamed reports whether path
// now holds the new contents (an error after the rename means only that
// their durability is in doubt). On any error before the rename the
// temporary file is removed and path is untouched.
func (b *Backend) replace(dir, path string, hdr, data []byte) (renamed bool, err error) {
	return b.replaceWith(dir, path, func(f vfs.File) error {
		if err := writeAll(f, hdr); err != nil {
			return err
		}
		return writeAll(f, data)
	})
}

// replaceWith is replace with the new file's contents written by fill.
func (b *Backend) replaceWith(dir, path string, fill func(vfs.File) error) (renamed bool, err error) {
	tmp := filepath.Join(dir, tempPrefix+filepath.Base(path)+"."+strconv.FormatUint(b.tmpSeq.Add(1), 10))
	f, err := b.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, ioError("create", err)
	}
	err = fill(f)
	if err == nil && b.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = b.fs.Rename(tmp, path); err == nil {
			renamed = true
		}
	}
	if err != nil {
		if rerr := b.fs.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			b.log.Warn("cannot remove temporary file", zap.String("path", tmp), zap.Error(rerr))
		}
		return false, ioError("store column", err)
	}
	if b.sync {
		if err := b.fs.SyncDir(dir); err != nil {
			return true, ioError("sync directory "+dir, err)
		}
	}
	return true, nil
}

// writeAll writes p to f, turning a short write without an error into
// io.ErrShortWrite. File errors name the file already.
func writeAll(f vfs.File, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := f.Write(p)
	if err == nil && n < len(p) {
		err = &fs.PathError{Op: "write", Path: f.Name(), Err: io.ErrShortWrite}
	}
	return err
}

// Read implements backend.Backend. The whole value is read (in pieces)
// and its checksum verified, but only the range is kept in memory.
func (b *Backend) Read(ctx context.Context, k backend.Key, offset, size uint64) ([]byte, backend.Meta, error) {
	if err := b.check(ctx); err != nil {
		return nil, backend.Meta{}, err
	}
	var out []byte
	var start, end uint64
	h, err := b.streamColumn(k, filepath.Join(objectDir(b.dir, k.ID), columnFileName(k.Column)),
		func(h *header) error {
			if offset > h.Size {
				return status.Errorf(status.Invalid, "offset %d past the end (%d bytes)", offset, h.Size)
			}
			start, end = offset, h.Size
			if size != 0 && offset+size < end && offset+size > offset {
				end = offset + size
			}
			out = make([]byte, end-start)
			return nil
		},
		func(pos uint64, p []byte) {
			if pe := pos + uint64(len(p)); pe > start && pos < end {
				lo, hi := max(pos, start), min(pe, end)
				copy(out[lo-start:], p[lo-pos:hi-pos])
			}
		})
	if err != nil {
		return nil, h.Meta(), err
	}
	return out, h.Meta(), nil
}

// readPiece is the size of the pieces a column file is read in.
const readPiece = 1 << 20

// streamColumn reads a visible column in pieces: it calls begin with the
// verified header (an error from it ends the read), then piece with the
// data in order, and returns an error if the data checksum does not match
// (the caller then discards what it built).
func (b *Backend) streamColumn(k backend.Key, path string, begin func(*header) error, piece func(pos uint64, p []byte)) (header, error) {
	f, err := vfs.Open(b.fs, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return header{}, notFound(k)
		}
		return header{}, ioError("open", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return header{}, ioError("stat", err)
	}
	var hb [maxHeaderSize]byte
	n, err := io.ReadFull(f, hb[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return header{}, ioError("read "+path, err)
	}
	h, column, _, err := decodeHeader(hb[:n])
	switch {
	case err != nil:
		return header{}, corrupt(path, "%v", err)
	case column != k.Column:
		return header{}, corrupt(path, "holds column %q, want %q", column, k.Column)
	case !h.visible(time.Now()):
		return header{}, notFound(k)
	case uint64(st.Size()) != uint64(h.Len)+h.Size:
		return header{}, corrupt(path, "file of %d bytes, header says %d (truncated or extended)", st.Size(), uint64(h.Len)+h.Size)
	}
	if err := begin(&h); err != nil {
		return h, err
	}
	d := xxhash.New()
	buf := make([]byte, min(h.Size, readPiece))
	for pos := uint64(0); pos < h.Size; pos += uint64(len(buf)) {
		p := buf[:min(uint64(len(buf)), h.Size-pos)]
		if _, err := f.ReadAt(p, int64(h.Len)+int64(pos)); err != nil {
			if errors.Is(err, io.EOF) {
				return h, corrupt(path, "file shrank while read")
			}
			return h, ioError("read "+path, err)
		}
		_, _ = d.Write(p)
		piece(pos, p)
	}
	if sum := d.Sum64(); sum != h.DataSum {
		return h, corrupt(path, "data checksum %016x, stored %016x", sum, h.DataSum)
	}
	return h, nil
}

// Lookup implements backend.Backend. Path is the column file.
func (b *Backend) Lookup(ctx context.Context, k backend.Key, opts backend.LookupOptions) (backend.Info, error) {
	if err := b.check(ctx); err != nil {
		return backend.Info{}, err
	}
	path := filepath.Join(objectDir(b.dir, k.ID), columnFileName(k.Column))
	if opts.Checksum {
		d := sha512.New()
		h, err := b.streamColumn(k, path, func(*header) error { return nil },
			func(_ uint64, p []byte) { d.Write(p) })
		if err != nil {
			return backend.Info{}, err
		}
		info := backend.Info{Meta: h.Meta(), Path: path}
		d.Sum(info.Checksum[:0])
		return info, nil
	}
	h, column, fsize, err := b.readHeader(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return backend.Info{}, notFound(k)
	case err != nil:
		return backend.Info{}, err
	case column != k.Column:
		return backend.Info{}, corrupt(path, "holds column %q, want %q", column, k.Column)
	case uint64(fsize) != uint64(h.Len)+h.Size:
		return backend.Info{}, corrupt(path, "file of %d bytes, header says %d (truncated or extended)",
			fsize, uint64(h.Len)+h.Size)
	case !h.visible(time.Now()):
		return backend.Info{}, notFound(k)
	}
	return backend.Info{
		Meta: h.Meta(),
		Path: path,
	}, nil
}

// Remove implements backend.Backend.
func (b *Backend) Remove(ctx context.Context, oid id.ID, opts backend.RemoveOptions) error {
	if err := b.checkWritable(ctx); err != nil {
		return err
	}
	mu := b.lock(oid)
	mu.Lock()
	defer mu.Unlock()

	dir := objectDir(b.dir, oid)
	if opts.OnlyColumn {
		k := backend.Key{ID: oid, Column: opts.Column}
		path := filepath.Join(dir, columnFileName(opts.Column))
		exists, size, err := b.account(path)
		if err != nil {
			return err
		}
		if !exists {
			return notFound(k)
		}
		if err := b.fs.Remove(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return notFound(k)
			}
			return ioError("remove", err)
		}
		b.records.Add(-1)
		b.bytes.Add(-int64(size))
		return b.tidy(oid, dir)
	}

	ents, err := b.fs.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return status.Errorf(status.NotFound, "key %s", oid.Short())
		}
		return ioError("list", err)
	}
	removed := 0
	for _, e := range ents {
		name := e.Name()
		if _, _, ok := parseColumnFileName(name); !ok {
			continue // temporary or foreign files: tidy removes the directory only if empty
		}
		path := filepath.Join(dir, name)
		exists, size, err := b.account(path)
		if err != nil {
			return err
		}
		if !exists {
			continue
		}
		if err := b.fs.Remove(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return ioError("remove", err)
		}
		removed++
		b.records.Add(-1)
		b.bytes.Add(-int64(size))
	}
	err = b.tidy(oid, dir)
	if removed == 0 {
		return status.Errorf(status.NotFound, "key %s", oid.Short())
	}
	return err
}

// tidy removes the object directory if no column is left in it and, in
// SyncAlways mode, syncs the directory whose entries changed.
func (b *Backend) tidy(oid id.ID, dir string) error {
	ents, err := b.fs.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return ioError("list", err)
	}
	for _, e := range ents {
		if isTemp(e.Name()) {
			// Under the object's lock no write of ours is in flight: this
			// is debris of a failed cleanup.
			_ = b.fs.Remove(filepath.Join(dir, e.Name()))
		}
	}
	synced := dir
	if err := b.fs.Remove(dir); err == nil {
		synced = filepath.Dir(dir)
	}
	if !b.sync {
		return nil
	}
	if err := b.fs.SyncDir(synced); err != nil {
		return ioError("sync directory "+synced, err)
	}
	return nil
}

// Iterate implements backend.Backend. It streams the tree in order without
// holding locks, so fn may call back into the backend. Column files whose
// header is damaged are logged and skipped; reading them reports
// status.ErrCorrupt.
func (b *Backend) Iterate(ctx context.Context, opts backend.IterateOptions, fn func(backend.Record) error) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	end := opts.End
	if end.IsZero() {
		end = id.Max
	}
	return b.walk(ctx, opts.Start, end, func(oid id.ID, dir string) error {
		recs, err := b.columns(oid, dir)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if b.closed.Load() {
				return status.Errorf(status.ShuttingDown, "file backend %s closed", b.dir)
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// columns returns the records of one object directory sorted by column.
func (b *Backend) columns(oid id.ID, dir string) ([]backend.Record, error) {
	ents, err := b.fs.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // removed meanwhile
		}
		return nil, ioError("list", err)
	}
	recs := make([]backend.Record, 0, len(ents))
	now := time.Now()
	for _, e := range ents {
		name := e.Name()
		want, known, ok := parseColumnFileName(name)
		if !ok {
			continue
		}
		path := filepath.Join(dir, name)
		h, column, _, err := b.readHeader(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed meanwhile
		case err != nil && status.FromError(err) == status.Corrupt:
			b.log.Error("damaged column file skipped by iteration", zap.String("path", path), zap.Error(err))
			continue
		case err != nil:
			return nil, err
		case known && column != want, !known && columnFileName(column) != name:
			b.log.Error("column file holds another column, skipped by iteration",
				zap.String("path", path), zap.String("column", column))
			continue
		}
		if !h.visible(now) {
			continue // an upload in progress, or expired
		}
		recs = append(recs, backend.Record{Key: backend.Key{ID: oid, Column: column}, Meta: h.Meta()})
	}
	slices.SortFunc(recs, func(x, y backend.Record) int { return strings.Compare(x.Column, y.Column) })
	return recs, nil
}

// walk calls visit for every object directory with an ID in [start, end],
// in ascending ID order. Fan-out directories outside the range are skipped
// by name without being listed.
func (b *Backend) walk(ctx context.Context, start, end id.ID, visit func(oid id.ID, dir string) error) error {
	if end.Less(start) {
		return nil
	}
	list := func(dir string) ([]fs.DirEntry, error) {
		ents, err := b.fs.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, ioError("list", err)
		}
		return ents, nil
	}
	lo := uint16(start[0])<<8 | uint16(start[1])
	hi := uint16(end[0])<<8 | uint16(end[1])
	l1s, err := list(b.objs)
	if err != nil {
		return err
	}
	for _, e1 := range l1s {
		b0, ok := parseFanoutName(e1.Name())
		if !ok || !e1.IsDir() || b0 < start[0] {
			continue
		}
		if b0 > end[0] {
			break
		}
		l1 := filepath.Join(b.objs, e1.Name())
		l2s, err := list(l1)
		if err != nil {
			return err
		}
		for _, e2 := range l2s {
			b1, ok := parseFanoutName(e2.Name())
			if !ok || !e2.IsDir() {
				continue
			}
			p := uint16(b0)<<8 | uint16(b1)
			if p < lo {
				continue
			}
			if p > hi {
				break
			}
			l2 := filepath.Join(l1, e2.Name())
			objs, err := list(l2)
			if err != nil {
				return err
			}
			for _, e3 := range objs {
				oid, ok := parseObjectDirName(e3.Name())
				if !ok || !e3.IsDir() || oid[0] != b0 || oid[1] != b1 || oid.Less(start) {
					continue
				}
				if end.Less(oid) {
					break
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := visit(oid, filepath.Join(l2, e3.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Stats implements backend.Backend.
func (b *Backend) Stats() backend.Stats {
	return backend.Stats{
		Records:  uint64(max(b.records.Load(), 0)),
		Bytes:    uint64(max(b.bytes.Load(), 0)),
		ReadOnly: b.readOnly.Load(),
		Extra:    map[string]any{"dir": b.dir},
	}
}

// Close implements backend.Backend. Every file is closed by the call that
// opened it, so there is nothing to release.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.log.Info("closed")
	return nil
}
