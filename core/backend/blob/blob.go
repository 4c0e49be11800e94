package blob

import (
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/golang/snappy"
	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/digest"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/vfs"
)

// SyncMode says when written data is fsynced.
type SyncMode int

const (
	// SyncAlways fsyncs before acknowledging a write; concurrent writers
	// share one fsync (group commit). The default.
	SyncAlways SyncMode = iota
	// SyncInterval fsyncs in the background every Options.SyncInterval.
	SyncInterval
	// SyncNone leaves flushing to the operating system. Writes still
	// survive the kill of the process, not the loss of the machine.
	SyncNone
)

// Options configure a blob backend. Zero fields take the documented
// defaults.
type Options struct {
	FS vfs.FS // default vfs.Default
	// Sync chooses durability (default SyncAlways).
	Sync SyncMode
	// SyncInterval is the fsync period of SyncInterval (default 100ms).
	SyncInterval time.Duration
	// BlobSize rotates the active data file when it would grow past this
	// many bytes (default 1 GiB).
	BlobSize uint64
	// RecordsInBlob rotates the active data file after this many records
	// (default 10 million).
	RecordsInBlob uint64
	// Compress stores records with snappy when that makes them smaller.
	Compress bool
	// ExpectedObjects sizes the index up front (optional).
	ExpectedObjects int
	// SnapshotInterval writes an index snapshot this often while there are
	// changes since the last one (default 5 minutes); snapshots are also
	// written at every rotation, after defragmenting a file, and on Close.
	SnapshotInterval time.Duration
	// RewriteThreshold: an offset write or append whose new value holds at
	// least this many bytes that are not in the request (the old value's,
	// or zeros of a gap) is built file to file with bounded memory
	// (rewrite.go) instead of in memory. Default DefaultRewriteThreshold.
	RewriteThreshold uint64
	// NoMappedAppends makes appends with sync "none" use pwrite instead of
	// copies into a mapping of the active file (tailmap.go).
	NoMappedAppends bool
	Logger          *zap.Logger
}

func (o *Options) setDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 100 * time.Millisecond
	}
	if o.BlobSize == 0 {
		o.BlobSize = 1 << 30
	}
	if o.RecordsInBlob == 0 {
		o.RecordsInBlob = 10_000_000
	}
	if o.SnapshotInterval <= 0 {
		o.SnapshotInterval = 5 * time.Minute
	}
	if o.RewriteThreshold == 0 {
		o.RewriteThreshold = DefaultRewriteThreshold
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Sync < SyncAlways || o.Sync > SyncNone {
		return fmt.Errorf("blob: unknown sync mode %d", o.Sync)
	}
	if o.BlobSize != 0 && (o.BlobSize < 4096 || o.BlobSize > MaxFileSize) {
		return fmt.Errorf("blob: blob size %d out of range [4096, %d]", o.BlobSize, uint64(MaxFileSize))
	}
	if o.ExpectedObjects < 0 {
		return errors.New("blob: negative expected objects")
	}
	return nil
}

const stripes = 256

// Backend is a blob backend.Backend.
type Backend struct {
	dir  string
	opts Options
	fs   vfs.FS
	log  *zap.Logger

	stripes [stripes]sync.Mutex // per-object order inside the backend
	swapMu  sync.RWMutex
	// rewriting counts rewrites of big values in progress (rewrite.go),
	// each holding swapMu shared for as long as its copy takes.
	rewriting atomic.Int64

	appendQ       appendQueue
	appendMu      sync.Mutex
	active        *dataFile
	seq           uint64        // last record sequence number
	writeSeq      uint64        // count of appended records, for group commit
	appended      atomic.Uint64 // writeSeq, readable without appendMu
	appendedBytes atomic.Uint64 // bytes appended since Open
	// The write the append leader is building (append.go), under appendMu.
	staged      []*appendReq
	stagedBytes uint64
	iov         [][]byte
	wbuf        []byte // small records, encoded
	runStart    int    // start in wbuf of the records not yet in iov
	failed      error  // a write failure to report after appendMu
	// mappedAppends counts writes made by copying into the mapped tail.
	mappedAppends atomic.Int64
	// mappedHeaderReads counts record headers read from the mapped tail.
	mappedHeaderReads atomic.Int64

	idxMu     sync.RWMutex
	idx       *index
	columns   map[id.ID][]string // non-default columns of objects that have them
	files     *fileTable
	liveBytes atomic.Int64
	dirty     atomic.Bool // changes since the last snapshot

	commit   committer
	ups      uploads // uploads in progress (upload.go)
	readOnly atomic.Bool
	roMu     sync.Mutex
	roReason string

	defrag defragState

	closed    atomic.Bool
	stop      chan struct{}
	bg        sync.WaitGroup
	snapMu    sync.Mutex // one snapshot writer at a time
	snapReq   chan struct{}
	lastSnapN atomic.Int64 // objects in the last snapshot, for stats
	// digests are the range hashes (digest.go), changed under idxMu.
	digests *digest.Table
}

