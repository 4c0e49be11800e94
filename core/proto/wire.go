package proto

import (
	"encoding/binary"

	"github.com/elliptics/elliptics/core/status"
)

// enc appends little-endian fields to a byte slice.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) raw(p []byte) { e.b = append(e.b, p...) }

// str16 writes a string with a u16 length prefix; callers check the length.
func (e *enc) str16(s string) { e.u16(uint16(len(s))); e.b = append(e.b, s...) }

// dec reads little-endian fields; the first short read sets err and every
// later read returns zero values, so decoders check err once at the end.
type dec struct {
	b    []byte
	off  int
	err  error
	what string
}

func (d *dec) need(n int) bool {
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

func (d *dec) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *dec) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v
}

func (d *dec) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *dec) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// bytes returns the next n bytes without copying.
func (d *dec) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

// str16 reads a u16-prefixed string of at most limit bytes.
func (d *dec) str16(limit int) string {
	n := int(d.u16())
	if d.err == nil && n > limit {
		d.err = status.Errorf(status.TooLarge, "%s: string of %d bytes over the limit of %d", d.what, n, limit)
		return ""
	}
	return string(d.bytes(n))
}

// rest returns the remaining bytes.
func (d *dec) rest() []byte {
	if d.err != nil {
		return nil
	}
	v := d.b[d.off:]
	d.off = len(d.b)
	return v
}

// done reports an error if bytes remain (for payloads with no trailing data).
func (d *dec) done() error {
	if d.err == nil && d.off != len(d.b) {
		d.err = status.Errorf(status.Protocol, "%s: %d trailing bytes", d.what, len(d.b)-d.off)
	}
	return d.err
}
