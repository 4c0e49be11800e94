package script

import (
	"fmt"

	"go.starlark.net/lib/json"
	"go.starlark.net/starlark"
)

var jsonEncode = json.Module.Members["encode"]

// result converts what the function returned: None → empty, bytes as is,
// a string as its UTF-8 bytes, anything else as JSON.
func (r *run) result(th *starlark.Thread, v starlark.Value) ([]byte, error) {
	var out []byte
	switch v := v.(type) {
	case starlark.NoneType:
		return []byte{}, nil
	case starlark.Bytes:
		out = []byte(v)
	case starlark.String:
		out = []byte(v)
	default:
		enc, err := starlark.Call(th, jsonEncode, starlark.Tuple{v}, nil)
		if err != nil {
			if c := r.stopCause(); c != nil {
				return nil, c
			}
			return nil, newError(ErrFailed, nil, fmt.Sprintf("script %q: %s: result of type %s is not JSON-encodable: %v",
				r.prog.Name, r.call.Function, v.Type(), err))
		}
		s, _ := enc.(starlark.String)
		out = []byte(s)
	}
	if int64(len(out)) > r.limits.ResultBytes {
		return nil, newError(ErrBudget, nil, fmt.Sprintf("script %q: result budget of %d bytes exceeded (result is %d bytes)",
			r.prog.Name, r.limits.ResultBytes, len(out)))
	}
	return out, nil
}
