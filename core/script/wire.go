package script

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/elliptics/elliptics/core/status"
)

// The worker protocol (ProcessRunner ↔ WorkerMain): frames of a 4-byte
// big-endian length and a JSON object, over the worker's stdin and stdout.
// The worker says hello once; then per call the parent sends run, the
// worker sends any number of host requests, each answered by a reply, and
// finally done. One call at a time per worker.

const (
	frameHello = "hello"
	frameRun   = "run"
	frameHost  = "host"
	frameReply = "reply"
	frameDone  = "done"
)

// maxFrame bounds a frame: a result or a read of the largest budgets,
// base64-encoded, plus slack.
const maxFrame = 512 << 20

type frame struct {
	Kind string `json:"k"`

	// run
	Name    string    `json:"name,omitempty"`
	Version uint64    `json:"version,omitempty"`
	Src     []byte    `json:"src,omitempty"`
	Call    *wireCall `json:"call,omitempty"`

	// host request
	Op     string `json:"op,omitempty"`
	Key    string `json:"key,omitempty"`
	Offset uint64 `json:"offset,omitempty"`
	Size   uint64 `json:"size,omitempty"`
	Start  string `json:"start,omitempty"`
	End    string `json:"end,omitempty"`
	Limit  int    `json:"limit,omitempty"`

	// write request, reply to read, result of done
	Data    []byte   `json:"data,omitempty"`
	Info    *Info    `json:"info,omitempty"`
	Records []Record `json:"records,omitempty"`
	Err     *wireErr `json:"err,omitempty"`
}

type wireCall struct {
	Function string            `json:"function"`
	Key      string            `json:"key,omitempty"`
	HasKey   bool              `json:"has_key,omitempty"`
	Data     []byte            `json:"data,omitempty"`
	Limits   Limits            `json:"limits"`
	Vars     map[string]string `json:"vars,omitempty"`
}

// wireErr carries an error across the pipe with its status code and, for
// the package's own errors, its sentinel, so errors.Is works on both sides.
type wireErr struct {
	Code status.Code `json:"code"`
	Kind string      `json:"kind,omitempty"`
	Msg  string      `json:"msg"`
}

var kinds = map[string]*Error{
	"compile": ErrCompile, "nofunction": ErrNoFunction, "steps": ErrSteps, "timeout": ErrTimeout,
	"budget": ErrBudget, "memory": ErrMemory, "failed": ErrFailed,
}

func toWire(err error) *wireErr {
	if err == nil {
		return nil
	}
	we := &wireErr{Code: status.FromError(err), Msg: err.Error()}
	var se *Error
	if errors.As(err, &se) {
		for name, k := range kinds {
			if errors.Is(se, k) {
				we.Kind = name
			}
		}
	}
	return we
}

func fromWire(we *wireErr) error {
	if we == nil {
		return nil
	}
	if k, ok := kinds[we.Kind]; ok {
		e := newError(k, nil, we.Msg)
		e.code = we.Code
		return e
	}
	// Message, not the full text: status.Error adds the name and code back.
	return &status.Error{Code: we.Code, Msg: status.Message(&status.Error{Code: we.Code, Msg: we.Msg})}
}

func writeFrame(w io.Writer, f *frame) error {
	body, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("script worker: encode %s frame: %w", f.Kind, err)
	}
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	if _, err := w.Write(append(buf, body...)); err != nil {
		return fmt.Errorf("script worker: send %s frame: %w", f.Kind, err)
	}
	return nil
}

func readFrame(r *bufio.Reader) (*frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("script worker: frame of %d bytes exceeds %d", n, maxFrame)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("script worker: short frame: %w", err)
	}
	f := &frame{}
	if err := json.Unmarshal(body, f); err != nil {
		return nil, fmt.Errorf("script worker: decode frame: %w", err)
	}
	return f, nil
}
