package client

import (
	"github.com/elliptics/elliptics/core/proto"
)

// Nodes with several addresses (the original's route groups, "host:port:
// family-<route_group>"): a node may listen on several networks, and the
// address at index k of every node's list is on the same network k. A Node
// that reached some node at its address k dials the other nodes at their
// address k too, falling back to their first address (the identity) when
// they list fewer; so a client that can reach only one network (NAT, a
// private interface) connects to every node on that network. Identities in
// route tables stay the first addresses, so every client and node names
// nodes alike whatever network it uses.

// RouteIndex returns the index of reachedAt among addrs (a node's
// advertised addresses, unspecified hosts replaced by reachedAt's), or -1
// when reachedAt is none of them (a translated address: NAT).
func RouteIndex(addrs []string, reachedAt string) int {
	for i, a := range addrs {
		if a == reachedAt || fixHost(a, reachedAt) == reachedAt {
			return i
		}
	}
	return -1
}

// RouteAddress returns the address to dial a node at for route index idx:
// its address idx (host fixed as seen from seenFrom) when it has one, else
// its identity.
func RouteAddress(info *proto.NodeInfo, idx int, seenFrom string) string {
	if idx > 0 && idx < len(info.Addresses) {
		return fixHost(info.Addresses[idx], seenFrom)
	}
	return identity(info, seenFrom)
}

// LearnAddresses records the addresses of a node described by a peer (or
// by itself, in a handshake), seen from seenFrom, so a later dial of its
// identity uses the address of this Node's route index.
func (n *Node) LearnAddresses(info *proto.NodeInfo, seenFrom string) {
	if len(info.Addresses) < 2 {
		return // the identity is the only address
	}
	n.mu.Lock()
	n.learnAddressesLocked(info, seenFrom)
	n.mu.Unlock()
}

// learnAddressesLocked is LearnAddresses with n.mu held.
func (n *Node) learnAddressesLocked(info *proto.NodeInfo, seenFrom string) {
	if len(info.Addresses) < 2 {
		return
	}
	id := identity(info, seenFrom)
	if old, ok := n.addrs[id]; ok && len(old) == len(info.Addresses) && old[len(old)-1] == fixHost(info.Addresses[len(old)-1], seenFrom) {
		return // known (a node's addresses do not change while it runs)
	}
	fixed := make([]string, len(info.Addresses))
	for i, a := range info.Addresses {
		fixed[i] = fixHost(a, seenFrom)
	}
	if n.addrs == nil {
		n.addrs = map[string][]string{}
	}
	n.addrs[id] = fixed
}

// dialAddress returns the address to dial the node named id (an identity)
// at: its address at the Node's route index when known, else id.
func (n *Node) dialAddress(id string) string {
	idx := int(n.routeIdx.Load())
	if idx <= 0 {
		return id
	}
	n.mu.RLock()
	addrs := n.addrs[id]
	n.mu.RUnlock()
	if idx < len(addrs) {
		return addrs[idx]
	}
	return id
}

// noteRouteIndex sets the Node's route index from its first connection
// whose address is one of the node's advertised ones.
func (n *Node) noteRouteIndex(c *conn) {
	info := c.nodeInfo()
	n.LearnAddresses(&info, c.addr)
	if n.routeIdx.Load() >= 0 {
		return
	}
	if idx := RouteIndex(info.Addresses, c.addr); idx >= 0 {
		n.routeIdx.CompareAndSwap(-1, int32(idx))
	}
}

// RouteIndexInUse returns the Node's route index: the index, among the
// addresses of the node it first reached, of the address it reached it at
// (-1 before any connection, or when that was a translated address).
func (n *Node) RouteIndexInUse() int { return int(n.routeIdx.Load()) }

// Connections returns, for every node connected to, its identity and the
// address the connection was dialed at.
func (n *Node) Connections() map[string]string {
	rt := n.routes.Load()
	out := make(map[string]string, len(rt.conns))
	for id, c := range rt.conns {
		out[id] = c.addr
	}
	return out
}
