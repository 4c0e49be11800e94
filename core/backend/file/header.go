package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Column file header, little-endian, followed by the column name and then
// the data:
//
//	off size field
//	  0    4 magic "EFC1"
//	  4    2 version (1)
//	  6    2 flags (none defined; a reader refuses unknown bits)
//	  8    2 column name length (at most MaxColumnLen)
//	 10    2 reserved, zero
//	 12    4 timestamp nanoseconds (below 1e9)
//	 16    8 timestamp seconds (signed, Unix epoch)
//	 24    8 user flags
//	 32    8 data size
//	 40    8 xxhash64 of the data
//	 48    8 xxhash64 of bytes 0..47 and the column name
//	 56    n column name
//	 56+n    data (data size bytes, to the end of the file)
//
// The header checksum lets Lookup and Iterate trust the metadata without
// reading the data; the data checksum is verified by every read.
const (
	headerMagic   = "EFC1"
	headerVersion = 1
	// fixedHeaderSize is the part of the header before the column name.
	fixedHeaderSize = 56
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
	sum := headerSum(dst[start:], column)
	dst = binary.LittleEndian.AppendUint64(dst, sum)
	return append(dst, column...)
}

func headerSum(fixed []byte, column string) uint64 {
	d := xxhash.New()
	_, _ = d.Write(fixed[:fixedHeaderSize-8])
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
	if len(b) < fixedHeaderSize {
		return h, "", 0, fmt.Errorf("%w: %d bytes, want at least %d (truncated)", errHeader, len(b), fixedHeaderSize)
	}
	if string(b[0:4]) != headerMagic {
		return h, "", 0, fmt.Errorf("%w: magic %q, want %q", errHeader, b[0:4], headerMagic)
	}
	le := binary.LittleEndian
	if v := le.Uint16(b[4:]); v != headerVersion {
		return h, "", 0, fmt.Errorf("%w: version %d, want %d", errHeader, v, headerVersion)
	}
	h.Flags = le.Uint16(b[6:])
	if h.Flags != 0 {
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
	stored := le.Uint64(b[48:])
	n = fixedHeaderSize + nameLen
	if len(b) < n {
		return header{}, "", 0, fmt.Errorf("%w: %d bytes, want %d with the column name (truncated)", errHeader, len(b), n)
	}
	column = string(b[fixedHeaderSize:n])
	if sum := headerSum(b, column); sum != stored {
		return header{}, "", 0, fmt.Errorf("%w: header checksum %016x, computed %016x", errHeader, stored, sum)
	}
	if h.Nsec >= 1e9 {
		return header{}, "", 0, fmt.Errorf("%w: timestamp nanoseconds %d out of range", errHeader, h.Nsec)
	}
	return h, column, n, nil
}

// dataSum is the data checksum stored in the header.
func dataSum(data []byte) uint64 { return xxhash.Sum64(data) }
