package route

import (
	"encoding/binary"
	"fmt"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Encoding of tables and backend lists, for the wire and for persistence.
// All integers are little-endian:
//
//	table    = format:u8 (=1) version:u64 count:u32 backend*count
//	backends = format:u8 (=1) count:u32 backend*count
//	backend  = addrlen:u16 addr:addrlen group:u32 id:i32 flags:u8 npoints:u16 point*npoints
//	point    = 64 bytes, the ID big-endian as everywhere
//
// flags bit 0 is read-only; other bits must be zero. addrlen is at most
// MaxAddrLen (255). A table is encoded in its canonical order (backends by
// address then ID, points ascending), so equal tables of equal version
// encode to equal bytes. Decoders accept any order, check every count
// against the Limits and the bytes remaining before allocating, refuse
// trailing bytes, and validate the result like New.

// encodingFormat is the first byte of every encoding.
const encodingFormat = 1

// minBackendLen is the size of the smallest encoded backend (empty address,
// no points: invalid, but parsed before it is refused with a clear error).
const minBackendLen = 2 + 4 + 4 + 1 + 2

const flagReadOnly = 1

// Limits bound what a decoder accepts. A zero field takes its default;
// MaxPoints above the package's MaxPoints has no effect (New refuses more).
type Limits struct {
	MaxBackends int // backends in a table or list; default 65536
	MaxPoints   int // ring points of one backend; default MaxPoints (4096)
}

// DefaultLimits are the limits a zero Limits stands for.
var DefaultLimits = Limits{MaxBackends: 1 << 16, MaxPoints: MaxPoints}

func (l Limits) withDefaults() Limits {
	if l.MaxBackends <= 0 {
		l.MaxBackends = DefaultLimits.MaxBackends
	}
	if l.MaxPoints <= 0 || l.MaxPoints > MaxPoints {
		l.MaxPoints = MaxPoints
	}
	return l
}

// AppendBinary appends the encoding of t (with its version) to dst and
// returns the extended slice.
func (t *Table) AppendBinary(dst []byte) []byte {
	dst = append(dst, encodingFormat)
	dst = binary.LittleEndian.AppendUint64(dst, t.version)
	return appendBackendList(dst, t.backends)
}

// EncodeBackends appends the encoding of a list of backends (one node's
// backends, for handshakes) to dst. The backends are checked like New
// (ErrInvalid, ErrConflict) and encoded in canonical order.
func EncodeBackends(dst []byte, bs []Backend) ([]byte, error) {
	t, err := New(bs)
	if err != nil {
		return dst, err
	}
	dst = append(dst, encodingFormat)
	return appendBackendList(dst, t.backends), nil
}

func appendBackendList(dst []byte, bs []Backend) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(bs)))
	for _, b := range bs {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(b.Addr)))
		dst = append(dst, b.Addr...)
		dst = binary.LittleEndian.AppendUint32(dst, b.Group)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(b.ID))
		var flags uint8
		if b.ReadOnly {
			flags |= flagReadOnly
		}
		dst = append(dst, flags)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(b.Points)))
		for i := range b.Points {
			dst = append(dst, b.Points[i][:]...)
		}
	}
	return dst
}

// DecodeTable parses a table encoded by AppendBinary. Malformed input gives
// an error matching status.ErrProtocol, counts over the limits one matching
// status.ErrTooLarge, and a table that New would refuse the same error as
// New (ErrInvalid, ErrConflict).
func DecodeTable(b []byte, limits Limits) (*Table, error) {
	d := decoder{b: b, what: "route table"}
	d.format()
	version := d.u64()
	bs := d.backends(limits.withDefaults())
	if err := d.done(); err != nil {
		return nil, err
	}
	return build(version, bs)
}

// DecodeBackends parses a backend list encoded by EncodeBackends, with the
// same errors as DecodeTable. The backends come back in canonical order.
func DecodeBackends(b []byte, limits Limits) ([]Backend, error) {
	d := decoder{b: b, what: "backend list"}
	d.format()
	bs := d.backends(limits.withDefaults())
	if err := d.done(); err != nil {
		return nil, err
	}
	t, err := build(0, bs)
	if err != nil {
		return nil, err
	}
	return t.backends, nil
}

// decoder reads little-endian fields; the first error sticks and every later
// read returns zero values.
type decoder struct {
	b    []byte
	off  int
	err  error
	what string
}

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = status.Errorf(status.Protocol, "%s: truncated at byte %d (need %d more, have %d)",
			d.what, d.off, n, len(d.b)-d.off)
		return false
	}
	return true
}

func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

func (d *decoder) u8() uint8 {
	if p := d.bytes(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.bytes(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.bytes(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.bytes(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) failf(c status.Code, format string, args ...any) {
	if d.err == nil {
		d.err = status.Errorf(c, "%s: %s", d.what, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) format() {
	if f := d.u8(); d.err == nil && f != encodingFormat {
		d.failf(status.Protocol, "encoding format %d, want %d", f, encodingFormat)
	}
}

func (d *decoder) backends(l Limits) []Backend {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(l.MaxBackends) {
		d.failf(status.TooLarge, "%d backends, at most %d", n, l.MaxBackends)
		return nil
	}
	if !d.need(int(n) * minBackendLen) {
		return nil
	}
	bs := make([]Backend, 0, n)
	for i := 0; i < int(n) && d.err == nil; i++ {
		var b Backend
		alen := int(d.u16())
		if alen > MaxAddrLen {
			d.failf(status.Protocol, "backend %d: address of %d bytes, at most %d", i, alen, MaxAddrLen)
			break
		}
		b.Addr = string(d.bytes(alen))
		b.Group = d.u32()
		b.ID = int32(d.u32())
		flags := d.u8()
		if flags&^flagReadOnly != 0 {
			d.failf(status.Protocol, "backend %d: unknown flags %#x", i, flags)
			break
		}
		b.ReadOnly = flags&flagReadOnly != 0
		np := int(d.u16())
		if np > l.MaxPoints {
			d.failf(status.TooLarge, "backend %s: %d points, at most %d", b.Name(), np, l.MaxPoints)
			break
		}
		raw := d.bytes(np * id.Size)
		if d.err != nil {
			break
		}
		b.Points = make([]id.ID, np)
		for j := range b.Points {
			copy(b.Points[j][:], raw[j*id.Size:])
		}
		nb, err := normalize(b, false)
		if err != nil {
			d.err = err
			break
		}
		bs = append(bs, nb)
	}
	return bs
}

func (d *decoder) done() error {
	if d.err == nil && d.off != len(d.b) {
		d.failf(status.Protocol, "%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}