var (
	_ backend.Backend        = (*Backend)(nil)
	_ backend.ReadOnlySetter = (*Backend)(nil)
	_ backend.Defragmenter   = (*Backend)(nil)
)

// Open opens (creating if needed) the blob backend in dir.
func Open(dir string, opts Options) (*Backend, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	b := &Backend{
		dir:     dir,
		opts:    opts,
		fs:      opts.FS,
		log:     opts.Logger.With(zap.String("blob", dir)),
		columns: map[id.ID][]string{},
		files:   newFileTable(),
		stop:    make(chan struct{}),
		snapReq: make(chan struct{}, 1),
		digests: digest.NewTable(),
	}
	b.commit.init(b)
	if err := b.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("blob %s: create directory: %w", dir, err)
	}
	start := time.Now()
	replayed, err := b.load()
	if err != nil {
		b.closeFiles()
		return nil, err
	}
	b.log.Info("blob backend opened", zap.Int("objects", b.idx.live), zap.Int("files", len(b.files.bySlot)),
		zap.Int("replayed_records", replayed), zap.Duration("took", time.Since(start)))
	b.bg.Add(2)
	go b.background()
	go b.rebuildDigests()
	if replayed > 0 {
		b.requestSnapshot()
	}
	return b, nil
}

func (b *Backend) stripe(oid id.ID) *sync.Mutex {
	return b.stripeOf(xxhash.Sum64(oid[:]))
}

// stripeOf is stripe for an ID whose hash (xxhash64 of the ID, which is
// also keyHash(oid, "")) is known.
func (b *Backend) stripeOf(idHash uint64) *sync.Mutex {
	return &b.stripes[idHash%stripes]
}

func (b *Backend) check(ctx context.Context) error {
	if b.closed.Load() {
		return status.Errorf(status.ShuttingDown, "blob %s closed", b.dir)
	}
	return ctx.Err()
}

func (b *Backend) checkWritable() error {
	if b.readOnly.Load() {
		b.roMu.Lock()
		reason := b.roReason
		b.roMu.Unlock()
		if reason == "" {
			reason = "set by operator"
		}
		return status.Errorf(status.ReadOnly, "blob %s is read-only: %s", b.dir, reason)
	}
	return nil
}

// SetReadOnly implements backend.ReadOnlySetter. Making the backend
// writable after a failure starts a fresh data file, so nothing is ever
// appended after bytes whose state is unknown.
func (b *Backend) SetReadOnly(ro bool) {
	b.roMu.Lock()
	defer b.roMu.Unlock()
	if ro {
		b.readOnly.Store(true)
		return
	}
	if !b.readOnly.Load() {
		return
	}
	if b.roReason != "" {
		b.swapMu.RLock()
		b.appendMu.Lock()
		err := b.rotateLocked()
		b.appendMu.Unlock()
		b.swapMu.RUnlock()
		if err != nil {
			b.log.Error("cannot leave read-only mode: new data file", zap.Error(err))
			return
		}
		b.commit.reset()
	}
	b.roReason = ""
	b.readOnly.Store(false)
	b.log.Info("blob backend writable again")
}

// fail turns the backend read-only after a write failure, logging why once.
func (b *Backend) fail(err error) {
	b.roMu.Lock()
	defer b.roMu.Unlock()
	if b.readOnly.Load() && b.roReason != "" {
		return
	}
	b.roReason = err.Error()
	b.readOnly.Store(true)
	b.log.Error("blob backend is now read-only after a write failure; free space or fix the disk, then make it writable",
		zap.Error(err))
}

