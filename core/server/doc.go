// Package server is an elliptics node: it listens on TCP (or any
// Options.Transport, such as the in-memory memnet of tests), reads frames,
// dispatches each request to the handler registered for its command, and
// serves data commands from its backends.
//
// The path of a request:
//
//	conn.readLoop ─ frame ─ dispatch ─ keyQueue (per-key order) ─ worker: Handler ─ backend
//	                                                                        │
//	socket ◄── wire.Writer ◄─────────── replies (More ... final) ◄──────────┘
//
// Each connection has one reader and one writer goroutine; requests run
// concurrently (pipelining) on pooled worker goroutines, up to
// Options.MaxInflight per connection, after which the reader stops reading
// and TCP pushes back on the client. Requests on the same key run one at a
// time in arrival order; requests on different keys run in parallel. A
// handler's reply is written by the handler's goroutine when the socket is
// idle, else queued for the writer goroutine, which batches replies.
// Request contexts arm a timer only for handlers that wait on Done.
//
// Commands are registered handlers (Server.Handle), so an extension command
// plugs in without touching the dispatcher; a command with no handler is
// answered with status.Unsupported. A malformed frame closes only its own
// connection; a malformed payload in a well-formed frame gets an error reply
// and the connection goes on.
//
// Nodes form a cluster through their peers client.Node (see cluster.go and
// the client package's doc): joining through Options.Remotes, member lists
// pulled and pushed, failure detection with a bounded number of pings per
// interval. ROUTE_LIST replies are cached per route table and a request may
// ask for only what changed since a digest, so a seed answering a thousand
// nodes' pulls encodes its list once per change, not once per pull.
//
// A request with proto.FlagRelay names another node in front of its
// payload: the node sends it there and streams every reply back under the
// requester's transaction (relay.go), so clients that reach one node (a
// proxy client, NAT) run ID ranges and iterators anywhere.
//
// Backends can be enabled, disabled, made read-only or writable and
// defragmented at run time (BACKEND_CONTROL, Server.ControlBackend; see
// control.go): a data request holds its backend open until its handler
// returns, so a disable waits for the requests in flight before closing it.
package server
