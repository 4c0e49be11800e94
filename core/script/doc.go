// Package script runs user scripts next to the data on a node: small
// Starlark programs (a Python dialect built for embedding, interpreted by
// go.starlark.net) that read, change and write keys of the node's backends
// without moving the data over the network.
//
// A script is compiled once per (name, version, source) and kept in the
// Engine's LRU cache (Engine.Program). A call (Engine.Run) then:
//
//  1. builds a fresh starlark.Thread and a fresh environment: the
//     predeclared names key, data, read, write, remove, lookup, read_range,
//     json, struct, plus Call.Vars as strings;
//  2. runs the script's top level (so globals are per call, never shared
//     between calls or goroutines);
//  3. calls Call.Function by arity: f(), f(data) or f(key, data);
//  4. turns the result into bytes: None → empty, bytes as is, a string as
//     its UTF-8, anything else as JSON.
//
// Every call is bounded by Limits: execution steps and a wall-clock
// deadline (both stop the interpreter between steps through
// Thread.Cancel), bytes read and written through the builtins (charged
// before the host is asked wherever the size is known), the size of the
// result, and heap growth. The heap guard is coarse: go.starlark.net has
// no allocation hook, so a sampler goroutine reads the process heap
// (runtime/metrics) about every millisecond while calls run and cancels a
// call once the heap has grown more than Limits.Memory since the call
// began (confirmed by a GC, since garbage is not growth). The figure is
// process-wide: big allocations of other requests running at the same
// time count too, and one Starlark operation (up to 1 GiB for
// `"x" * n`) completes before the cancellation is seen. Hard isolation
// needs a separate process with rlimits.
//
// Scripts get no file system, network, clock, randomness or load(); print
// goes to the engine's logger at debug level. Recursion is refused (the
// Starlark default); while loops, sets, top-level control flow and global
// reassignment are allowed since steps bound them.
//
// Errors callers branch on are in errors.go; each carries a core/status
// code (status.FromError) so the server can answer with it. An error a
// host builtin returns and the script does not handle (Starlark has no
// try) ends the call with that error wrapped, its status code kept.
package script
