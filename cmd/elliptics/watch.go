package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
)

const watchAbout = `Watches KEY in every group of the session (--groups) and prints one line per event
until interrupted (or until --count writes and removals were seen): kind, group, node
address, column, size, timestamp, user flags and the events missed before it. Kinds:
write, remove; started when the watch is established on a node, lost when it ends (the
node went away or the key moved; it is established again, and changes in between are
not seen); missed when the node dropped events because this watcher read too slowly
(--queue sets how many it keeps). --column watches one column (and removals of the whole
object). With --json one JSON object per line. Exits 0 when interrupted.`

// watchCommand serves 'watch KEY'.
func watchCommand(fs *flag.FlagSet) action {
	count := fs.Int("count", 0, "exit after `N` write and remove events (0: run until interrupted)")
	queue := fs.Int("queue", 0, "events each node keeps for this watcher, `N` (0: the node's default, 1024)")
	return func(ctx context.Context, c *cli, args []string) error {
		if *count < 0 || *queue < 0 || *queue > proto.MaxNotifyQueue {
			return usageErrorf("watch: --count must be >= 0 and --queue in 0..%d", proto.MaxNotifyQueue)
		}
		key, err := c.key(args[0])
		if err != nil {
			return err
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		w, err := s.Watch(ctx, key, client.WatchOptions{Queue: *queue})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return &opError{msg: "watch " + args[0] + ": " + err.Error(), err: err}
		}
		defer w.Close()
		seen := 0
		for {
			ev, err := w.Next(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted: the normal end
				}
				return &opError{msg: "watch " + args[0] + ": " + err.Error(), err: err}
			}
			if err := c.printWatchEvent(&ev); err != nil {
				return err
			}
			if ev.Kind == client.WatchWrite || ev.Kind == client.WatchRemove {
				seen++
				if *count > 0 && seen >= *count {
					return nil
				}
			}
		}
	}
}

// jsonWatchEvent is the --json line of a watch event.
type jsonWatchEvent struct {
	Kind      string `json:"kind"`
	ID        string `json:"id"`
	Group     uint32 `json:"group"`
	Address   string `json:"address,omitempty"`
	Column    string `json:"column"`
	Size      uint64 `json:"size"`
	Timestamp string `json:"timestamp,omitempty"`
	UserFlags uint64 `json:"user_flags"`
	Missed    uint64 `json:"missed"`
	Error     string `json:"error,omitempty"`
}

func (c *cli) printWatchEvent(ev *client.WatchEvent) error {
	errText := ""
	if ev.Err != nil {
		errText = oneLine(ev.Err.Error())
	}
	if c.g.json {
		je := jsonWatchEvent{Kind: ev.Kind.String(), ID: ev.ID.String(), Group: ev.Group, Address: ev.Address,
			Column: ev.Column, Size: ev.Size, UserFlags: ev.UserFlags, Missed: ev.Missed, Error: errText}
		if !ev.Timestamp.IsZero() {
			je.Timestamp = ev.Timestamp.UTC().Format(time.RFC3339Nano)
		}
		return c.encodeJSON(je)
	}
	addr := ev.Address
	if addr == "" {
		addr = "-"
	}
	line := fmt.Sprintf("%-7s group %d %s", ev.Kind, ev.Group, addr)
	switch ev.Kind {
	case client.WatchWrite, client.WatchRemove:
		line += fmt.Sprintf(" column %q size %d time %s user_flags %d missed %d",
			ev.Column, ev.Size, formatTime(ev.Timestamp), ev.UserFlags, ev.Missed)
	case client.WatchMissed:
		line += fmt.Sprintf(" missed %d", ev.Missed)
	}
	if errText != "" {
		line += ": " + errText
	}
	if _, err := fmt.Fprintln(c.stdout, strings.TrimSpace(line)); err != nil {
		return &cliError{code: exitFailed, msg: fmt.Sprintf("write output: %v", err)}
	}
	return nil
}