// ioError maps a file system error to a status error with context.
func ioError(what string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return status.Errorf(status.NoSpace, "%s: %v", what, err)
	case errors.Is(err, syscall.EROFS):
		return status.Errorf(status.ReadOnly, "%s: %v", what, err)
	}
	var se *status.Error
	if errors.As(err, &se) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return status.Errorf(status.IOError, "%s: %v", what, err)
}

// found is a located record.
type found struct {
	loc  location
	file *dataFile
	hdr  header
}

// lookup finds the live record of (oid, column). The caller holds swapMu.
func (b *Backend) lookup(oid id.ID, column string) (found, bool, error) {
	return b.lookupHash(oid, column, keyHash(oid, column))
}

// lookupHash is lookup with h = keyHash(oid, column) known.
func (b *Backend) lookupHash(oid id.ID, column string, h uint64) (found, bool, error) {
	type cand struct {
		loc  location
		file *dataFile
	}
	var cands [4]cand
	cs := cands[:0]
	b.idxMu.RLock()
	b.idx.candidates(h, func(l location) bool {
		cs = append(cs, cand{l, b.files.bySlot[l.file]})
		return false
	})
	b.idxMu.RUnlock()
	for _, c := range cs {
		if c.file == nil {
			return found{}, false, status.Errorf(status.Corrupt, "blob %s: index points at missing file slot %d", b.dir, c.loc.file)
		}
		hdr, err := b.readHeader(c.file, c.loc.off)
		if err != nil {
			return found{}, false, err
		}
		if hdr.id == oid && hdr.column == column {
			return found{loc: c.loc, file: c.file, hdr: hdr}, true, nil
		}
	}
	return found{}, false, nil
}

// headerBufs holds readHeader's buffers: passed to a vfs.File (an
// interface) a stack array escapes, and every write reads the header of the
// record it replaces, so that would be an allocation per write.
var headerBufs = sync.Pool{New: func() any { return new([headerSize + maxColumnLen]byte) }}

// readHeader reads and verifies the record header at off.
func (b *Backend) readHeader(f *dataFile, off uint64) (header, error) {
	buf := headerBufs.Get().(*[headerSize + maxColumnLen]byte)
	defer headerBufs.Put(buf)
	var n int
	mapped := false
	if t := f.mapped.Load(); t != nil {
		n, mapped = t.readAt(buf[:], off)
	}
	if mapped {
		b.mappedHeaderReads.Add(1)
	} else {
		var err error
		n, err = f.f.ReadAt(buf[:], int64(off))
		if err != nil && !errors.Is(err, io.EOF) {
			return header{}, ioError(fmt.Sprintf("blob %s: read header at %d", f.path, off), err)
		}
	}
	hdr, err := decodeHeader(buf[:n])
	if err != nil {
		return header{}, status.Errorf(status.Corrupt, "blob %s: record at %d: %v", f.path, off, err)
	}
	if hdr.reserved() {
		if err := b.overlay(f, off, &hdr); err != nil {
			return header{}, err
		}
	}
	return hdr, nil
}

// readStored reads the stored bytes of a plain record (fd.hdr.diskSize of
// them) into buf and verifies their checksum.
func (b *Backend) readStored(fd found, buf []byte) ([]byte, error) {
	if _, err := fd.file.f.ReadAt(buf, int64(fd.loc.off+fd.hdr.dataOffset())); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, status.Errorf(status.Corrupt, "blob %s: record at %d cut short", fd.file.path, fd.loc.off)
		}
		return nil, ioError(fmt.Sprintf("blob %s: read record at %d", fd.file.path, fd.loc.off), err)
	}
	if xxhash.Sum64(buf) != fd.hdr.dataCsum {
		return nil, status.Errorf(status.Corrupt, "blob %s: record at %d (key %s): data checksum mismatch",
			fd.file.path, fd.loc.off, fd.hdr.id.Short())
	}
	return buf, nil
}

// readData reads and verifies the data of a record and decompresses it.
func (b *Backend) readData(fd found) ([]byte, error) {
	if fd.hdr.reserved() {
		data := make([]byte, fd.hdr.dataSize)
		err := b.eachPiece(fd, func(pos uint64, p []byte) error { copy(data[pos:], p); return nil })
		return data, err
	}
	stored, err := b.readStored(fd, make([]byte, fd.hdr.diskSize))
	if err != nil {
		return nil, err
	}
	if fd.hdr.flags&recordCompressed == 0 {
		return stored, nil
	}
	data, err := snappy.Decode(make([]byte, 0, fd.hdr.dataSize), stored)
	if err != nil || uint64(len(data)) != fd.hdr.dataSize {
		return nil, status.Errorf(status.Corrupt, "blob %s: record at %d: bad compressed data", fd.file.path, fd.loc.off)
	}
	return data, nil
}

