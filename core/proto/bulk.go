package proto

import (
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// MaxBulkKeys limits the keys of one BULK_READ or BULK_WRITE request.
const MaxBulkKeys = 1 << 16

// BulkKeyOverhead is the encoded size of a BulkKey less its payload, and
// BulkResultOverhead that of a BulkResult less its payload; with the 4-byte
// count they let a sender size a request (or a node a reply) exactly.
const (
	BulkKeyOverhead    = id.Size + 4
	BulkResultOverhead = 12
	BulkHeaderSize     = 4
)

// BulkKey is one key of a BULK_READ or BULK_WRITE request: its ID and the
// payload a single READ or WRITE of that key would carry (IOAttr, then for
// a write the optional compare-and-swap checksum and the data). The
// request's header gives the group; every key is served as that single
// command would be.
type BulkKey struct {
	ID      id.ID
	Payload []byte
}

// AppendBulkRequest appends the encoding of a BULK_READ/BULK_WRITE request:
//
//	u32 count, then count × { id[64], u32 payload length, payload }
func AppendBulkRequest(dst []byte, keys []BulkKey) []byte {
	e := enc{b: dst}
	e.u32(uint32(len(keys)))
	for i := range keys {
		e.raw(keys[i].ID[:])
		e.u32(uint32(len(keys[i].Payload)))
		e.raw(keys[i].Payload)
	}
	return e.b
}

// BulkRequestSize is the encoded size of a request of keys.
func BulkRequestSize(keys []BulkKey) int {
	n := BulkHeaderSize
	for i := range keys {
		n += BulkKeyOverhead + len(keys[i].Payload)
	}
	return n
}

// DecodeBulkRequest parses a BULK_READ/BULK_WRITE request. Payloads alias b.
func DecodeBulkRequest(b []byte) ([]BulkKey, error) {
	d := dec{b: b, what: "bulk request"}
	n := d.u32()
	if n > MaxBulkKeys {
		return nil, status.Errorf(status.TooLarge, "bulk request: %d keys over the limit of %d", n, MaxBulkKeys)
	}
	if !d.need(int(n) * BulkKeyOverhead) {
		return nil, d.err
	}
	keys := make([]BulkKey, n)
	for i := range keys {
		copy(keys[i].ID[:], d.bytes(id.Size))
		keys[i].Payload = d.bytes(int(d.u32()))
		if d.err != nil {
			return nil, d.err
		}
	}
	return keys, d.done()
}

// BulkResult is the outcome of one key of a bulk request: the index of the
// key in the request, its status, and the payload the single command's
// reply would carry (READ: IOAttr + data; WRITE: LookupInfo), or the error
// message when Status is not OK.
type BulkResult struct {
	Index   uint32
	Status  status.Code
	Payload []byte
}

// AppendBulkReply appends the encoding of a bulk reply:
//
//	u32 count, then count × { u32 index, i32 status, u32 payload length, payload }
func AppendBulkReply(dst []byte, rs []BulkResult) []byte {
	e := enc{b: dst}
	e.u32(uint32(len(rs)))
	for i := range rs {
		e.u32(rs[i].Index)
		e.u32(uint32(rs[i].Status))
		e.u32(uint32(len(rs[i].Payload)))
		e.raw(rs[i].Payload)
	}
	return e.b
}

// DecodeBulkReply parses a bulk reply. Payloads alias b. Indexes are not
// checked against the request (the caller knows its size).
func DecodeBulkReply(b []byte) ([]BulkResult, error) {
	d := dec{b: b, what: "bulk reply"}
	n := d.u32()
	if n > MaxBulkKeys {
		return nil, status.Errorf(status.TooLarge, "bulk reply: %d results over the limit of %d", n, MaxBulkKeys)
	}
	if !d.need(int(n) * BulkResultOverhead) {
		return nil, d.err
	}
	rs := make([]BulkResult, n)
	for i := range rs {
		rs[i].Index = d.u32()
		rs[i].Status = status.Code(int32(d.u32()))
		rs[i].Payload = d.bytes(int(d.u32()))
		if d.err != nil {
			return nil, d.err
		}
		if rs[i].Status > 0 {
			return nil, status.Errorf(status.Protocol, "bulk reply: result %d has positive status %d", i, rs[i].Status)
		}
	}
	return rs, d.done()
}
