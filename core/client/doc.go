// Package client is the Go client of elliptics: a Node holds connections to
// the cluster, a Session carries per-call settings (groups, timeout,
// namespace, checker, filter, flags) and issues data commands.
//
//	n := client.NewNode(client.Config{})
//	defer n.Close()
//	if err := n.AddRemotes(ctx, "127.0.0.1:1025"); err != nil { ... }
//	s := client.NewSession(n)
//	s.SetGroups(1, 2, 3)
//	res, err := s.Write(ctx, client.NewKey("key"), []byte("data"))
//	e, err := s.Read(ctx, client.NewKey("key"), 0, 0)
//
// A write or remove goes to every group of the session in parallel and
// returns one Entry per group; the session's Checker decides whether the
// call as a whole succeeded. A read or lookup tries the groups in turn until
// one answers. Until the route table of the cluster lands, a group is served
// by the first connected node whose handshake lists a backend of that group
// (kept up to date by the backend status replies of the admin calls).
//
// WriteAsync, ReadAsync, LookupAsync and RemoveAsync are the same calls
// with a completion function instead of a return: when every group's owner
// has an established connection they send on the calling goroutine and
// complete from the connection's reader goroutine (a read asks its next
// group from there), so a caller that sleeps outside the Go scheduler (the
// C library's futex wait) is woken once per call; otherwise the blocking
// form runs on a goroutine. Internally a call in flight completes either
// into its channel (do) or through its function (start), exactly once, by
// whoever takes it out of the connection's table.
//
// Membership (a Node inside a server, or any long-lived client): the route
// table is built from the descriptions of the nodes the Node reaches, plus,
// with Config.ConnectOnDemand, those the reached nodes vouch for. Changes
// arrive by ROUTES_CHANGED pushes and by a pull every RefreshInterval from
// a random reached node; a pull sends the digest of the list last got from
// that node and gets an empty reply when nothing changed, else the list
// without descriptions, and then asks for the descriptions of only the
// members it does not hold at their version (RouteList, RouteListDigest,
// RouteListOnly). Tables change incrementally (route.Table.Update: the
// nodes that changed are merged into the rings in one pass), and changes
// learnt from pushes and pulls are applied a little later in batches
// (rebuildSoon), so a node of a forming thousand-node cluster does not
// rebuild its table on every push. Failure detection is bounded per
// PingInterval: a node we heard from since the last interval (any bytes:
// replies, pushes, even a reply to a ping that had timed out) is not
// pinged and no longer suspected; at most ProbesPerInterval of the quiet
// ones are pinged, in turn; a node that missed a ping (a suspect) is pinged
// every interval until it is heard from or has missed SuspectAfter in a
// row and is dropped. A ping missed while this node itself runs late (its
// probe or its ping ticker woke well after time: an overloaded host) is
// not held against the peer (Lifeguard's local health, from the SWIM
// literature). A connection that breaks (a killed process) drops its node
// at once.
//
// Nodes with several addresses (multiaddr.go): a node lists every address
// it listens on, the first naming it in route tables; address k of every
// node is on the same network k (the original's route groups). A Node that
// reached its first node at that node's address k dials every node it
// learns of at its address k (falling back to the first), so a client on
// one network only connects to every node on that network; Connections
// shows the address each connection was dialed at.
//
// Requests for a named node (relay.go): a part of an ID range (one
// backend), an iterator and its control by id, a SEND. They go straight to
// the node when the Node holds a live connection to it; a Proxy client, or
// a client that does not reach the node (NAT: in the route table, not
// connected), sends them to a connected node with proto.FlagRelay and the
// target's address, and that node relays them, every reply of a stream
// included (the same fallback as connForKey, for requests forwarding by key
// cannot carry). An address the table does not know is dialed, and relayed
// only if that fails.
//
// Watches (watch.go, watchgroup.go): Session.Watch keeps a NOTIFY on the
// owner of the key in each group of the session, on a stream of its own
// (relayed like the requests above when the owner is out of reach), and
// moves it when the stream breaks, the node ends it (the key moved) or the
// route table names another owner, with backoff; WatchLost and WatchStarted
// events bracket the gap. Watcher.Next is a blocking call with a context,
// for the C ABI; Events is the channel form.
//
// Admin calls address one node by "host:port": BackendStatus, EnableBackend,
// DisableBackend, MakeReadOnly, MakeWritable, StartDefrag, StopDefrag.
// MonitorStat asks one node, or every node of the route table at once, for
// its statistics (MONITOR_STAT, docs/monitoring.md); MonitorStatOf a list.
package client
