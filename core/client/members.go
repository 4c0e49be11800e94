package client

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strings"
	"sync"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// ROUTE_LIST request flags besides proto.RouteListWithNodes (bit 0). They
// let a node that refreshes its view pull only what changed: a thousand
// nodes each pulling a seed's whole list (a megabyte with descriptions)
// every RefreshInterval kept the seed busy encoding and every node busy
// decoding. A node that does not know a flag ignores it and sends the
// whole list, which the asker handles the same way. (They belong in
// core/proto with RouteListWithNodes; they live here while that package
// is being changed by others.)
const (
	// RouteListDigest: a u64 follows, the digest (MemberDigest) of the
	// list the asker last got from this node; if the list still has that
	// digest, the reply is an empty list (a node always lists itself, so a
	// real list is never empty).
	RouteListDigest = 2
	// RouteListOnly: a u32 count and that many u16-length addresses follow
	// (after the digest, if any): only these members are listed.
	RouteListOnly = 4
)

// RouteListRequest is a parsed ROUTE_LIST request.
type RouteListRequest struct {
	WithNodes bool
	Digest    uint64 // with HasDigest: the asker's digest
	HasDigest bool
	Only      []string // nil: every member
}

// AppendRouteListRequest encodes r.
func AppendRouteListRequest(dst []byte, r RouteListRequest) []byte {
	var f byte
	if r.WithNodes {
		f |= proto.RouteListWithNodes
	}
	if r.HasDigest {
		f |= RouteListDigest
	}
	if r.Only != nil {
		f |= RouteListOnly
	}
	dst = append(dst, f)
	if r.HasDigest {
		dst = binary.LittleEndian.AppendUint64(dst, r.Digest)
	}
	if r.Only != nil {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.Only)))
		for _, a := range r.Only {
			a = a[:min(len(a), proto.MaxAddressLen)]
			dst = binary.LittleEndian.AppendUint16(dst, uint16(len(a)))
			dst = append(dst, a...)
		}
	}
	return dst
}

