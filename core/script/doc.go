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
// call once the live heap (as of the last collection) has grown more than
// Limits.Memory since the call began, or the heap objects have and a
// forced collection confirms it (garbage is not growth); see memguard.go.
// The figures are process-wide: big allocations of other requests running
// at the same time count too. One Starlark operation completes before the
// cancellation is seen, and may allocate up to 1 GiB (`"x" * n`), so a
// doubling loop overshoots a 64 MiB budget several times over before it
// stops. Hard isolation is ProcessRunner: the same calls in worker
// processes (WorkerMain) under RLIMIT_DATA and RLIMIT_CPU, asking the
// parent for each host operation over their pipes.
//
// Names a script uses that are neither builtins nor Starlark's universe
// compile (Call.Vars are only known per call) and are listed by
// Program.FreeNames; a call whose Vars lack one fails with ErrCompile
// before running anything. Vars cannot shadow the builtins.
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
