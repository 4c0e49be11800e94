package blob

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Record layout in a data file (docs/storage.md has the full description):
//
//	off size field
//	  0    4 magic "EBR1"
//	  4    1 version (2; version 1 records are read with no expiry)
//	  5    1 column name length
//	  6    2 flags (recordRemoved, recordAllColumns, recordCompressed,
//	         recordUncommitted, recordReserved, recordRewrite)
//	  8    8 sequence number, increasing through the log
//	 16   64 object ID
//	 80    8 timestamp, Unix nanoseconds
//	 88    8 user flags
//	 96    8 data size (logical, uncompressed)
//	104    8 disk size (stored bytes of data after the column name)
//	112    8 data checksum: xxhash64 of the stored bytes
//	120    8 expiry, Unix nanoseconds (0 = never)
//	128    8 header checksum: xxhash64 of bytes 0..127 and the column name
//	136    - column name, then the stored data, then zero padding to 8 bytes
const (
	headerSize  = 136
	recordAlign = 8
	recordMagic = 0x31524245 // "EBR1"
	recordVer   = 2
	// recordVer1 records (before on-disk TTL) wrote zero in the expiry
	// field; they are still read, so a backend written by an older build
	// opens as it was.
	recordVer1   = 1
	maxColumnLen = 255
)

// Record flags.
const (
	recordRemoved    uint16 = 1 << 0 // tombstone
	recordAllColumns uint16 = 1 << 1 // with recordRemoved: every column of the object
	recordCompressed uint16 = 1 << 2 // stored data is snappy-compressed
	// recordUncommitted marks a prepared upload not yet committed: kept
	// (and replayed) but invisible to reads, lookups and iteration.
	recordUncommitted uint16 = 1 << 3
	// recordReserved marks a chunked-upload record (upload.go): its data
	// area was reserved at prepare and is written in place, chunk by chunk;
	// block checksums and a commit trailer follow the data area. Always
	// set together with recordUncommitted; a valid trailer commits it.
	recordReserved uint16 = 1 << 4
	// recordRewrite marks a reserved record that rewrites a big value
	// (rewrite.go): unlike an upload it does not replace the key's record
	// until its trailer commits it, so replay leaves an uncommitted one out
	// of the index and the value it was to replace stays readable.
	recordRewrite uint16 = 1 << 5
)

// header is the decoded fixed part of a record plus its column name.
type header struct {
	flags     uint16
	seq       uint64
	id        id.ID
	column    string
	timestamp int64
	userFlags uint64
	dataSize  uint64
	diskSize  uint64
	dataCsum  uint64
	expire    int64

	// Of a reserved record (recordReserved), filled in by readHeader from
	// the trailer: the reservation (the header's data size; dataSize is
	// then the committed size), the trailer's state and the checksum of
	// the block table.
	reservedSize uint64
	trailer      uint8
	tableSum     uint64
}

func (h *header) reserved() bool { return h.flags&recordReserved != 0 }

// size is the full on-disk size of the record including padding.
func (h *header) size() uint64 {
	return alignUp(headerSize + uint64(len(h.column)) + h.diskSize)
}

// dataOffset is the offset of the stored data from the record start.
func (h *header) dataOffset() uint64 { return headerSize + uint64(len(h.column)) }

func (h *header) removed() bool { return h.flags&recordRemoved != 0 }

func (h *header) uncommitted() bool { return h.flags&recordUncommitted != 0 }

func (h *header) expireTime() time.Time {
	if h.expire == 0 {
		return time.Time{}
	}
	return time.Unix(0, h.expire).UTC()
}

// expired reports whether the record's lifetime is over at now.
func (h *header) expired(now time.Time) bool { return h.expire != 0 && now.UnixNano() >= h.expire }

// visible reports whether reads, lookups and iteration see the record.
func (h *header) visible(now time.Time) bool {
	return !h.removed() && !h.uncommitted() && !h.expired(now)
}

func (h *header) time() time.Time {
	if h.timestamp == 0 {
		return time.Time{}
	}
	return time.Unix(0, h.timestamp).UTC()
}

func alignUp(n uint64) uint64 { return (n + recordAlign - 1) &^ (recordAlign - 1) }

