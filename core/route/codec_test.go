package route

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/stretchr/testify/require"
)

func sampleTable(t testing.TB) *Table {
	tab, err := New([]Backend{
		{Addr: "10.0.0.2:1025", Group: 1, ID: 0, Points: pts("c0", "10")},
		{Addr: "10.0.0.1:1025", Group: 1, ID: 3, Points: pts("80"), ReadOnly: true},
		{Addr: "[::1]:2000", Group: 4, ID: 7, Points: pts("zero", "max")},
	})
	require.NoError(t, err)
	return tab.WithVersion(0x0102030405060708)
}

func TestCodecLayout(t *testing.T) {
	tab, err := New([]Backend{{Addr: "a:1", Group: 2, ID: 3, Points: pts("ab"), ReadOnly: true}})
	require.NoError(t, err)
	tab = tab.WithVersion(9)
	want := []byte{1} // format
	want = binary.LittleEndian.AppendUint64(want, 9)
	want = binary.LittleEndian.AppendUint32(want, 1) // backends
	want = append(want, 3, 0, 'a', ':', '1')         // address
	want = append(want, 2, 0, 0, 0, 3, 0, 0, 0, 1)   // group, id, flags
	want = append(want, 1, 0, 0xab)                  // one point
	want = append(want, make([]byte, id.Size-1)...)
	require.Equal(t, want, tab.AppendBinary(nil))
	// AppendBinary appends.
	require.Equal(t, append([]byte("xy"), want...), tab.AppendBinary([]byte("xy")))
}

func TestCodecRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	big, err := New(randomBackends(rng, 100, 3, 16, false))
	require.NoError(t, err)
	empty, err := New(nil)
	require.NoError(t, err)
	for name, tab := range map[string]*Table{"sample": sampleTable(t), "random": big.WithVersion(77), "empty": empty} {
		t.Run(name, func(t *testing.T) {
			enc := tab.AppendBinary(nil)
			got, err := DecodeTable(enc, Limits{})
			require.NoError(t, err)
			require.True(t, tab.Equal(got))
			require.Equal(t, tab.Version(), got.Version())
			require.Equal(t, enc, got.AppendBinary(nil), "encoding is canonical")
			checkCoverageIfAny(t, got)
		})
	}
}

func checkCoverageIfAny(t *testing.T, tab *Table) {
	if tab.Len() > 0 {
		checkCoverage(t, tab)
	}
}

