package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/backend"
)

// Column file header, little-endian, followed by the column name and then
// the data:
//
//	off size field
//	  0    4 magic "EFC1"
//	  4    2 version (2)
//	  6    2 flags (flagUncommitted; a reader refuses unknown bits)
//	  8    2 column name length (at most MaxColumnLen)
//	 10    2 reserved, zero
//	 12    4 timestamp nanoseconds (below 1e9)
//	 16    8 timestamp seconds (signed, Unix epoch)
//	 24    8 user flags
//	 32    8 data size
//	 40    8 xxhash64 of the data
//	 48    8 expiry, Unix nanoseconds (0 = never)
//	 56    8 xxhash64 of bytes 0..55 and the column name
//	 64    n column name
//	 64+n    data (data size bytes, to the end of the file)
//
// Version 1 files (written before on-disk TTL) lack the expiry field: their
// header checksum is at 48 and the name starts at 56. They are still read,
// as never expiring and committed, so an old backend directory opens as it
// was; any write replaces a file with a version 2 one.
//
// The header checksum lets Lookup and Iterate trust the metadata without
// reading the data; the data checksum is verified by every read.
const (
	headerMagic     = "EFC1"
	headerVersion   = 2
	headerVersion1  = 1
	fixedHeaderV1   = 56
	flagUncommitted = 1 << 0 // a prepared upload, invisible until committed
	// fixedHeaderSize is the part of a version 2 header before the column
	// name.
	fixedHeaderSize = 64
	// maxHeaderSize is the largest header, with the longest column name.
	maxHeaderSize = fixedHeaderSize + MaxColumnLen
)

// header is the decoded fixed part of a column file.
type header struct {
	Flags     uint16
	Sec       int64  // timestamp seconds
	Nsec      uint32 // timestamp nanoseconds
	UserFlags uint64
	Size      uint64 // bytes of data after the header
	DataSum   uint64 // xxhash64 of the data
	Expire    int64  // Unix nanoseconds, 0 = never
	// Len is the header's length with the column name (set by
	// decodeHeader; it depends on the version).
	Len int
}

// ExpireTime returns the expiry (zero = never).
func (h *header) ExpireTime() time.Time {
	if h.Expire == 0 {
		return time.Time{}
	}
	return time.Unix(0, h.Expire)
}

// Meta returns the column metadata the header describes.
func (h *header) Meta() backend.Meta {
	return backend.Meta{Size: h.Size, Timestamp: h.Timestamp(), UserFlags: h.UserFlags, Expire: h.ExpireTime()}
}

// visible reports whether reads, lookups and iteration see the column.
func (h *header) visible(now time.Time) bool {
	return h.Flags&flagUncommitted == 0 && !backend.Expired(h.ExpireTime(), now)
}

// Timestamp returns the stored write time.
func (h *header) Timestamp() time.Time { return time.Unix(h.Sec, int64(h.Nsec)) }

// setTimestamp stores ts with full nanosecond precision.
func (h *header) setTimestamp(ts time.Time) {
	h.Sec = ts.Unix()
	h.Nsec = uint32(ts.Nanosecond())
}

// headerSize is the length of the header of a column named column.
func headerSize(column string) int { return fixedHeaderSize + len(column) }

// encodeHeader appends the header of h for column to dst. column must be at
// most MaxColumnLen bytes.
func encodeHeader(dst []byte, h *header, column string) []byte {
	start := len(dst)
	dst = append(dst, headerMagic...)
	dst = binary.LittleEndian.AppendUint16(dst, headerVersion)
	dst = binary.LittleEndian.AppendUint16(dst, h.Flags)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(column)))
	dst = binary.LittleEndian.AppendUint16(dst, 0)
	dst = binary.LittleEndian.AppendUint32(dst, h.Nsec)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Sec))
	dst = binary.LittleEndian.AppendUint64(dst, h.UserFlags)
	dst = binary.LittleEndian.AppendUint64(dst, h.Size)
	dst = binary.LittleEndian.AppendUint64(dst, h.DataSum)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.Expire))
	sum := headerSum(dst[start:], fixedHeaderSize, column)
	dst = binary.LittleEndian.AppendUint64(dst, sum)
	return append(dst, column...)
}

func headerSum(fixed []byte, fixedSize int, column string) uint64 {
	d := xxhash.New()
	_, _ = d.Write(fixed[:fixedSize-8])
	_, _ = d.WriteString(column)
	return d.Sum64()
}

// errHeader marks every reason decodeHeader refuses its input; callers turn
// it into status.ErrCorrupt naming the file.
var errHeader = errors.New("bad column file header")

// decodeHeader decodes the header at the start of b, which may hold more
// bytes (the data) after it. It returns the header, the column name and the
// header's length. Any malformed, truncated or inconsistent input is an
// error wrapping errHeader; it never panics.
func decodeHeader(b []byte) (h header, column string, n int, err error) {
	if len(b) < fixedHeaderV1 {
		return h, "", 0, fmt.Errorf("%w: %d bytes, want at least %d (truncated)", errHeader, len(b), fixedHeaderV1)
	}
	if string(b[0:4]) != headerMagic {
		return h, "", 0, fmt.Errorf("%w: magic %q, want %q", errHeader, b[0:4], headerMagic)
	}
	le := binary.LittleEndian
	fixed, known := fixedHeaderSize, uint16(flagUncommitted)
	switch v := le.Uint16(b[4:]); v {
	case headerVersion:
	case headerVersion1:
		fixed, known = fixedHeaderV1, 0
	default:
		return h, "", 0, fmt.Errorf("%w: version %d, want %d or %d", errHeader, v, headerVersion1, headerVersion)
	}
	if len(b) < fixed {
		return h, "", 0, fmt.Errorf("%w: %d bytes, want at least %d (truncated)", errHeader, len(b), fixed)
	}
	h.Flags = le.Uint16(b[6:])
	if h.Flags&^known != 0 {
		return h, "", 0, fmt.Errorf("%w: unknown flags %#x", errHeader, h.Flags)
	}
	nameLen := int(le.Uint16(b[8:]))
	if nameLen > MaxColumnLen {
		return h, "", 0, fmt.Errorf("%w: column name of %d bytes over the limit of %d", errHeader, nameLen, MaxColumnLen)
	}
	if r := le.Uint16(b[10:]); r != 0 {
		return h, "", 0, fmt.Errorf("%w: reserved field %#x not zero", errHeader, r)
	}
	h.Nsec = le.Uint32(b[12:])
	h.Sec = int64(le.Uint64(b[16:]))
	h.UserFlags = le.Uint64(b[24:])
	h.Size = le.Uint64(b[32:])
	h.DataSum = le.Uint64(b[40:])
	if fixed == fixedHeaderSize {
		h.Expire = int64(le.Uint64(b[48:]))
	}
	stored := le.Uint64(b[fixed-8:])
	n = fixed + nameLen
	if len(b) < n {
		return header{}, "", 0, fmt.Errorf("%w: %d bytes, want %d with the column name (truncated)", errHeader, len(b), n)
	}
	h.Len = n
	column = string(b[fixed:n])
	if sum := headerSum(b, fixed, column); sum != stored {
		return header{}, "", 0, fmt.Errorf("%w: header checksum %016x, computed %016x", errHeader, stored, sum)
	}
	if h.Nsec >= 1e9 {
		return header{}, "", 0, fmt.Errorf("%w: timestamp nanoseconds %d out of range", errHeader, h.Nsec)
	}
	return h, column, n, nil
}

// dataSum is the data checksum stored in the header.
func dataSum(data []byte) uint64 { return xxhash.Sum64(data) }