func metaOf(h *header) backend.Meta {
	return backend.Meta{Size: h.dataSize, Timestamp: h.time(), UserFlags: h.userFlags, Expire: h.expireTime()}
}

// Write implements backend.Backend.
func (b *Backend) Write(ctx context.Context, req *backend.WriteRequest) (backend.Meta, error) {
	if err := b.check(ctx); err != nil {
		return backend.Meta{}, err
	}
	if err := b.checkWritable(); err != nil {
		return backend.Meta{}, err
	}
	if len(req.Column) > maxColumnLen {
		return backend.Meta{}, status.Errorf(status.TooLarge, "column name of %d bytes over the limit of %d", len(req.Column), maxColumnLen)
	}
	// One hash of the ID serves the stripe and, for the default column,
	// the index.
	idHash := xxhash.Sum64(req.ID[:])
	h := idHash
	if req.Column != "" {
		h = keyHash(req.ID, req.Column)
	}
	mu := b.stripeOf(idHash)
	mu.Lock()
	defer mu.Unlock()
	b.swapMu.RLock()
	defer b.swapMu.RUnlock()
	if b.opts.Sync == SyncAlways {
		// Counted only once nothing but the append can block it.
		b.commit.enter()
		defer b.commit.leave()
	}

	// A candidate whose header fails its checksum cannot be matched to a key,
	// so even a plain overwrite stops there rather than risk two index
	// entries for one key.
	old, exists, err := b.lookupHash(req.ID, req.Column, h)
	if err != nil {
		return backend.Meta{}, err
	}
	if req.Phased() && (req.Prepare || !exists || old.hdr.reserved()) {
		return b.writePhased(req, h, old, exists)
	}
	if plan, ok := b.planRewrite(req, old, exists); ok {
		return b.rewrite(req, h, old, exists, plan)
	}
	var prev backend.Previous
	if exists && !old.hdr.expired(time.Now()) {
		prev = backend.Previous{Exists: true, Pending: old.hdr.uncommitted(), Expire: old.hdr.expireTime()}
		// An upload in progress is no base for a write (Compose starts
		// afresh), and its blocks have no checksums yet.
		if req.NeedsPrevious() && !(prev.Pending && old.hdr.reserved()) {
			if prev.Data, err = b.readData(old); err != nil {
				return backend.Meta{}, err
			}
		}
	}
	out, err := backend.Compose(prev, req, MaxFileSize)
	if err != nil {
		return backend.Meta{}, err
	}
	data := out.Data
	ts := req.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	hdr := header{id: req.ID, column: req.Column, timestamp: ts.UnixNano(), userFlags: req.UserFlags,
		dataSize: uint64(len(data))}
	if !out.Expire.IsZero() {
		hdr.expire = max(out.Expire.UnixNano(), 1) // 0 would mean never
	}
	if out.Pending {
		hdr.flags |= recordUncommitted
	}
	stored := data
	if b.opts.Compress && len(data) > 64 {
		if c := snappy.Encode(nil, data); len(c) < len(data) {
			stored = c
			hdr.flags |= recordCompressed
		}
	}
	hdr.diskSize = uint64(len(stored))
	hdr.dataCsum = xxhash.Sum64(stored)
	loc, f, err := b.appendRecord(&hdr, stored)
	if err != nil {
		return backend.Meta{}, err
	}

	b.publish(h, old, exists, loc, f, &hdr)
	return metaOf(&hdr), nil
}

// addColumn records a non-default column of an object. Caller holds idxMu.
func (b *Backend) addColumn(oid id.ID, column string) {
	for _, c := range b.columns[oid] {
		if c == column {
			return
		}
	}
	b.columns[oid] = append(b.columns[oid], column)
}

