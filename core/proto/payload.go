package proto

import (
	"slices"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Limits on variable-length fields inside payloads.
const (
	MaxColumnLen   = 255
	MaxAddressLen  = 255
	MaxPathLen     = 4096
	MaxAddresses   = 64
	MaxBackends    = 4096
	MaxNameLen     = 255
	MaxErrorMsgLen = 4096
)

// IOAttrSize is the fixed part of an encoded IOAttr; the column name follows.
const IOAttrSize = 80

// IOAttr describes the data part of READ, WRITE, LOOKUP and REMOVE requests
// and replies (dnet_io_attr in the original, slimmed down).
//
//	off size field
//	  0    4 io flags
//	  4    2 column name length (name follows the fixed part)
//	  6    2 reserved, zero
//	  8    8 offset
//	 16    8 size
//	 24    8 total size (object size, in replies)
//	 32    8 timestamp seconds
//	 40    8 timestamp nanoseconds
//	 48    8 user flags
//	 56    8 record flags
//	 64    8 ttl: WRITE request, lifetime in milliseconds (0 = none)
//	 72    8 expire: replies, Unix milliseconds the value expires (0 = never)
type IOAttr struct {
	Flags       IOFlags
	Column      string
	Offset      uint64
	Size        uint64
	TotalSize   uint64
	Timestamp   time.Time // zero = unset (a write then takes the server's clock)
	UserFlags   uint64
	RecordFlags RecordFlags
	// TTL is the lifetime a WRITE gives the value, relative so that the
	// node's clock decides (sent in whole milliseconds, rounded up).
	TTL time.Duration
	// Expire is when the value expires, in replies (millisecond precision;
	// zero = never).
	Expire time.Time
}

// MaxTTL bounds IOAttr.TTL (about 100 years), so a lifetime always fits a
// time.Duration and an expiry stays a valid timestamp.
const MaxTTL = 100 * 365 * 24 * time.Hour

// CASSize is the length of the expected checksum that follows the column
// of a WRITE with IOCompareAndSwap.
const CASSize = id.Size

// Append appends the encoding of a to dst. The column must be at most
// MaxColumnLen bytes; Validate checks that.
func (a *IOAttr) Append(dst []byte) []byte {
	e := enc{b: slices.Grow(dst, IOAttrSize+len(a.Column))}
	e.u32(uint32(a.Flags))
	e.u16(uint16(len(a.Column)))
	e.u16(0)
	e.u64(a.Offset)
	e.u64(a.Size)
	e.u64(a.TotalSize)
	sec, nsec := timeToWire(a.Timestamp)
	e.u64(sec)
	e.u64(nsec)
	e.u64(a.UserFlags)
	e.u64(uint64(a.RecordFlags))
	e.u64(ttlToWire(a.TTL))
	e.u64(expireToWire(a.Expire))
	e.b = append(e.b, a.Column...)
	return e.b
}

// Validate checks the fields a sender controls.
func (a *IOAttr) Validate() error {
	if len(a.Column) > MaxColumnLen {
		return status.Errorf(status.TooLarge, "column name of %d bytes over the limit of %d", len(a.Column), MaxColumnLen)
	}
	if a.Offset+a.Size < a.Offset {
		return status.Errorf(status.Invalid, "offset %d + size %d overflows", a.Offset, a.Size)
	}
	if a.TTL < 0 || a.TTL > MaxTTL {
		return status.Errorf(status.Invalid, "ttl %s out of range (0 < ttl <= %s, 0 = none)", a.TTL, MaxTTL)
	}
	return nil
}

func ttlToWire(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Millisecond - 1) / time.Millisecond)
}

func expireToWire(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(t.UnixMilli(), 1))
}

// DecodeIOAttr parses an IOAttr from the front of b and returns the rest.
func DecodeIOAttr(b []byte) (IOAttr, []byte, error) {
	d := dec{b: b, what: "io attr"}
	var a IOAttr
	a.Flags = IOFlags(d.u32())
	clen := int(d.u16())
	d.u16()
	a.Offset = d.u64()
	a.Size = d.u64()
	a.TotalSize = d.u64()
	sec, nsec := d.u64(), d.u64()
	a.UserFlags = d.u64()
	a.RecordFlags = RecordFlags(d.u64())
	ttl, expire := d.u64(), d.u64()
	if d.err == nil && clen > MaxColumnLen {
		return a, nil, status.Errorf(status.TooLarge, "io attr: column name of %d bytes over the limit of %d", clen, MaxColumnLen)
	}
	a.Column = string(d.bytes(clen))
	rest := d.rest()
	if d.err != nil {
		return a, nil, d.err
	}
	var err error
	if a.Timestamp, err = timeFromWire(sec, nsec); err != nil {
		return a, nil, err
	}
	if ttl > uint64(MaxTTL/time.Millisecond) {
		return a, nil, status.Errorf(status.Invalid, "ttl of %d ms over the limit of %d", ttl, MaxTTL/time.Millisecond)
	}
	a.TTL = time.Duration(ttl) * time.Millisecond
	if expire != 0 {
		if expire > 1<<62 {
			return a, nil, status.Errorf(status.Protocol, "expiry %d ms out of range", expire)
		}
		a.Expire = time.UnixMilli(int64(expire)).UTC()
	}
	return a, rest, nil
}

