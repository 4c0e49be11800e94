// Package route holds the ring and the route table of a cluster: which
// backend of which node owns which part of the ID space, in every group.
// It does no networking; it is pure data, immutable once built, so any
// number of goroutines may read a *Table while a new one is being built.
//
// # Ownership
//
// Every object has a 64-byte ID (package id), read as a big-endian unsigned
// number; the IDs form a ring from id.Zero to id.Max. Every backend belongs to
// one group (a replica: each group covers the whole ring) and announces a few
// random points on the ring of its group (LoadOrCreatePoints makes them on
// first start and keeps them in the backend's "ids" file).
//
// Inside one group, sort the points of all its backends. A key belongs to the
// backend with the largest point <= the key's ID. Keys below the smallest
// point wrap around to the backend with the largest point. So a point X owns
// the arc [X, next point), and the largest point owns [largest, id.Max] plus
// [id.Zero, smallest). This is the rule of the original Elliptics (server
// __dnet_idc_search, client RouteList). For example, with points 20.., 80..
// (backend A) and 40.. (backend B), the walk around the ring is:
//
//	00.. ─A─ 20.. ─A─ 40.. ─B─ 80.. ─A─ ff..
//	key 10..  → A (below the smallest point: wraps to 80..)
//	key 20..  → A (a key equal to a point belongs to that point)
//	key 3f..  → A (largest point <= key is 20..)
//	key 40..  → B
//	key ff..  → A (largest point <= key is 80..)
//
// Points are unique within a group: two backends of one group announcing the
// same point would each think they own its arc, so New refuses such a table
// with an error matching ErrConflict (the original crashed here). The same
// point in two different groups is fine: groups are independent rings.
//
// # Tables
//
// New builds a Table from a list of backends; Owner answers "who owns this
// key in this group" in O(log n); Ranges (ID ranges with both ends
// inclusive, the wrap-around arc split at id.Max) and Share (the fraction of
// a group's ring) describe what a node owns, for recovery and for the
// status page. A change (a node announcing its
// backends, a node dropped) builds a new Table with Update (many nodes at
// once), WithBackends or WithoutAddr, whose Version is one higher; an
// update that changes nothing returns the same table. Tables share what an
// update does not touch: the points of unchanged backends, and the chunks
// of about 64 points that each group's ring is cut into, so a node joining
// a thousand-node table costs tens of microseconds, not a rewrite of its
// 16,000 points. AppendBinary and DecodeTable carry tables over the
// wire and to disk; EncodeBackends and DecodeBackends carry one node's
// backends in handshakes.
package route
