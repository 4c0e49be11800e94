package main

/*
#include "capi_types.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// maxFileChunk bounds ell_file_options.chunk_size: one chunk is one request
// and about the memory a transfer holds.
const maxFileChunk = 1 << 30

// fileOpts is an ell_file_options in Go terms.
type fileOpts struct {
	stream      client.StreamOptions
	localOffset uint64
	size        uint64
	// stopped is the code a progress callback stopped the transfer with
	// (0: it did not).
	stopped atomic.Int32
}

// goFileOpts copies and checks opts (NULL: all zero). A progress callback
// that stops the transfer records its code in stopped (see run).
func goFileOpts(opts *C.ell_cfile_options, what string) (*fileOpts, error) {
	fo := &fileOpts{}
	if opts == nil {
		return fo, nil
	}
	if opts.ttl_ms < 0 {
		return nil, status.Errorf(status.Invalid, "%s: negative ttl_ms %d", what, int64(opts.ttl_ms))
	}
	if int64(opts.ttl_ms) > math.MaxInt64/int64(time.Millisecond) {
		return nil, status.Errorf(status.Invalid, "%s: ttl_ms %d out of range", what, int64(opts.ttl_ms))
	}
	if opts.chunk_size > maxFileChunk {
		return nil, status.Errorf(status.Invalid, "%s: chunk_size %d is over %d", what, uint64(opts.chunk_size), maxFileChunk)
	}
	fo.stream = client.StreamOptions{
		Chunk:  int(opts.chunk_size),
		Offset: uint64(opts.offset),
		TTL:    ms(opts.ttl_ms),
	}
	fo.localOffset = uint64(opts.local_offset)
	fo.size = uint64(opts.size)
	if opts.progress != nil {
		fn, ud := opts.progress, opts.userdata
		fo.stream.Progress = func(done, total uint64) {
			if fo.stopped.Load() != 0 {
				return
			}
			if rc := C.ell_call_progress(fn, ud, C.uint64_t(done), C.uint64_t(total)); rc != C.ELL_OK {
				code := int32(rc)
				if code > 0 {
					code = int32(C.ELL_EINVAL)
				}
				fo.stopped.Store(code)
			}
		}
	}
	return fo, nil
}

// run runs a transfer with a context that the progress callback cancels
// when it stops it; the error is then the callback's code, unless the
// transfer had completed anyway.
func (fo *fileOpts) run(ctx context.Context, what string, transfer func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p := fo.stream.Progress; p != nil {
		fo.stream.Progress = func(done, total uint64) {
			p(done, total)
			if fo.stopped.Load() != 0 {
				cancel()
			}
		}
	}
	err := transfer(ctx)
	if code := fo.stopped.Load(); code != 0 && err != nil {
		return status.Errorf(status.Code(code), "%s: the progress callback stopped the transfer with %d", what, code)
	}
	return err
}

// goPath copies a NUL-terminated path.
func goPath(path *C.ell_cchar, what string) (string, error) {
	if path == nil {
		return "", status.Errorf(status.Invalid, "%s: path is NULL", what)
	}
	p := C.GoString((*C.char)(unsafe.Pointer(path)))
	if p == "" {
		return "", status.Errorf(status.Invalid, "%s: empty path", what)
	}
	return p, nil
}

// openSource opens the file a write sends and returns a reader of the
// bytes to send and their count; the caller closes the file.
func openSource(path string, fo *fileOpts) (*os.File, io.Reader, uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("ell_session_write_file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("ell_session_write_file: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, nil, 0, status.Errorf(status.Invalid, "ell_session_write_file: %s is a directory", path)
	}
	// A regular file's size bounds the slice; other files (a pipe) are read
	// as they come and need an explicit size.
	size := fo.size
	if st.Mode().IsRegular() {
		have := uint64(st.Size())
		if fo.localOffset > have {
			f.Close()
			return nil, nil, 0, status.Errorf(status.Invalid, "ell_session_write_file: local_offset %d is past the end of %s (%d bytes)",
				fo.localOffset, path, have)
		}
		if size == 0 {
			size = have - fo.localOffset
		}
		if size > have-fo.localOffset {
			f.Close()
			return nil, nil, 0, status.Errorf(status.Invalid, "ell_session_write_file: %s has %d bytes from local_offset %d, not %d",
				path, have-fo.localOffset, fo.localOffset, size)
		}
		if fo.localOffset > math.MaxInt64 || size > math.MaxInt64 {
			f.Close()
			return nil, nil, 0, status.Errorf(status.Invalid, "ell_session_write_file: local_offset or size out of range")
		}
		return f, io.NewSectionReader(f, int64(fo.localOffset), int64(size)), size, nil
	}
	if size == 0 || fo.localOffset != 0 {
		f.Close()
		return nil, nil, 0, status.Errorf(status.Invalid, "ell_session_write_file: %s is not a regular file: it needs a size and local_offset 0", path)
	}
	return f, io.LimitReader(f, int64(min(size, math.MaxInt64))), size, nil
}

// fileArgs checks and converts the arguments the file calls share; ok is
// false when rc is the call's error.
func fileArgs(key *C.ell_ckey, path *C.ell_cchar, opts *C.ell_cfile_options, out *C.ell_async_t, err *C.ell_error,
	what string) (k client.Key, p string, fo *fileOpts, rc C.int32_t, ok bool) {
	if rc, ok := prologue(out, err, what); !ok {
		return k, p, nil, rc, false
	}
	k, e := oneKey(key)
	if e == nil {
		p, e = goPath(path, what)
	}
	if e == nil {
		fo, e = goFileOpts(opts, what)
	}
	if e != nil {
		return k, p, nil, fail(err, e), false
	}
	return k, p, fo, C.ELL_OK, true
}

//export ell_session_write_file
func ell_session_write_file(h C.ell_session_t, key *C.ell_ckey, path *C.ell_cchar, opts *C.ell_cfile_options,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	const what = "ell_session_write_file"
	k, p, fo, rc, ok := fileArgs(key, path, opts, out, err, what)
	if !ok {
		return rc
	}
	// Opened here, not in the operation: a file that cannot be read is the
	// call's own error, before anything is sent.
	f, r, size, e := openSource(p, fo)
	if e != nil {
		return fail(err, e)
	}
	rc = start(h, done, out, err, func(ctx context.Context, s *client.Session, _ C.int32_t, em *emitter) error {
		defer f.Close()
		var res client.Result
		e := fo.run(ctx, what, func(ctx context.Context) error {
			var e error
			res, e = s.WriteFrom(ctx, k, r, size, fo.stream)
			return e
		})
		em.emitResult(res)
		return e
	})
	if rc != C.ELL_OK {
		f.Close() // the operation never started
	}
	return rc
}

// sink is the file a read writes: truncated at the first chunk, so that a
// read that finds nothing leaves the file as it was.
type sink struct {
	f       *os.File
	started bool
	n       uint64
}

func (w *sink) Write(b []byte) (int, error) {
	if !w.started {
		if err := w.f.Truncate(0); err != nil {
			return 0, fmt.Errorf("truncate %s: %w", w.f.Name(), err)
		}
		w.started = true
	}
	n, err := w.f.Write(b)
	w.n += uint64(n)
	return n, err
}

//export ell_session_read_file
func ell_session_read_file(h C.ell_session_t, key *C.ell_ckey, path *C.ell_cchar, opts *C.ell_cfile_options,
	done *C.ell_ccompletion, out *C.ell_async_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	const what = "ell_session_read_file"
	k, p, fo, rc, ok := fileArgs(key, path, opts, out, err, what)
	if !ok {
		return rc
	}
	if fo.localOffset != 0 {
		return invalid(err, "%s: local_offset must be 0 (the file is written from its start)", what)
	}
	fo.stream.Size = fo.size
	// Opened here, not in the operation: a path that cannot be written is
	// the call's own error. O_EXCL first tells whether the call made it.
	created := true
	f, e := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(e, os.ErrExist) {
		created = false
		f, e = os.OpenFile(p, os.O_WRONLY, 0)
	}
	if e != nil {
		return fail(err, fmt.Errorf("%s: %w", what, e))
	}
	// discard undoes the call's trace when nothing was read.
	discard := func() {
		f.Close()
		if created {
			os.Remove(p)
		}
	}
	rc = start(h, done, out, err, func(ctx context.Context, s *client.Session, filter C.int32_t, em *emitter) error {
		w := &sink{f: f}
		var first client.Entry
		e := fo.run(ctx, what, func(ctx context.Context) error {
			var e error
			first, e = s.ReadTo(ctx, k, w, fo.stream)
			return e
		})
		if e == nil {
			// An empty object never calls Write: the file is cut here.
			if err := f.Truncate(int64(w.n)); err != nil {
				e = fmt.Errorf("%s: truncate %s: %w", what, p, err)
			}
		}
		if err := f.Close(); err != nil && e == nil {
			e = fmt.Errorf("%s: close %s: %w", what, p, err)
		}
		if e != nil && !w.started && created {
			os.Remove(p)
		}
		first.Data = nil
		first.Offset = fo.stream.Offset
		first.Size = w.n
		switch {
		case e == nil && filter != C.ELL_FILTER_NEGATIVE:
			em.emit(&first, 0)
		case e != nil && filter != C.ELL_FILTER_POSITIVE && first.Group != 0:
			em.emit(&first, 0)
		}
		return e
	})
	if rc != C.ELL_OK {
		discard() // the operation never started
	}
	return rc
}
