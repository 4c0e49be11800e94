package main

/*
#include "capi_types.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unsafe"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Server-side scripts: EXEC, the job manager and script management. Like
// the administration calls they are synchronous and answer in JSON: a
// result carries an event, an address and a duration besides its data,
// which ell_entry has no room for, and a binding waits on them in a thread
// (Python releases the GIL around every call).

// execJSON is one exec result of the replies (elliptics.h documents it).
type execJSON struct {
	Event   string     `json:"event"`
	Key     string     `json:"key"`
	ID      string     `json:"id,omitempty"`
	Address string     `json:"address"`
	Group   uint32     `json:"group"`
	Data    []byte     `json:"data,omitempty"` // base64
	Seconds float64    `json:"seconds"`
	Error   *errorJSON `json:"error,omitempty"`
}

func toExecJSON(r client.ExecResult) execJSON {
	j := execJSON{Event: r.Event, Key: r.Key, Address: r.Address, Group: r.Group, Data: r.Data,
		Seconds: r.Duration.Seconds()}
	if !r.ID.IsZero() {
		j.ID = r.ID.String()
	}
	if r.Err != nil {
		j.Data = nil
		j.Error = &errorJSON{Code: int32(errCode(r.Err)), Message: r.Err.Error()}
	}
	return j
}

// goLimits copies limits (NULL: none).
func goLimits(l *C.ell_cexec_limits) (proto.ExecLimits, error) {
	if l == nil {
		return proto.ExecLimits{}, nil
	}
	if l.timeout_ms < 0 {
		return proto.ExecLimits{}, status.Errorf(status.Invalid, "exec limits: negative timeout_ms %d", int64(l.timeout_ms))
	}
	return proto.ExecLimits{Steps: uint64(l.steps), Timeout: time.Duration(l.timeout_ms) * time.Millisecond,
		ReadBytes: uint64(l.read_bytes), WriteBytes: uint64(l.write_bytes), ResultBytes: uint64(l.result_bytes),
		Memory: uint64(l.memory)}, nil
}

// goBytes copies n bytes at p (NULL with n 0 is empty).
func goBytes(p unsafe.Pointer, n C.size_t, what string) ([]byte, error) {
	if p == nil && n > 0 {
		return nil, status.Errorf(status.Invalid, "%s is NULL with length %d", what, uint64(n))
	}
	if uint64(n) > maxBytes {
		return nil, status.Errorf(status.TooLarge, "%s: %d bytes", what, uint64(n))
	}
	b := make([]byte, int(n))
	if n > 0 {
		copy(b, unsafe.Slice((*byte)(p), int(n)))
	}
	return b, nil
}

func goString(p *C.ell_cchar) string { return C.GoString((*C.char)(unsafe.Pointer(p))) }

// marshalOut encodes v as JSON into out.
func marshalOut(out *C.ell_json, err *C.ell_error, what string, v any) C.int32_t {
	b, e := json.Marshal(v)
	if e != nil {
		return fail(err, fmt.Errorf("%s: encode reply: %w", what, e))
	}
	jsonOut(out, b)
	return C.ELL_OK
}

// execArgs is the common start of the exec calls: the session, the event,
// the input and the options.
func execArgs(h C.ell_session_t, event *C.ell_cchar, data *C.ell_cvoid, n C.size_t, limits *C.ell_cexec_limits,
	out *C.ell_json, err *C.ell_error, what string) (*client.Session, string, []byte, client.ExecOptions, C.int32_t, bool) {
	var o client.ExecOptions
	if event == nil {
		return nil, "", nil, o, invalid(err, "%s: event is NULL", what), false
	}
	s, rc, ok := execSession(h, out, err, what)
	if !ok {
		return nil, "", nil, o, rc, false
	}
	lim, e := goLimits(limits)
	if e != nil {
		return nil, "", nil, o, fail(err, e), false
	}
	in, e := goBytes(unsafe.Pointer(data), n, "data")
	if e != nil {
		return nil, "", nil, o, fail(err, e), false
	}
	o.Limits = lim
	return s, goString(event), in, o, C.ELL_OK, true
}

// execSession is the common start of this file's calls.
func execSession(h C.ell_session_t, out *C.ell_json, err *C.ell_error, what string) (*client.Session, C.int32_t, bool) {
	if out == nil {
		return nil, invalid(err, "%s: out is NULL", what), false
	}
	*out = C.ell_json{}
	ss, ok := getSession(h)
	if !ok {
		return nil, badHandle(err, "session", h), false
	}
	s, _ := ss.snapshot()
	return s, C.ELL_OK, true
}

//export ell_session_exec
func ell_session_exec(h C.ell_session_t, key *C.ell_ckey, event *C.ell_cchar, data *C.ell_cvoid, n C.size_t,
	limits *C.ell_cexec_limits, out *C.ell_json, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	s, ev, in, o, rc, ok := execArgs(h, event, data, n, limits, out, err, "ell_session_exec")
	if !ok {
		return rc
	}
	ctx := context.Background()
	if key == nil {
		res, e := s.ExecAll(ctx, ev, in, o)
		if e != nil {
			return fail(err, e)
		}
		js := make([]execJSON, len(res))
		for i, r := range res {
			js[i] = toExecJSON(r)
		}
		return marshalOut(out, err, "ell_session_exec", js)
	}
	k, e := oneKey(key)
	if e != nil {
		return fail(err, e)
	}
	r, e := s.Exec(ctx, k, ev, in, o)
	if e != nil {
		return fail(err, e)
	}
	return marshalOut(out, err, "ell_session_exec", toExecJSON(r))
}

//export ell_session_run_jobs
func ell_session_run_jobs(h C.ell_session_t, event *C.ell_cchar, keys *C.ell_ccstr, count C.size_t, data *C.ell_cvoid,
	n C.size_t, concurrency C.int32_t, limits *C.ell_cexec_limits, progress C.ell_progress, userdata unsafe.Pointer,
	out *C.ell_json, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if keys == nil && count > 0 {
		return invalid(err, "ell_session_run_jobs: keys is NULL with count %d", uint64(count))
	}
	if uint64(count) > maxCount {
		return invalid(err, "ell_session_run_jobs: %d keys", uint64(count))
	}
	s, ev, in, eo, rc, ok := execArgs(h, event, data, n, limits, out, err, "ell_session_run_jobs")
	if !ok {
		return rc
	}
	ks := make([]string, int(count))
	slots := map[string][]int{} // the indexes of each key, for the reply's order
	for i, p := range unsafe.Slice(keys, int(count)) {
		if p == nil {
			return invalid(err, "ell_session_run_jobs: key %d is NULL", i)
		}
		ks[i] = C.GoString((*C.char)(unsafe.Pointer(p)))
		if ks[i] == "" {
			return invalid(err, "ell_session_run_jobs: key %d is empty", i)
		}
		slots[ks[i]] = append(slots[ks[i]], i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := client.JobOptions{Concurrency: int(concurrency), Exec: eo}
	var stop C.int32_t
	if progress != nil {
		o.Progress = func(done, total int) {
			if stop != C.ELL_OK {
				return
			}
			if c := C.ell_call_progress(progress, userdata, C.uint64_t(done), C.uint64_t(total)); c != C.ELL_OK {
				stop = c
				cancel()
			}
		}
	}
	js := make([]execJSON, len(ks))
	_, e := s.RunJobs(ctx, ev, ks, in, o, func(r client.ExecResult) {
		idx := slots[r.Key]
		js[idx[0]], slots[r.Key] = toExecJSON(r), idx[1:]
	})
	if stop != C.ELL_OK {
		return setError(err, stop, fmt.Sprintf("ell_session_run_jobs: progress stopped the jobs (%d)", int32(stop)))
	}
	if e != nil {
		return fail(err, e)
	}
	return marshalOut(out, err, "ell_session_run_jobs", js)
}

//export ell_session_script_put
func ell_session_script_put(h C.ell_session_t, name *C.ell_cchar, src *C.ell_cchar, n C.size_t, out *C.ell_json,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if name == nil {
		return invalid(err, "ell_session_script_put: name is NULL")
	}
	s, rc, ok := execSession(h, out, err, "ell_session_script_put")
	if !ok {
		return rc
	}
	b, e := goBytes(unsafe.Pointer(src), n, "src")
	if e != nil {
		return fail(err, e)
	}
	info, e := s.PutScript(context.Background(), goString(name), b)
	if e != nil {
		return fail(err, e)
	}
	return marshalOut(out, err, "ell_session_script_put", info)
}

//export ell_session_script_get
func ell_session_script_get(h C.ell_session_t, name *C.ell_cchar, version C.uint64_t, out *C.ell_json,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if name == nil {
		return invalid(err, "ell_session_script_get: name is NULL")
	}
	s, rc, ok := execSession(h, out, err, "ell_session_script_get")
	if !ok {
		return rc
	}
	rec, e := s.Script(context.Background(), goString(name), uint64(version))
	if e != nil {
		return fail(err, e)
	}
	return marshalOut(out, err, "ell_session_script_get", rec)
}

//export ell_session_script_list
func ell_session_script_list(h C.ell_session_t, out *C.ell_json, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	s, rc, ok := execSession(h, out, err, "ell_session_script_list")
	if !ok {
		return rc
	}
	list, e := s.ListScripts(context.Background())
	if e != nil {
		return fail(err, e)
	}
	if list == nil {
		list = []client.ScriptInfo{}
	}
	return marshalOut(out, err, "ell_session_script_list", list)
}

//export ell_session_script_remove
func ell_session_script_remove(h C.ell_session_t, name *C.ell_cchar, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if name == nil {
		return invalid(err, "ell_session_script_remove: name is NULL")
	}
	ss, ok := getSession(h)
	if !ok {
		return badHandle(err, "session", h)
	}
	s, _ := ss.snapshot()
	if e := s.RemoveScript(context.Background(), goString(name)); e != nil {
		return fail(err, e)
	}
	return C.ELL_OK
}
