package script

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// WorkerMain serves calls of a ProcessRunner over r (its stdin) and w (its
// stdout) until r ends; `ellipticsd script-worker` calls it. Each call runs
// on a local Engine, so the step, time, byte and heap limits apply inside
// the worker too; the rlimits the parent sets are the backstop. It returns
// nil when the parent closes the pipe.
func WorkerMain(r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if err := writeFrame(w, &frame{Kind: frameHello}); err != nil {
		return err
	}
	e := New(Options{})
	for {
		f, err := readFrame(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if f.Kind != frameRun || f.Call == nil {
			return fmt.Errorf("script worker: got %q frame, want run", f.Kind)
		}
		host := &pipeHost{r: br, w: w}
		out, err := runInWorker(e, f, host)
		if host.broken != nil {
			return host.broken // the parent is gone or confused; start over
		}
		if err := writeFrame(w, &frame{Kind: frameDone, Data: out, Err: toWire(err)}); err != nil {
			return err
		}
	}
}

func runInWorker(e *Engine, f *frame, host Host) ([]byte, error) {
	p, err := e.Program(f.Name, f.Version, f.Src)
	if err != nil {
		return nil, err
	}
	c := f.Call
	return e.Run(context.Background(), p, Call{Function: c.Function, Key: c.Key, HasKey: c.HasKey, Data: c.Data,
		Host: host, Limits: c.Limits, Vars: c.Vars})
}

// pipeHost is the worker's Host: each call is a request to the parent,
// which runs it on the real Host and replies.
type pipeHost struct {
	r      *bufio.Reader
	w      io.Writer
	broken error
}

func (h *pipeHost) ask(req *frame) (*frame, error) {
	if h.broken != nil {
		return nil, h.broken
	}
	req.Kind = frameHost
	if err := writeFrame(h.w, req); err != nil {
		h.broken = err
		return nil, err
	}
	rep, err := readFrame(h.r)
	if err == nil && rep.Kind != frameReply {
		err = fmt.Errorf("script worker: got %q frame, want reply", rep.Kind)
	}
	if err != nil {
		h.broken = err
		return nil, err
	}
	return rep, fromWire(rep.Err)
}

func (h *pipeHost) Read(_ context.Context, key string, offset, size uint64) ([]byte, error) {
	rep, err := h.ask(&frame{Op: "read", Key: key, Offset: offset, Size: size})
	if err != nil {
		return nil, err
	}
	return rep.Data, nil
}

func (h *pipeHost) Write(_ context.Context, key string, data []byte) error {
	_, err := h.ask(&frame{Op: "write", Key: key, Data: data})
	return err
}

func (h *pipeHost) Remove(_ context.Context, key string) error {
	_, err := h.ask(&frame{Op: "remove", Key: key})
	return err
}

func (h *pipeHost) Lookup(_ context.Context, key string) (Info, error) {
	rep, err := h.ask(&frame{Op: "lookup", Key: key})
	if err != nil || rep.Info == nil {
		return Info{}, err
	}
	return *rep.Info, nil
}

func (h *pipeHost) ReadRange(_ context.Context, start, end string, limit int) ([]Record, error) {
	rep, err := h.ask(&frame{Op: "read_range", Start: start, End: end, Limit: limit})
	if err != nil {
		return nil, err
	}
	return rep.Records, nil
}
