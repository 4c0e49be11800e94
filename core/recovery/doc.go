// Package recovery moves data to where the ring says it belongs and fills
// replicas that lost it, while the node serves traffic. It is the
// original's dnet_recovery (merge and dc), built into the node: automatic,
// throttled, resumable and observable.
//
// Two kinds of job run on the node that holds a backend:
//
//   - merge (within a group): walk the backend's records in ID order; every
//     record whose owner in the backend's group is now another backend (a
//     backend joined, or this one was away) is copied to that owner with
//     "newest wins" (a newer copy there is kept), verified there, and then
//     removed here, unless it changed meanwhile.
//   - dc (across groups): for every range the backend owns, scan the same
//     range in each other group (metadata only) and have the holder send
//     every record this backend lacks or holds an older version of (SEND,
//     newest wins). A wiped node, or one that took over a departed node's
//     arcs, fills itself this way.
//
// A Manager runs the jobs of one node: at most one per (kind, backend),
// all sharing the node's rate limits (bytes and objects per second). A job
// persists its position (the last key done) in Options.Dir at checkpoints
// and on every state change, so after a restart of the node it resumes
// where it stopped. Jobs can be paused, resumed and stopped; a dry run
// walks the same records and reports the plan (what would move, from where
// to where, how many objects and bytes) without moving anything.
//
// The package knows the node only through Host, which the server
// implements.
package recovery