func TestDecodeTableErrors(t *testing.T) {
	enc := sampleTable(t).AppendBinary(nil)

	// Every truncation is a protocol error, never a panic.
	for n := 0; n < len(enc); n++ {
		_, err := DecodeTable(enc[:n], Limits{})
		require.ErrorIs(t, err, status.ErrProtocol, "truncated to %d bytes", n)
	}

	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(enc)) }
	const first = 1 + 8 + 4 // offset of the first backend
	// Offsets inside the first backend ("10.0.0.1:1025", 13 bytes).
	const group, bid, flags, npoints = first + 2 + 13, first + 2 + 13 + 4, first + 2 + 13 + 8, first + 2 + 13 + 9
	for _, tc := range []struct {
		name   string
		b      []byte
		limits Limits
		is     error
		msg    string
	}{
		{"trailing bytes", append(bytes.Clone(enc), 0), Limits{}, status.ErrProtocol, "1 trailing bytes"},
		{"format", mod(func(b []byte) []byte { b[0] = 2; return b }), Limits{}, status.ErrProtocol, "encoding format 2"},
		{"backend count over the bytes", mod(func(b []byte) []byte { b[9] = 200; return b }), Limits{}, status.ErrProtocol, "truncated"},
		{"backend count over the limit", mod(func(b []byte) []byte { b[12] = 0xff; return b }), Limits{}, status.ErrTooLarge, "at most 65536"},
		{"tight backend limit", enc, Limits{MaxBackends: 2}, status.ErrTooLarge, "3 backends, at most 2"},
		{"tight point limit", enc, Limits{MaxPoints: 1}, status.ErrTooLarge, "2 points, at most 1"},
		{"long address", mod(func(b []byte) []byte { b[first], b[first+1] = 0, 1; return b }), Limits{}, status.ErrProtocol, "256 bytes"},
		{"unknown flags", mod(func(b []byte) []byte { b[flags] |= 4; return b }), Limits{}, status.ErrProtocol, "unknown flags 0x5"},
		{"point count over the bytes", mod(func(b []byte) []byte { b[npoints+1] = 1; return b }), Limits{}, status.ErrProtocol, "truncated"},
		{"point count over the limit", mod(func(b []byte) []byte { b[npoints+1] = 0x20; return b }), Limits{}, status.ErrTooLarge, "at most 4096"},
		{"group 0", mod(func(b []byte) []byte { b[group] = 0; return b }), Limits{}, ErrInvalid, "group 0"},
		{"negative id", mod(func(b []byte) []byte { b[bid+3] = 0x80; return b }), Limits{}, ErrInvalid, "negative"},
		{"no points", func() []byte {
			tab, _ := New([]Backend{{Addr: "a:1", Group: 1, Points: pts("10")}})
			b := tab.AppendBinary(nil)
			b = b[:len(b)-id.Size]
			b[len(b)-2] = 0
			return b
		}(), Limits{}, ErrInvalid, "no ring points"},
		{"bad address", mod(func(b []byte) []byte { b[first+2+8] = 'x'; return b }), Limits{}, ErrInvalid, "want host:port"},
		{"conflict", mod(func(b []byte) []byte {
			// Make backend 10.0.0.1:1025/3 (group 1, point 80..) announce 10...
			b[npoints+2] = 0x10
			return b
		}), Limits{}, ErrConflict, "10.0.0.1:1025/3 and 10.0.0.2:1025/0"},
		{"duplicate backend", func() []byte {
			tab, _ := New([]Backend{{Addr: "a:1", Group: 1, Points: pts("10")}, {Addr: "a:2", Group: 1, Points: pts("20")}})
			b := tab.AppendBinary(nil)
			b[first+80+2+2] = '1' // the second backend's a:2 → a:1
			return b
		}(), Limits{}, ErrInvalid, "a:1/0 listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTable(tc.b, tc.limits)
			require.ErrorIs(t, err, tc.is)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestBackendsCodec(t *testing.T) {
	bs := []Backend{
		{Addr: "n:1", Group: 2, ID: 1, Points: pts("90", "30"), ReadOnly: true},
		{Addr: "n:1", Group: 1, ID: 0, Points: pts("50")},
	}
	enc, err := EncodeBackends([]byte("hdr"), bs)
	require.NoError(t, err)
	require.Equal(t, "hdr", string(enc[:3]))
	got, err := DecodeBackends(enc[3:], Limits{})
	require.NoError(t, err)
	require.Equal(t, []Backend{
		{Addr: "n:1", Group: 1, ID: 0, Points: pts("50")},
		{Addr: "n:1", Group: 2, ID: 1, Points: pts("30", "90"), ReadOnly: true},
	}, got)
	require.Equal(t, pts("90", "30"), bs[0].Points, "EncodeBackends must not sort the caller's slice")

	// Invalid lists are refused when encoding, and when decoding.
	_, err = EncodeBackends(nil, []Backend{{Addr: "n:1", Group: 0, Points: pts("50")}})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = EncodeBackends(nil, []Backend{{Addr: "n:1", Group: 1, Points: pts("50")}, {Addr: "n:1", Group: 1, ID: 1, Points: pts("50")}})
	require.ErrorIs(t, err, ErrConflict)
	for n := 0; n < len(enc)-3; n++ {
		_, err := DecodeBackends(enc[3:3+n], Limits{})
		require.ErrorIs(t, err, status.ErrProtocol, "truncated to %d bytes", n)
	}
	_, err = DecodeBackends(enc[3:], Limits{MaxBackends: 1})
	require.ErrorIs(t, err, status.ErrTooLarge)
	// An empty list is fine.
	enc, err = EncodeBackends(nil, nil)
	require.NoError(t, err)
	got, err = DecodeBackends(enc, Limits{})
	require.NoError(t, err)
	require.Empty(t, got)
}
