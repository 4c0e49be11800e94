package script

import (
	"errors"
	"fmt"
	"time"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/elliptics/elliptics/core/status"
)

// abortError carries an error that must end the call as it is (a budget
// or a host error), not as a generic script failure. Starlark wraps
// builtin errors in an EvalError; Run finds this one with errors.As.
type abortError struct{ err error }

func (a *abortError) Error() string { return a.err.Error() }
func (a *abortError) Unwrap() error { return a.err }

// environment builds the predeclared names of one call.
func (r *run) environment() starlark.StringDict {
	env := make(starlark.StringDict, len(builtinNames)+len(r.call.Vars))
	for k, v := range r.call.Vars {
		env[k] = starlark.String(v)
	}
	var key starlark.Value = starlark.None
	if r.call.HasKey {
		key = starlark.String(r.call.Key)
	}
	env["key"] = key
	env["data"] = starlark.Bytes(r.call.Data)
	env["read"] = starlark.NewBuiltin("read", r.read)
	env["write"] = starlark.NewBuiltin("write", r.write)
	env["remove"] = starlark.NewBuiltin("remove", r.remove)
	env["lookup"] = starlark.NewBuiltin("lookup", r.lookup)
	env["read_range"] = starlark.NewBuiltin("read_range", r.readRange)
	env["json"] = json.Module
	env["struct"] = starlark.NewBuiltin("struct", starlarkstruct.Make)
	return env
}

// hostErr wraps an error of the host so it ends the call with its status
// code kept.
func (r *run) hostErr(op, key string, err error) error {
	return &abortError{fmt.Errorf("script %q: %s(%q): %w", r.prog.Name, op, key, err)}
}

func (r *run) budgetErr(what string, limit, used, asked int64) error {
	return &abortError{newError(ErrBudget, nil, fmt.Sprintf(
		"script %q: %s budget of %d bytes exceeded (%d used, %d more asked)", r.prog.Name, what, limit, used, asked))}
}

// guarded calls a host method, turning a panic into an error: a broken
// host must not take the node down through a script.
func guarded(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = newError(ErrFailed, nil, fmt.Sprintf("host panicked: %v", p))
		}
	}()
	return f()
}

func (r *run) read(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	var offset, size int64
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "offset?", &offset, "size?", &size); err != nil {
		return nil, err
	}
	if offset < 0 || size < 0 {
		return nil, fmt.Errorf("read: negative offset or size")
	}
	left := r.limits.ReadBytes - r.readBytes
	if size > left {
		return nil, r.budgetErr("read", r.limits.ReadBytes, r.readBytes, size)
	}
	// Ask the host for at most one byte more than the budget allows, so a
	// huge object is refused without being loaded whole.
	ask := uint64(size)
	if ask == 0 {
		ask = uint64(left) + 1
	}
	var data []byte
	err := guarded(func() (err error) { data, err = r.call.Host.Read(r.ctx, key, uint64(offset), ask); return })
	if errors.Is(err, status.ErrNotFound) {
		return starlark.None, nil
	}
	if err != nil {
		return nil, r.hostErr("read", key, err)
	}
	if int64(len(data)) > left {
		return nil, r.budgetErr("read", r.limits.ReadBytes, r.readBytes, int64(len(data)))
	}
	r.readBytes += int64(len(data))
	return starlark.Bytes(data), nil
}

func (r *run) write(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	var data starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key, "data", &data); err != nil {
		return nil, err
	}
	var buf []byte
	switch d := data.(type) {
	case starlark.Bytes:
		buf = []byte(d)
	case starlark.String:
		buf = []byte(d)
	default:
		return nil, fmt.Errorf("write: data must be bytes or string, not %s", data.Type())
	}
	if n := int64(len(buf)); n > r.limits.WriteBytes-r.writeBytes {
		return nil, r.budgetErr("write", r.limits.WriteBytes, r.writeBytes, n)
	}
	r.writeBytes += int64(len(buf))
	if err := guarded(func() error { return r.call.Host.Write(r.ctx, key, buf) }); err != nil {
		return nil, r.hostErr("write", key, err)
	}
	return starlark.None, nil
}

func (r *run) remove(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key); err != nil {
		return nil, err
	}
	err := guarded(func() error { return r.call.Host.Remove(r.ctx, key) })
	switch {
	case errors.Is(err, status.ErrNotFound):
		return starlark.False, nil
	case err != nil:
		return nil, r.hostErr("remove", key, err)
	}
	return starlark.True, nil
}

func (r *run) lookup(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var key string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "key", &key); err != nil {
		return nil, err
	}
	var info Info
	err := guarded(func() (err error) { info, err = r.call.Host.Lookup(r.ctx, key); return })
	switch {
	case errors.Is(err, status.ErrNotFound):
		return starlark.None, nil
	case err != nil:
		return nil, r.hostErr("lookup", key, err)
	}
	var ts float64
	if !info.Timestamp.IsZero() {
		ts = float64(info.Timestamp.UnixNano()) / float64(time.Second)
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"size":       starlark.MakeUint64(info.Size),
		"timestamp":  starlark.Float(ts),
		"user_flags": starlark.MakeUint64(info.UserFlags),
		"checksum":   starlark.String(info.Checksum),
	}), nil
}

func (r *run) readRange(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var start, end string
	limit := 100
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "start", &start, "end", &end, "limit?", &limit); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("read_range: limit must be positive, got %d", limit)
	}
	limit = min(limit, MaxRangeLimit)
	if r.readBytes >= r.limits.ReadBytes {
		return nil, r.budgetErr("read", r.limits.ReadBytes, r.readBytes, 1)
	}
	var recs []Record
	err := guarded(func() (err error) { recs, err = r.call.Host.ReadRange(r.ctx, start, end, limit); return })
	if err != nil {
		return nil, r.hostErr("read_range", start+".."+end, err)
	}
	var n int64
	for _, rec := range recs {
		n += int64(len(rec.Data))
	}
	if n > r.limits.ReadBytes-r.readBytes {
		return nil, r.budgetErr("read", r.limits.ReadBytes, r.readBytes, n)
	}
	r.readBytes += n
	out := make([]starlark.Value, 0, min(len(recs), limit))
	for i, rec := range recs {
		if i == limit { // a host returning more than asked still obeys the cap
			break
		}
		out = append(out, starlark.Tuple{starlark.String(rec.ID), starlark.Bytes(rec.Data)})
	}
	return starlark.NewList(out), nil
}
