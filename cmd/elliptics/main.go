// Command elliptics is the operator client of an elliptics cluster: it
// writes, reads, looks up and removes objects, pings nodes, shows the ring
// (routes) and the nodes of the cluster, computes key IDs and lists,
// enables, disables, makes read-only or writable and defragments the
// backends of a node. Run `elliptics help` for the commands, their flags
// and the exit codes scripts can rely on.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