func timeToWire(t time.Time) (uint64, uint64) {
	if t.IsZero() {
		return 0, 0
	}
	return uint64(t.Unix()), uint64(t.Nanosecond())
}

func timeFromWire(sec, nsec uint64) (time.Time, error) {
	if sec == 0 && nsec == 0 {
		return time.Time{}, nil
	}
	if nsec >= 1e9 || sec > 1<<62 {
		return time.Time{}, status.Errorf(status.Protocol, "timestamp %d.%09d out of range", sec, nsec)
	}
	return time.Unix(int64(sec), int64(nsec)).UTC(), nil
}

// LookupInfo is the reply to LOOKUP and WRITE: where the object lives and
// what it is (dnet_file_info plus address in the original).
type LookupInfo struct {
	IOAttr          // Size/TotalSize = object size, Timestamp, UserFlags, RecordFlags
	Checksum id.ID  // SHA-512 of the data when asked for (IOChecksum), else zero
	Address  string // the node that stores the object
	Path     string // backend-specific location (file path for the blob backend)
}

// Append appends the encoding of l to dst.
func (l *LookupInfo) Append(dst []byte) []byte {
	dst = slices.Grow(dst, IOAttrSize+len(l.Column)+id.Size+4+len(l.Address)+len(l.Path))
	dst = l.IOAttr.Append(dst)
	e := enc{b: dst}
	e.raw(l.Checksum[:])
	e.str16(truncate(l.Address, MaxAddressLen))
	e.str16(truncate(l.Path, MaxPathLen))
	return e.b
}

// DecodeLookupInfo parses a LOOKUP or WRITE reply payload.
func DecodeLookupInfo(b []byte) (LookupInfo, error) {
	var l LookupInfo
	a, rest, err := DecodeIOAttr(b)
	if err != nil {
		return l, err
	}
	l.IOAttr = a
	d := dec{b: rest, what: "lookup info"}
	copy(l.Checksum[:], d.bytes(id.Size))
	l.Address = d.str16(MaxAddressLen)
	l.Path = d.str16(MaxPathLen)
	return l, d.done()
}

// HandshakeRequest opens a connection: the client's version and name, and,
// when the connecting side is itself a node joining the cluster, what it
// serves, so the receiver can route to it and connect back.
type HandshakeRequest struct {
	Major, Minor uint8
	Name         string    // free-form client identification for logs
	Node         *NodeInfo // set by nodes, nil for plain clients
}

// Append appends the encoding of r to dst.
func (r *HandshakeRequest) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.u8(r.Major)
	e.u8(r.Minor)
	e.str16(truncate(r.Name, MaxNameLen))
	if r.Node == nil {
		e.u8(0)
		return e.b
	}
	e.u8(1)
	return r.Node.Append(e.b)
}

// DecodeHandshakeRequest parses a HANDSHAKE request payload.
func DecodeHandshakeRequest(b []byte) (HandshakeRequest, error) {
	d := dec{b: b, what: "handshake"}
	var r HandshakeRequest
	r.Major = d.u8()
	r.Minor = d.u8()
	r.Name = d.str16(MaxNameLen)
	switch d.u8() {
	case 0:
		return r, d.done()
	case 1:
		n, err := DecodeNodeInfo(d.rest())
		if err != nil {
			return r, err
		}
		r.Node = &n
		return r, nil
	}
	if d.err != nil {
		return r, d.err
	}
	return r, status.Errorf(status.Protocol, "handshake: bad node flag")
}

// MaxPoints limits the ring points of one backend.
const MaxPoints = 4096

// BackendInfo describes one backend of a node.
type BackendInfo struct {
	ID       int32
	Group    uint32
	ReadOnly bool
	Points   []id.ID // the backend's points on the ring of its group
}

// NodeInfo is the HANDSHAKE reply: who the node is and what it serves.
type NodeInfo struct {
	Major, Minor uint8
	// Version changes whenever the node's backends change (and across
	// restarts), so peers can tell stale information from current.
	Version    uint64
	Addresses  []string // addresses the node listens on
	Backends   []BackendInfo
	MaxPayload uint64 // the node's frame payload limit
}

// Append appends the encoding of n to dst.
func (n *NodeInfo) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.u8(n.Major)
	e.u8(n.Minor)
	e.u64(n.Version)
	e.u64(n.MaxPayload)
	addrs := n.Addresses[:min(len(n.Addresses), MaxAddresses)]
	e.u16(uint16(len(addrs)))
	for _, a := range addrs {
		e.str16(truncate(a, MaxAddressLen))
	}
	bs := n.Backends[:min(len(n.Backends), MaxBackends)]
	e.u32(uint32(len(bs)))
	for _, b := range bs {
		e.u32(uint32(b.ID))
		e.u32(b.Group)
		var ro uint8
		if b.ReadOnly {
			ro = 1
		}
		e.u8(ro)
		pts := b.Points[:min(len(b.Points), MaxPoints)]
		e.u16(uint16(len(pts)))
		for _, p := range pts {
			e.raw(p[:])
		}
	}
	return e.b
}

