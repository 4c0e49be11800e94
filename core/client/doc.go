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
// Admin calls address one node by "host:port": BackendStatus, EnableBackend,
// DisableBackend, MakeReadOnly, MakeWritable, StartDefrag, StopDefrag.
package client
