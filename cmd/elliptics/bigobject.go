package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/elliptics/elliptics/core/client"
)

const uploadAbout = "Streams FILE (or standard input for - with --size) into KEY in every group of the\n" +
	"session as a chunked upload: a prepare of the file's size, one write per --chunk, a commit.\n" +
	"Memory stays at about one chunk whatever the size; the object is invisible until the\n" +
	"commit, and an upload cut short is reclaimed after the node's upload_timeout. A progress\n" +
	"bar is drawn on standard error when it is a terminal (not with --quiet). Prints one line\n" +
	"per group like write."

const downloadAbout = "Streams KEY from the first group of the session that has it into FILE (- for standard\n" +
	"output) in ranged reads of --chunk bytes, so memory stays at about one chunk. With\n" +
	"--resume an existing FILE is continued from its size. A progress bar is drawn on\n" +
	"standard error when it is a terminal (not with --quiet)."

// sizeFlag is a byte count with an optional unit (4MiB, 512KiB, 1048576).
type sizeFlag struct{ n uint64 }

func (s *sizeFlag) String() string { return strconv.FormatUint(s.n, 10) }

func (s *sizeFlag) Set(v string) error {
	t := strings.TrimSpace(v)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	units := map[string]uint64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
		"mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}
	unit, ok := units[strings.ToLower(strings.TrimSpace(t[i:]))]
	n, err := strconv.ParseUint(t[:i], 10, 64)
	if i == 0 || !ok || err != nil || n > (1<<63)/unit {
		return fmt.Errorf("invalid size %q: want a whole number with an optional unit KiB, MiB, GiB", v)
	}
	s.n = n * unit
	return nil
}

// maxChunk keeps a chunk well inside the default frame limit (160 MiB).
const maxChunk = 128 << 20

func chunkFlag(fs *flag.FlagSet) *sizeFlag {
	c := &sizeFlag{n: client.DefaultChunk}
	fs.Var(c, "chunk", "bytes per request, `SIZE` like 4MiB (memory use is about one chunk)")
	return c
}

func (c *cli) checkChunk(ch *sizeFlag) (int, error) {
	if ch.n == 0 || ch.n > maxChunk {
		return 0, usageErrorf("--chunk must be between 1 byte and %d MiB, got %d", maxChunk>>20, ch.n)
	}
	return int(ch.n), nil
}

// progress returns a progress bar of bytes on standard error, or nil when
// it is not a terminal or quiet is set.
func (c *cli) progress(quiet bool, what string, total int64) *progressbar.ProgressBar {
	return c.progressOf(quiet, what, total, true)
}

// progressOf is progress counting bytes or, with bytes false, items.
func (c *cli) progressOf(quiet bool, what string, total int64, bytes bool) *progressbar.ProgressBar {
	f, ok := c.stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(bytes),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(f) }),
		progressbar.OptionFullWidth(),
	)
}

func uploadCommand(fs *flag.FlagSet) action {
	chunk := chunkFlag(fs)
	quiet := fs.Bool("quiet", false, "draw no progress bar")
	ttl := fs.Duration("ttl", 0, "give the object a lifetime of `DURATION` once committed")
	size := &sizeFlag{}
	fs.Var(size, "size", "bytes to read from standard input (`SIZE`; needed with FILE -)")
	userFlags := fs.Uint64("user-flags", 0, "user flags `N` stored with the object")
	return func(ctx context.Context, c *cli, args []string) error {
		ch, err := c.checkChunk(chunk)
		if err != nil {
			return err
		}
		if *ttl < 0 {
			return usageErrorf("upload: --ttl must be positive, got %s", *ttl)
		}
		key, err := c.key(args[0])
		if err != nil {
			return err
		}
		var in io.Reader
		var total uint64
		if args[1] == "-" {
			set := false
			fs.Visit(func(f *flag.Flag) { set = set || f.Name == "size" })
			if !set {
				return usageErrorf("upload: reading standard input needs --size")
			}
			in, total = c.stdin, size.n
		} else {
			f, err := os.Open(args[1])
			if err != nil {
				return usageErrorf("cannot read input file: %v", err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return usageErrorf("cannot read input file: %v", err)
			}
			if !st.Mode().IsRegular() {
				return usageErrorf("upload: %s is not a regular file (use - with --size for a stream)", args[1])
			}
			in, total = f, uint64(st.Size())
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		s.SetUserFlags(*userFlags)
		bar := c.progress(*quiet, "upload "+args[0], int64(total))
		o := client.StreamOptions{Chunk: ch, TTL: *ttl}
		if bar != nil {
			o.Progress = func(done, _ uint64) { _ = bar.Set64(int64(done)) }
		}
		res, err := s.WriteFrom(ctx, key, in, total, o)
		if bar != nil {
			_ = bar.Exit()
		}
		if err != nil {
			err = opFailed("upload", args[0], err, res.Entries, s.Checker())
		}
		return c.printResult(res.Entries, err, true)
	}
}

func downloadCommand(fs *flag.FlagSet) action {
	chunk := chunkFlag(fs)
	quiet := fs.Bool("quiet", false, "draw no progress bar")
	resume := fs.Bool("resume", false, "continue an existing FILE from its size instead of starting over")
	return func(ctx context.Context, c *cli, args []string) error {
		ch, err := c.checkChunk(chunk)
		if err != nil {
			return err
		}
		key, err := c.key(args[0])
		if err != nil {
			return err
		}
		var out io.Writer = c.stdout
		var from uint64
		var file *os.File
		if args[1] != "-" {
			flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			if *resume {
				flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
			}
			if file, err = os.OpenFile(args[1], flags, 0o644); err != nil {
				return &cliError{code: exitFailed, msg: fmt.Sprintf("download %q: %v", args[0], err)}
			}
			defer file.Close()
			if *resume {
				st, err := file.Stat()
				if err != nil {
					return &cliError{code: exitFailed, msg: fmt.Sprintf("download %q: %v", args[0], err)}
				}
				from = uint64(st.Size())
			}
			out = file
		} else if *resume {
			return usageErrorf("download: --resume needs a FILE")
		}
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		var bar *progressbar.ProgressBar
		o := client.StreamOptions{Chunk: ch, Offset: from, Progress: func(done, total uint64) {
			if bar == nil {
				if bar = c.progress(*quiet, "download "+args[0], int64(total)); bar == nil {
					bar = progressbar.DefaultBytesSilent(int64(total))
				}
			}
			_ = bar.Set64(int64(done))
		}}
		e, err := s.ReadTo(ctx, key, out, o)
		if bar != nil {
			_ = bar.Exit()
		}
		if err != nil {
			return opFailed("download", args[0], err, nil, s.Checker())
		}
		if file != nil {
			if err := file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
				return &cliError{code: exitFailed, msg: fmt.Sprintf("download %q: %v", args[0], err)}
			}
		}
		if c.g.json {
			e.Data = nil
			c.printJSON([]client.Entry{e}, nil)
		}
		return nil
	}
}
