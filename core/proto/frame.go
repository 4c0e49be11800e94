package proto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/elliptics/elliptics/core/status"
)

// DefaultMaxPayload is the default limit on a frame's payload: large enough
// for a 128 MiB object in one WRITE, small enough that a hostile peer cannot
// make a node allocate without bound. Bigger objects go in chunks.
const DefaultMaxPayload = 160 << 20

// readChunk bounds the memory committed to a payload before its bytes have
// actually arrived, so a header that claims a huge size and then stalls costs
// little. A 1 MiB value and its io attr fit in one.
const readChunk = 1<<20 + 4<<10

// firstChunks holds the buffers the first readChunk bytes of big payloads
// arrive in, reused: zeroing a fresh megabyte per big read cost as much as
// copying it.
var firstChunks = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

// ErrFrameTooLarge is returned by Reader.Next, together with the decoded
// header, when a frame's payload exceeds the reader's limit. The stream
// cannot be resynchronised afterwards; the caller replies and closes.
var ErrFrameTooLarge = status.ErrTooLarge

// Reader reads frames from a stream.
type Reader struct {
	br         *bufio.Reader
	maxPayload uint64
	hdr        [HeaderSize]byte
}

// NewReader returns a Reader that refuses payloads over maxPayload bytes
// (0 means DefaultMaxPayload).
func NewReader(r io.Reader, maxPayload uint64) *Reader {
	if maxPayload == 0 {
		maxPayload = DefaultMaxPayload
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &Reader{br: br, maxPayload: maxPayload}
}

// Next reads one frame. It returns io.EOF on a clean end of stream between
// frames, io.ErrUnexpectedEOF on a frame cut short, a status.ErrProtocol
// error for a malformed header and ErrFrameTooLarge (with the header) for a
// payload over the limit.
func (r *Reader) Next() (Header, []byte, error) {
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return Header{}, nil, err
	}
	h, err := DecodeHeader(r.hdr[:])
	if err != nil {
		return h, nil, err
	}
	if h.Size > r.maxPayload {
		return h, nil, fmt.Errorf("frame %s trans %d: payload of %d bytes over the limit of %d: %w",
			h.Cmd, h.Trans, h.Size, r.maxPayload, ErrFrameTooLarge)
	}
	if h.Size == 0 {
		return h, nil, nil
	}
	payload, err := readPayload(r.br, int(h.Size))
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, fmt.Errorf("frame %s trans %d: payload: %w", h.Cmd, h.Trans, err)
	}
	return h, payload, nil
}

func readPayload(r io.Reader, size int) ([]byte, error) {
	if size <= readChunk {
		b := make([]byte, size)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	// The first chunk must arrive before the whole size is committed to;
	// then one allocation of the full size and one copy of that chunk
	// (growing by doubling cost up to twice the size and a copy per step).
	fp := firstChunks.Get().(*[]byte)
	defer firstChunks.Put(fp)
	first := *fp
	if _, err := io.ReadFull(r, first); err != nil {
		return nil, err
	}
	b := make([]byte, size)
	copy(b, first)
	_, err := io.ReadFull(r, b[readChunk:])
	return b, err
}

// AppendFrame appends the encoding of h followed by the payload parts to dst.
// h.Size is set to the total payload length.
func AppendFrame(dst []byte, h Header, parts ...[]byte) []byte {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	h.Size = uint64(n)
	off := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	h.Encode(dst[off:])
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// WriteFrame writes one frame to w. It is not safe for concurrent use on the
// same writer.
func WriteFrame(w io.Writer, h Header, parts ...[]byte) error {
	var n int
	for _, p := range parts {
		n += len(p)
	}
	h.Size = uint64(n)
	var hb [HeaderSize]byte
	h.Encode(hb[:])
	if _, err := w.Write(hb[:]); err != nil {
		return err
	}
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}