// DecodeNodeInfo parses a HANDSHAKE reply payload.
func DecodeNodeInfo(b []byte) (NodeInfo, error) {
	d := dec{b: b, what: "node info"}
	var n NodeInfo
	n.Major = d.u8()
	n.Minor = d.u8()
	n.Version = d.u64()
	n.MaxPayload = d.u64()
	na := int(d.u16())
	if na > MaxAddresses {
		return n, status.Errorf(status.TooLarge, "node info: %d addresses over the limit of %d", na, MaxAddresses)
	}
	for i := 0; i < na && d.err == nil; i++ {
		n.Addresses = append(n.Addresses, d.str16(MaxAddressLen))
	}
	nb := d.u32()
	if nb > MaxBackends {
		return n, status.Errorf(status.TooLarge, "node info: %d backends over the limit of %d", nb, MaxBackends)
	}
	// At least 11 bytes per backend: refuse a count the remaining bytes
	// cannot hold before allocating for it.
	if d.need(int(nb) * 11) {
		n.Backends = make([]BackendInfo, 0, nb)
		for i := uint32(0); i < nb && d.err == nil; i++ {
			bi := BackendInfo{ID: int32(d.u32()), Group: d.u32(), ReadOnly: d.u8() != 0}
			np := int(d.u16())
			if np > MaxPoints {
				return n, status.Errorf(status.TooLarge, "node info: %d points over the limit of %d", np, MaxPoints)
			}
			if np > 0 && d.need(np*id.Size) {
				bi.Points = make([]id.ID, np)
				for j := range bi.Points {
					copy(bi.Points[j][:], d.bytes(id.Size))
				}
			}
			n.Backends = append(n.Backends, bi)
		}
	}
	return n, d.done()
}

// Member is one node in a member list: its address, the version of its
// description and, in lists asked for with RouteListWithNodes, the
// description itself.
type Member struct {
	Addr    string
	Version uint64
	Node    *NodeInfo
}

// MaxMembers limits a member list.
const MaxMembers = 1 << 16

// RouteListWithNodes, as the first byte of a ROUTE_LIST request, asks for
// every member's description (a client that cannot reach some nodes routes
// to them through the node it can reach).
const RouteListWithNodes = 1

// AppendMembers appends a member list (the ROUTE_LIST reply, and part of a
// ROUTES_CHANGED push).
func AppendMembers(dst []byte, ms []Member) []byte {
	e := enc{b: dst}
	ms = ms[:min(len(ms), MaxMembers)]
	e.u32(uint32(len(ms)))
	for _, m := range ms {
		e.str16(truncate(m.Addr, MaxAddressLen))
		e.u64(m.Version)
		if m.Node == nil {
			e.u32(0)
			continue
		}
		info := m.Node.Append(nil)
		e.u32(uint32(len(info)))
		e.raw(info)
	}
	return e.b
}

// DecodeMembers parses a member list and returns the bytes after it.
func DecodeMembers(b []byte) ([]Member, []byte, error) {
	d := dec{b: b, what: "member list"}
	n := d.u32()
	if n > MaxMembers {
		return nil, nil, status.Errorf(status.TooLarge, "member list: %d members over the limit of %d", n, MaxMembers)
	}
	if !d.need(int(n) * 14) {
		return nil, nil, d.err
	}
	ms := make([]Member, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		m := Member{Addr: d.str16(MaxAddressLen), Version: d.u64()}
		if l := int(d.u32()); l > 0 {
			raw := d.bytes(l)
			if d.err != nil {
				break
			}
			info, err := DecodeNodeInfo(raw)
			if err != nil {
				return nil, nil, err
			}
			m.Node = &info
		}
		ms = append(ms, m)
	}
	rest := d.rest()
	return ms, rest, d.err
}

// RoutesChanged is pushed by a node to every connection it serves when its
// own backends or its view of the cluster change: the sender's current
// information and its member list.
type RoutesChanged struct {
	Node    NodeInfo
	Members []Member
}

// Append appends the encoding of r to dst.
func (r *RoutesChanged) Append(dst []byte) []byte {
	dst = AppendMembers(dst, r.Members)
	return r.Node.Append(dst)
}

// DecodeRoutesChanged parses a ROUTES_CHANGED payload.
func DecodeRoutesChanged(b []byte) (RoutesChanged, error) {
	var r RoutesChanged
	ms, rest, err := DecodeMembers(b)
	if err != nil {
		return r, err
	}
	r.Members = ms
	r.Node, err = DecodeNodeInfo(rest)
	return r, err
}

// ErrorPayload encodes the message of an error reply.
func ErrorPayload(err error) []byte {
	return []byte(truncate(status.Message(err), MaxErrorMsgLen))
}

// DecodeError turns an error reply (non-zero status, message payload) into an
// error that matches the status sentinel.
func DecodeError(st status.Code, payload []byte) error {
	if st == status.OK {
		return nil
	}
	return &status.Error{Code: st, Msg: truncate(string(payload), MaxErrorMsgLen)}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