// dropColumn forgets a non-default column. Caller holds idxMu.
func (b *Backend) dropColumn(oid id.ID, column string) {
	cs := b.columns[oid]
	for i, c := range cs {
		if c == column {
			cs = append(cs[:i:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(b.columns, oid)
	} else {
		b.columns[oid] = cs
	}
}

// rotateLocked closes the active file for writing and starts the next one.
// The caller holds appendMu.
func (b *Backend) rotateLocked() error {
	old := b.active
	if old != nil && b.opts.Sync != SyncNone {
		if err := old.f.Datasync(); err != nil {
			return err
		}
	}
	var number uint64 = 1
	if old != nil {
		number = old.number + 1
	}
	b.idxMu.Lock()
	slot, err := b.files.alloc()
	b.idxMu.Unlock()
	if err != nil {
		return err
	}
	f, err := b.createFile(slot, number, 0)
	if err != nil {
		b.idxMu.Lock()
		b.files.free = append(b.files.free, slot)
		b.idxMu.Unlock()
		return err
	}
	b.idxMu.Lock()
	b.files.add(f)
	b.idxMu.Unlock()
	b.active = f
	f.tail = b.mapTail(f)
	if old != nil {
		b.unmapTail(old)
		b.requestSnapshot()
	}
	return nil
}

// unmapTail ends f's mapped appends, if it has them, cutting the file to
// its log. A failure leaves zeros past the log, which the next Open cuts
// off, so it is only logged. The caller holds appendMu.
func (b *Backend) unmapTail(f *dataFile) {
	if f.tail == nil {
		return
	}
	if err := f.tail.close(f.size.Load()); err != nil {
		b.log.Warn("cannot close the mapped tail", zap.Error(err))
	}
	f.tail = nil
}

func (b *Backend) createFile(slot uint16, number uint64, gen uint32) (*dataFile, error) {
	path := b.filePath(number, gen)
	fh, err := b.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	if err := b.fs.SyncDir(b.dir); err != nil {
		fh.Close()
		_ = b.fs.Remove(path)
		return nil, err
	}
	return &dataFile{slot: slot, number: number, gen: gen, f: fh, path: path}, nil
}

// Read implements backend.Backend.
func (b *Backend) Read(ctx context.Context, key backend.Key, offset, size uint64) ([]byte, backend.Meta, error) {
	if err := b.check(ctx); err != nil {
		return nil, backend.Meta{}, err
	}
	b.swapMu.RLock()
	defer b.swapMu.RUnlock()
	fd, meta, end, err := b.readable(key, offset, size)
	if err != nil {
		return nil, meta, err
	}
	data, err := b.readRange(fd, offset, end)
	if err != nil {
		return nil, meta, err
	}
	return data, meta, nil
}

// readable finds the live record of key and the end of the part of its
// value a read of size bytes at offset covers (size 0: to the end). The
// caller holds swapMu shared.
func (b *Backend) readable(key backend.Key, offset, size uint64) (found, backend.Meta, uint64, error) {
	fd, ok, err := b.lookup(key.ID, key.Column)
	if err != nil {
		return found{}, backend.Meta{}, 0, err
	}
	if !ok || !fd.hdr.visible(time.Now()) {
		return found{}, backend.Meta{}, 0, status.Errorf(status.NotFound, "key %s column %q", key.ID.Short(), key.Column)
	}
	meta := metaOf(&fd.hdr)
	total := fd.hdr.dataSize
	if offset > total {
		return found{}, meta, 0, status.Errorf(status.Invalid, "offset %d past the end (%d bytes)", offset, total)
	}
	end := total
	if size != 0 && offset+size < end && offset+size > offset {
		end = offset + size
	}
	return fd, meta, end, nil
}

// Lookup implements backend.Backend. The header checksum is always
// verified; with Checksum the data is read, verified and hashed too.
func (b *Backend) Lookup(ctx context.Context, key backend.Key, opts backend.LookupOptions) (backend.Info, error) {
	if err := b.check(ctx); err != nil {
		return backend.Info{}, err
	}
	b.swapMu.RLock()
	defer b.swapMu.RUnlock()
	fd, ok, err := b.lookup(key.ID, key.Column)
	if err != nil {
		return backend.Info{}, err
	}
	if !ok || !fd.hdr.visible(time.Now()) {
		return backend.Info{}, status.Errorf(status.NotFound, "key %s column %q", key.ID.Short(), key.Column)
	}
	info := backend.Info{Meta: metaOf(&fd.hdr), Path: fmt.Sprintf("%s:%d", fd.file.path, fd.loc.off)}
	if opts.Checksum {
		d := sha512.New()
		if err := b.eachPiece(fd, func(_ uint64, p []byte) error { d.Write(p); return nil }); err != nil {
			return backend.Info{}, err
		}
		d.Sum(info.Checksum[:0])
	}
	return info, nil
}

// Columns implements backend.ColumnLister: the default column and the
// named ones the index knows of the object.
func (b *Backend) Columns(ctx context.Context, oid id.ID) ([]string, error) {
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	b.idxMu.RLock()
	defer b.idxMu.RUnlock()
	return append([]string{""}, b.columns[oid]...), nil
}

// Remove implements backend.Backend: it appends a tombstone.
func (b *Backend) Remove(ctx context.Context, oid id.ID, opts backend.RemoveOptions) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	if err := b.checkWritable(); err != nil {
		return err
	}
	mu := b.stripe(oid)
	mu.Lock()
	defer mu.Unlock()
	b.swapMu.RLock()
	defer b.swapMu.RUnlock()
	if b.opts.Sync == SyncAlways {
		b.commit.enter()
		defer b.commit.leave()
	}

	columns := []string{opts.Column}
	if !opts.OnlyColumn {
		b.idxMu.RLock()
		columns = append([]string{""}, b.columns[oid]...)
		b.idxMu.RUnlock()
	}
	var gone []found
	for _, c := range columns {
		fd, ok, err := b.lookup(oid, c)
		if err != nil {
			return err
		}
		if ok {
			gone = append(gone, fd)
		}
	}
	if len(gone) == 0 {
		if opts.OnlyColumn {
			return status.Errorf(status.NotFound, "key %s column %q", oid.Short(), opts.Column)
		}
		return status.Errorf(status.NotFound, "key %s", oid.Short())
	}
	hdr := header{id: oid, flags: recordRemoved, timestamp: time.Now().UnixNano(), dataCsum: xxhash.Sum64(nil)}
	if opts.OnlyColumn {
		hdr.column = opts.Column
	} else {
		hdr.flags |= recordAllColumns
	}
	if _, _, err := b.appendRecord(&hdr, nil); err != nil {
		return err
	}
	b.idxMu.Lock()
	for _, fd := range gone {
		if fd.hdr.reserved() {
			b.ups.forget(fd.loc)
		}
		b.idx.remove(keyHash(oid, fd.hdr.column), fd.loc)
		b.digests.Sub(oid, recordHash(&fd.hdr))
		fd.file.live.Add(-int64(fd.hdr.size()))
		b.liveBytes.Add(-int64(fd.hdr.dataSize))
		if fd.hdr.column != "" {
			b.dropColumn(oid, fd.hdr.column)
		}
	}
	b.idxMu.Unlock()
	b.dirty.Store(true)
	return nil
}

// Iterate implements backend.Backend. It reads the headers of the records
// in range (in file order, so mostly sequentially), sorts them and then
// calls fn without holding any lock.
func (b *Backend) Iterate(ctx context.Context, opts backend.IterateOptions, fn func(backend.Record) error) error {
	if err := b.check(ctx); err != nil {
		return err
	}
	end := opts.End
	if end.IsZero() {
		end = id.Max
	}
	now := time.Now()
	recs, err := b.collect(ctx, func(h *header) bool {
		return !h.id.Less(opts.Start) && !end.Less(h.id) && h.visible(now)
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Stats implements backend.Backend.
func (b *Backend) Stats() backend.Stats {
	b.idxMu.RLock()
	records := b.idx.live
	files := len(b.files.bySlot)
	var disk, live uint64
	for _, f := range b.files.bySlot {
		disk += f.size.Load()
		live += uint64(max(f.live.Load(), 0))
	}
	idxMem := b.idx.memory()
	b.idxMu.RUnlock()
	b.roMu.Lock()
	reason := b.roReason
	b.roMu.Unlock()
	ds := b.DefragStatus()
	return backend.Stats{
		Records:  uint64(records),
		Bytes:    uint64(max(b.liveBytes.Load(), 0)),
		ReadOnly: b.readOnly.Load(),
		Extra: map[string]any{
			"type":                "blob",
			"dir":                 b.dir,
			"data_files":          files,
			"disk_bytes":          disk,
			"dead_bytes":          disk - min(live, disk),
			"index_bytes":         idxMem,
			"read_only_reason":    reason,
			"defrag_running":      ds.Running,
			"defrag_reclaimed":    ds.Reclaimed,
			"snapshot_objects":    b.lastSnapN.Load(),
			"group_syncs":         b.commit.syncs.Load(),
			"mapped_appends":      b.mappedAppends.Load(),
			"mapped_header_reads": b.mappedHeaderReads.Load(),
			"sync":                [...]string{"always", "interval", "none"}[b.opts.Sync],
			"compress":            b.opts.Compress,
			"index_bytes_per_o":   perObject(idxMem, records),
		},
	}
}

func perObject(mem, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(mem) / float64(n)
}

// Close implements backend.Backend: it stops background work, writes a
// final snapshot and closes the files.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.stop)
	b.stopDefragAndWait()
	b.bg.Wait()
	var err error
	b.appendMu.Lock()
	if b.active != nil {
		b.unmapTail(b.active)
		if b.opts.Sync != SyncNone {
			err = b.active.f.Datasync()
		}
	}
	b.appendMu.Unlock()
	if serr := b.writeSnapshot(); serr != nil {
		err = errors.Join(err, serr)
	}
	if cerr := b.closeFiles(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

func (b *Backend) closeFiles() error {
	var err error
	for _, f := range b.files.bySlot {
		if cerr := f.f.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// background runs interval fsyncs and periodic or requested snapshots.
func (b *Backend) background() {
	defer b.bg.Done()
	var syncTick <-chan time.Time
	if b.opts.Sync == SyncInterval {
		t := time.NewTicker(b.opts.SyncInterval)
		defer t.Stop()
		syncTick = t.C
	}
	snapTick := time.NewTicker(b.opts.SnapshotInterval)
	defer snapTick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-syncTick:
			b.appendMu.Lock()
			f := b.active
			b.appendMu.Unlock()
			if err := f.f.Datasync(); err != nil {
				b.fail(ioError(fmt.Sprintf("blob %s: interval fsync", f.path), err))
			}
		case <-snapTick.C:
			if b.dirty.Load() {
				b.snapshotLogged()
			}
		case <-b.snapReq:
			b.snapshotLogged()
		}
	}
}

func (b *Backend) requestSnapshot() {
	select {
	case b.snapReq <- struct{}{}:
	default:
	}
}

// snapshotLogged writes a snapshot unless another writer (a running
// defragmentation) holds snapMu; that writer's own snapshots cover the
// state, and the dirty flag brings this one back at the next tick.
func (b *Backend) snapshotLogged() {
	if !b.snapMu.TryLock() {
		return
	}
	defer b.snapMu.Unlock()
	if err := b.storeSnapshot(b.takeSnapshot()); err != nil {
		b.log.Warn("index snapshot failed; the next start replays more of the log", zap.Error(err))
	}
}

// publish points the index at a record just written (replacing old when the
// key existed) and moves the live-byte accounting from the old record to the
// new one. An upload the new record replaces is forgotten.
func (b *Backend) publish(h uint64, old found, exists bool, loc location, f *dataFile, hdr *header) {
	b.idxMu.Lock()
	b.indexLocked(h, old, exists, loc, f, hdr)
	b.idxMu.Unlock()
	b.dirty.Store(true)
	if exists && old.hdr.reserved() {
		b.ups.forget(old.loc)
	}
}

// indexLocked points the index at the record hdr at loc in f, replacing old
// when the key existed, and moves the live-byte accounting from the old
// record to the new one. b.idxMu is held, or the backend is replaying its
// log before anyone else can see it.
func (b *Backend) indexLocked(h uint64, old found, exists bool, loc location, f *dataFile, hdr *header) {
	var was uint64
	if exists {
		was = recordHash(&old.hdr)
	}
	b.digests.Replace(hdr.id, was, recordHash(hdr))
	if exists {
		b.idx.replace(h, old.loc, loc)
		old.file.live.Add(-int64(old.hdr.size()))
		b.liveBytes.Add(-int64(old.hdr.dataSize))
	} else {
		b.idx.insert(h, loc)
		if hdr.column != "" {
			b.addColumn(hdr.id, hdr.column)
		}
	}
	f.live.Add(int64(hdr.size()))
	b.liveBytes.Add(int64(hdr.dataSize))
}
