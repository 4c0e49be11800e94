// Package stats keeps a node's statistics: per-command request counters
// with latency histograms (requests served from a local backend and
// requests forwarded to their owner apart), a bounded tracker of the most
// requested keys, readers of process and host figures (/proc, statfs),
// and the JSON shape of a MONITOR_STAT reply (docs/monitoring.md).
//
// Recording is on every request's path, so it is lock-free for commands
// (atomic adds into fixed arrays, no allocation) and takes one short,
// sharded lock for top keys. Everything else is computed when a snapshot
// is asked for.
package stats
