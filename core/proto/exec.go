package proto

import (
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/status"
)

// Limits of an EXEC request's names.
const (
	// MaxScriptName bounds a script's name (ASCII letters, digits, '.', '_', '-').
	MaxScriptName = 128
	// MaxScriptFunction bounds the function name of an event.
	MaxScriptFunction = 128
	// MaxExecKey bounds the key a script runs on, as the script sees it.
	MaxExecKey = 4096
	// MaxExecGroups bounds the groups an EXEC names.
	MaxExecGroups = 64
)

// ExecFlags modify an EXEC request.
type ExecFlags uint32

const (
	// ExecNoKey: the script runs once on the node the request reached,
	// with key None (a fan-out: the client sends one to every node). The
	// header's ID is then unused and the request is never forwarded.
	ExecNoKey ExecFlags = 1 << 0
	// ExecInvalidate: do not run anything; drop the node's cached copy of
	// the script (sent to every node after a script is replaced or removed).
	ExecInvalidate ExecFlags = 1 << 1
)

// ExecLimits are a call's lowered limits; zero fields keep the node's.
type ExecLimits struct {
	Steps       uint64
	Timeout     time.Duration // sent in milliseconds
	ReadBytes   uint64
	WriteBytes  uint64
	ResultBytes uint64
	Memory      uint64
}

// ExecRequest is the payload of EXEC (7, the original's number for
// server-side execution): run Script's Function on the node that owns the
// header's key (or, with ExecNoKey, on the node reached), next to the data.
//
//	off size field
//	  0    4 flags
//	  4   48 limits: steps u64, timeout ms u64, read, write, result, memory bytes u64
//	 52    2 groups count, then u32 each: the session's groups (the script's reads try them in order, its writes go to all)
//	  .    2+n script name
//	  .    2+n function
//	  .    2+n namespace of the key and of the keys the script names
//	  .    2+n key as the script sees it (empty with ExecNoKey)
//	  .    *  data: the rest, the caller's input
type ExecRequest struct {
	Flags     ExecFlags
	Limits    ExecLimits
	Groups    []uint32
	Script    string
	Function  string
	Namespace string
	Key       string
	Data      []byte
}

// Append appends the encoding of r to dst (Data included).
func (r *ExecRequest) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.u32(uint32(r.Flags))
	e.u64(r.Limits.Steps)
	e.u64(uint64(r.Limits.Timeout / time.Millisecond))
	e.u64(r.Limits.ReadBytes)
	e.u64(r.Limits.WriteBytes)
	e.u64(r.Limits.ResultBytes)
	e.u64(r.Limits.Memory)
	e.u16(uint16(len(r.Groups)))
	for _, g := range r.Groups {
		e.u32(g)
	}
	e.str16(r.Script)
	e.str16(r.Function)
	e.str16(r.Namespace)
	e.str16(r.Key)
	e.raw(r.Data)
	return e.b
}

// DecodeExecRequest parses an EXEC payload and checks its fields.
func DecodeExecRequest(b []byte) (ExecRequest, error) {
	d := dec{b: b, what: "exec request"}
	var r ExecRequest
	r.Flags = ExecFlags(d.u32())
	r.Limits.Steps = d.u64()
	ms := d.u64()
	r.Limits.ReadBytes, r.Limits.WriteBytes, r.Limits.ResultBytes, r.Limits.Memory = d.u64(), d.u64(), d.u64(), d.u64()
	n := int(d.u16())
	if d.err == nil && n > MaxExecGroups {
		return r, status.Errorf(status.TooLarge, "exec request: %d groups over the limit of %d", n, MaxExecGroups)
	}
	if n > 0 && d.need(4*n) {
		r.Groups = make([]uint32, n)
		for i := range r.Groups {
			r.Groups[i] = d.u32()
		}
	}
	r.Script = d.str16(MaxScriptName)
	r.Function = d.str16(MaxScriptFunction)
	r.Namespace = d.str16(MaxExecKey)
	r.Key = d.str16(MaxExecKey)
	r.Data = d.rest()
	if d.err != nil {
		return r, d.err
	}
	if ms > uint64(24*time.Hour/time.Millisecond) {
		return r, status.Errorf(status.Invalid, "exec request: timeout of %d ms over a day", ms)
	}
	r.Limits.Timeout = time.Duration(ms) * time.Millisecond
	if r.Flags&^(ExecNoKey|ExecInvalidate) != 0 {
		return r, status.Errorf(status.Invalid, "exec request: unknown flags %#x", uint32(r.Flags))
	}
	if err := ValidScriptName(r.Script); err != nil {
		return r, err
	}
	if r.Flags&ExecInvalidate == 0 {
		if r.Function == "" {
			return r, status.Errorf(status.Invalid, "exec request: no function (events are \"script@function\")")
		}
		if r.Flags&ExecNoKey == 0 && r.Key == "" {
			return r, status.Errorf(status.Invalid, "exec request: no key (use a fan-out to run without one)")
		}
	}
	return r, nil
}

// ValidScriptName checks a script's name: 1 to MaxScriptName bytes of
// ASCII letters, digits, '.', '_' and '-', not starting with '.'.
func ValidScriptName(name string) error {
	if name == "" || len(name) > MaxScriptName {
		return status.Errorf(status.Invalid, "script name %q: 1 to %d characters", name, MaxScriptName)
	}
	if name[0] == '.' || strings.IndexFunc(name, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
	}) >= 0 {
		return status.Errorf(status.Invalid, "script name %q: only letters, digits, '.', '_' and '-', not starting with '.'", name)
	}
	return nil
}

// ParseEvent splits an event "script@function" (the original's form).
func ParseEvent(event string) (script, function string, err error) {
	script, function, ok := strings.Cut(event, "@")
	if !ok || function == "" {
		return "", "", status.Errorf(status.Invalid, "event %q: want \"script@function\"", event)
	}
	if err := ValidScriptName(script); err != nil {
		return "", "", err
	}
	if len(function) > MaxScriptFunction {
		return "", "", status.Errorf(status.Invalid, "event %q: function name over %d bytes", event, MaxScriptFunction)
	}
	return script, function, nil
}

// ExecReply is the final reply of EXEC: the node that ran the script and
// the function's result.
//
//	off size field
//	  0    2+n address of the node
//	  .    4 group the script ran in (its backend's)
//	  .    8 run time in microseconds
//	  .    *  result: the rest
type ExecReply struct {
	Address  string
	Group    uint32
	Duration time.Duration
	Result   []byte
}

// AppendHead appends the encoding of r without its Result, which travels
// as the frame's next part.
func (r *ExecReply) AppendHead(dst []byte) []byte {
	e := enc{b: dst}
	e.str16(r.Address)
	e.u32(r.Group)
	e.u64(uint64(r.Duration / time.Microsecond))
	return e.b
}

// DecodeExecReply parses an EXEC reply.
func DecodeExecReply(b []byte) (ExecReply, error) {
	d := dec{b: b, what: "exec reply"}
	r := ExecReply{Address: d.str16(MaxAddressLen), Group: d.u32()}
	us := d.u64()
	r.Result = d.rest()
	if d.err != nil {
		return r, d.err
	}
	r.Duration = time.Duration(min(us, uint64(1<<62)/1000)) * time.Microsecond
	return r, nil
}