// encode writes the header and column name into b (at least
// headerSize+len(column) bytes) and returns the bytes used.
func (h *header) encode(b []byte) int {
	le := binary.LittleEndian
	le.PutUint32(b[0:], recordMagic)
	b[4] = recordVer
	b[5] = uint8(len(h.column))
	le.PutUint16(b[6:], h.flags)
	le.PutUint64(b[8:], h.seq)
	copy(b[16:80], h.id[:])
	le.PutUint64(b[80:], uint64(h.timestamp))
	le.PutUint64(b[88:], h.userFlags)
	le.PutUint64(b[96:], h.dataSize)
	le.PutUint64(b[104:], h.diskSize)
	le.PutUint64(b[112:], h.dataCsum)
	le.PutUint64(b[120:], uint64(h.expire))
	copy(b[headerSize:], h.column)
	d := xxhash.New()
	d.Write(b[:128])
	d.Write(b[headerSize : headerSize+len(h.column)])
	le.PutUint64(b[128:], d.Sum64())
	return headerSize + len(h.column)
}

// errTorn marks a record that is incomplete or fails its checksum; at the
// end of the log it is a write cut short by a crash.
var errTorn = status.Errorf(status.Corrupt, "torn or corrupt record")

// decodeHeader parses the fixed header in b[:headerSize] and the column name
// that follows (b must hold headerSize+255 bytes or up to the end of file).
// It checks the magic, version, header checksum and that sizes are sane.
func decodeHeader(b []byte) (header, error) {
	var h header
	if len(b) < headerSize {
		return h, fmt.Errorf("record header: %d bytes: %w", len(b), errTorn)
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != recordMagic {
		return h, fmt.Errorf("record header: bad magic %#x: %w", m, errTorn)
	}
	if b[4] != recordVer && b[4] != recordVer1 {
		return h, fmt.Errorf("record header: unknown version %d: %w", b[4], errTorn)
	}
	clen := int(b[5])
	if len(b) < headerSize+clen {
		return h, fmt.Errorf("record header: column cut short: %w", errTorn)
	}
	d := xxhash.New()
	d.Write(b[:128])
	d.Write(b[headerSize : headerSize+clen])
	if sum := le.Uint64(b[128:]); sum != d.Sum64() {
		return h, fmt.Errorf("record header: checksum mismatch: %w", errTorn)
	}
	h.flags = le.Uint16(b[6:])
	h.seq = le.Uint64(b[8:])
	copy(h.id[:], b[16:80])
	h.timestamp = int64(le.Uint64(b[80:]))
	h.userFlags = le.Uint64(b[88:])
	h.dataSize = le.Uint64(b[96:])
	h.diskSize = le.Uint64(b[104:])
	h.dataCsum = le.Uint64(b[112:])
	if b[4] != recordVer1 {
		h.expire = int64(le.Uint64(b[120:]))
	}
	h.column = string(b[headerSize : headerSize+clen])
	if h.diskSize > MaxFileSize || h.dataSize > 1<<50 {
		return h, fmt.Errorf("record header: sizes %d/%d out of range: %w", h.dataSize, h.diskSize, errTorn)
	}
	if h.reserved() {
		if h.flags&(recordCompressed|recordRemoved) != 0 || h.diskSize != reservedDisk(h.dataSize) {
			return h, fmt.Errorf("record header: reserved record of %d bytes with disk size %d: %w", h.dataSize, h.diskSize, errTorn)
		}
		h.reservedSize = h.dataSize
	} else if h.flags&recordRewrite != 0 {
		return h, fmt.Errorf("record header: rewrite flag on a record that is not reserved: %w", errTorn)
	} else if h.flags&recordCompressed == 0 && h.dataSize != h.diskSize {
		return h, fmt.Errorf("record header: data size %d != disk size %d: %w", h.dataSize, h.diskSize, errTorn)
	}
	return h, nil
}

// keyHash is the index hash of one column of one object.
func keyHash(oid id.ID, column string) uint64 {
	if column == "" {
		return xxhash.Sum64(oid[:]) // the same value, without the streaming state
	}
	d := xxhash.New()
	d.Write(oid[:])
	d.WriteString(column)
	return d.Sum64()
}
