package proto

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/status"
)

func TestExecRequestRoundTrip(t *testing.T) {
	r := ExecRequest{
		Flags:  ExecNoKey,
		Limits: ExecLimits{Steps: 5, Timeout: 1500 * time.Millisecond, ReadBytes: 1, WriteBytes: 2, ResultBytes: 3, Memory: 4},
		Groups: []uint32{3, 1}, Script: "counter.v2", Function: "incr", Namespace: "ns", Data: []byte("input"),
	}
	got, err := DecodeExecRequest(r.Append(nil))
	require.NoError(t, err)
	require.Equal(t, r, got)

	rep := ExecReply{Address: "127.0.0.1:1025", Group: 2, Duration: 1234 * time.Microsecond, Result: []byte("out")}
	back, err := DecodeExecReply(append(rep.AppendHead(nil), rep.Result...))
	require.NoError(t, err)
	require.Equal(t, rep, back)
}

func TestExecRequestRejects(t *testing.T) {
	good := ExecRequest{Groups: []uint32{1}, Script: "s", Function: "f", Key: "k"}
	for name, tc := range map[string]struct {
		mod  func(*ExecRequest)
		code status.Code
	}{
		"no function":    {func(r *ExecRequest) { r.Function = "" }, status.Invalid},
		"no key":         {func(r *ExecRequest) { r.Key = "" }, status.Invalid},
		"bad name":       {func(r *ExecRequest) { r.Script = "../x" }, status.Invalid},
		"empty name":     {func(r *ExecRequest) { r.Script = "" }, status.Invalid},
		"unknown flag":   {func(r *ExecRequest) { r.Flags = 1 << 7 }, status.Invalid},
		"huge timeout":   {func(r *ExecRequest) { r.Limits.Timeout = 48 * time.Hour }, status.Invalid},
		"too many group": {func(r *ExecRequest) { r.Groups = make([]uint32, MaxExecGroups+1) }, status.TooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			r := good
			tc.mod(&r)
			_, err := DecodeExecRequest(r.Append(nil))
			require.Error(t, err)
			require.Equal(t, tc.code, status.FromError(err))
		})
	}
	// Invalidation needs no function or key; fan-outs need no key.
	_, err := DecodeExecRequest((&ExecRequest{Flags: ExecInvalidate, Script: "s"}).Append(nil))
	require.NoError(t, err)
	_, err = DecodeExecRequest((&ExecRequest{Flags: ExecNoKey, Script: "s", Function: "f"}).Append(nil))
	require.NoError(t, err)
	// Truncated at every length: an error, never a panic.
	b := good.Append(nil)
	for i := range len(b) - 1 {
		_, err := DecodeExecRequest(b[:i])
		require.Error(t, err, "truncated at %d", i)
	}
}

func TestParseEvent(t *testing.T) {
	s, f, err := ParseEvent("counter@incr")
	require.NoError(t, err)
	require.Equal(t, []string{"counter", "incr"}, []string{s, f})
	for _, bad := range []string{"counter", "counter@", "@incr", "a/b@f", ".x@f"} {
		_, _, err := ParseEvent(bad)
		require.Error(t, err, bad)
	}
}