// ParseRouteListRequest decodes a ROUTE_LIST request payload (empty: the
// plain list).
func ParseRouteListRequest(b []byte) (RouteListRequest, error) {
	var r RouteListRequest
	if len(b) == 0 {
		return r, nil
	}
	f := b[0]
	b = b[1:]
	r.WithNodes = f&proto.RouteListWithNodes != 0
	bad := status.Errorf(status.Invalid, "route list request: truncated")
	if f&RouteListDigest != 0 {
		if len(b) < 8 {
			return r, bad
		}
		r.HasDigest, r.Digest = true, binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	if f&RouteListOnly != 0 {
		if len(b) < 4 {
			return r, bad
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if n > proto.MaxMembers || int(n)*2 > len(b) {
			return r, bad
		}
		r.Only = make([]string, 0, n)
		for range n {
			if len(b) < 2 {
				return r, bad
			}
			l := int(binary.LittleEndian.Uint16(b))
			if l > proto.MaxAddressLen {
				return r, status.Errorf(status.TooLarge, "route list request: address of %d bytes over the limit of %d", l, proto.MaxAddressLen)
			}
			if len(b) < 2+l {
				return r, bad
			}
			r.Only = append(r.Only, string(b[2:2+l]))
			b = b[2+l:]
		}
	}
	return r, nil
}

// MemberDigest hashes the addresses and versions of a member list (in its
// order: lists are sorted by address), FNV-1a: equal digests mean nothing
// changed.
func MemberDigest(ms []proto.Member) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	for _, m := range ms {
		h.Write([]byte(m.Addr))
		binary.LittleEndian.PutUint64(buf[:], m.Version)
		h.Write(buf[:])
	}
	return h.Sum64()
}

// memberCache is the encoded member list of one routing (a node answers
// many ROUTE_LIST requests between two changes of its table).
type memberCache struct {
	rt      *routing
	selfVer uint64
	members []proto.Member // without descriptions, sorted
	digest  uint64
	once    sync.Once
	full    []byte // the encoded list with descriptions, built on first use
}

// RouteList answers a ROUTE_LIST request (the server's handler): the
// member list, with descriptions when asked, only the members asked for,
// or an empty list when the asker's digest is current. Encodings of
// descriptions are cached per node version and whole lists per table, so
// a thousand nodes asking at once cost one encoding.
func (n *Node) RouteList(req []byte) ([]byte, error) {
	r, err := ParseRouteListRequest(req)
	if err != nil {
		return nil, err
	}
	mc := n.memberList()
	if r.HasDigest && r.Digest == mc.digest {
		return proto.AppendMembers(nil, nil), nil
	}
	if !r.WithNodes {
		ms := mc.members
		if r.Only != nil {
			ms = onlyMembers(ms, r.Only)
		}
		return proto.AppendMembers(nil, ms), nil
	}
	if r.Only == nil {
		mc.once.Do(func() { mc.full = n.appendMembersWithNodes(nil, mc.rt, mc.members) })
		return mc.full, nil
	}
	return n.appendMembersWithNodes(nil, mc.rt, onlyMembers(mc.members, r.Only)), nil
}

func onlyMembers(ms []proto.Member, only []string) []proto.Member {
	out := make([]proto.Member, 0, len(only))
	for _, a := range only {
		if i, ok := slices.BinarySearchFunc(ms, a, func(m proto.Member, a string) int { return strings.Compare(m.Addr, a) }); ok {
			out = append(out, ms[i])
		}
	}
	return out
}

// memberList returns the member list of the current routing, cached.
func (n *Node) memberList() *memberCache {
	rt := n.routes.Load()
	var selfVer uint64
	if n.cfg.Join != nil {
		selfVer = n.cfg.Join().Version
	}
	if mc := n.members.Load(); mc != nil && mc.rt == rt && mc.selfVer == selfVer {
		return mc
	}
	ms := n.Members(false)
	mc := &memberCache{rt: rt, selfVer: selfVer, members: ms, digest: MemberDigest(ms)}
	n.members.Store(mc)
	return mc
}

// appendMembersWithNodes encodes ms with descriptions in the format of
// proto.AppendMembers, taking each description's encoding from its
// connection in rt (the routing ms was made from) and its cache.
func (n *Node) appendMembersWithNodes(dst []byte, rt *routing, ms []proto.Member) []byte {
	self := n.Self()
	infos := make([][]byte, len(ms))
	size := 4
	for i, m := range ms {
		var info []byte
		if m.Addr == self && n.cfg.Join != nil {
			ni := n.cfg.Join()
			info = ni.Append(nil)
		} else if c := rt.conns[m.Addr]; c != nil {
			info = c.encodedInfo()
		}
		infos[i] = info
		size += 2 + len(m.Addr) + 8 + 4 + len(info)
	}
	dst = slices.Grow(dst, size)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ms)))
	for i, m := range ms {
		a := m.Addr[:min(len(m.Addr), proto.MaxAddressLen)]
		dst = binary.LittleEndian.AppendUint16(dst, uint16(len(a)))
		dst = append(dst, a...)
		v := m.Version
		if infos[i] != nil {
			// The description's own version: it may have moved on since
			// the member list was made.
			v = binary.LittleEndian.Uint64(infos[i][2:10])
		}
		dst = binary.LittleEndian.AppendUint64(dst, v)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(infos[i])))
		dst = append(dst, infos[i]...)
	}
	return dst
}

// encodedInfo returns the encoding of the node's description, made once per
// version.
func (c *conn) encodedInfo() []byte {
	c.infoMu.RLock()
	enc, ok := c.infoEnc, c.infoEnc != nil && c.infoEncVer == c.info.Version
	c.infoMu.RUnlock()
	if ok {
		return enc
	}
	c.infoMu.Lock()
	defer c.infoMu.Unlock()
	if c.infoEnc == nil || c.infoEncVer != c.info.Version {
		c.infoEnc, c.infoEncVer = c.info.Append(nil), c.info.Version
	}
	return c.infoEnc
}
