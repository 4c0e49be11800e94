// Package bench holds the pieces of the elliptics benchmarks: a latency
// histogram, a closed-loop workload runner, a raw TCP request/response
// baseline and helpers that drive the Go client against a node.
//
// The command in ./kvbench runs the issue-2 benchmark (1 KiB writes and
// reads against one ellipticsd with the in-memory backend, next to the raw
// loopback baseline); kvbench_test.go has `go test -bench` versions of the
// same loops against an in-process node. The command in ./recovery
// measures user latency while a joining node's share of the data moves to
// it, with and without the nodes' [recovery] limits (RecoveryBench). See
// README.md.
package bench
