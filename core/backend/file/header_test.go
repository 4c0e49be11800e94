package file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func sampleHeader(data []byte) header {
	h := header{UserFlags: 0x0102030405060708, Size: uint64(len(data)), DataSum: dataSum(data)}
	h.setTimestamp(time.Unix(1_700_000_000, 123_456_789))
	return h
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name   string
		column string
		ts     time.Time
		flags  uint64
		data   []byte
	}{
		{"default column", "", time.Unix(1_700_000_000, 123_456_789), 1, []byte("data")},
		{"named column", "meta", time.Unix(0, 0), 0, nil},
		{"binary column", "a/\x00/..\xff", time.Unix(-1, 999_999_999), math.MaxUint64, []byte{0}},
		{"longest column", strings.Repeat("x", MaxColumnLen), time.Unix(math.MaxInt64/2, 1), 7, make([]byte, 1000)},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := header{UserFlags: c.flags, Size: uint64(len(c.data)), DataSum: dataSum(c.data),
				Expire: c.ts.UnixNano(), Flags: uint16(c.flags & flagUncommitted)}
			h.setTimestamp(c.ts)
			enc := encodeHeader([]byte("prefix"), &h, c.column)
			require.Equal(t, []byte("prefix"), enc[:6], "encodeHeader appends")
			enc = enc[6:]
			require.Len(t, enc, headerSize(c.column))
			require.Equal(t, headerMagic, string(enc[:4]))

			file := append(append([]byte(nil), enc...), c.data...)
			got, column, n, err := decodeHeader(file)
			require.NoError(t, err)
			h.Len = len(enc)
			require.Equal(t, h, got)
			require.Equal(t, c.column, column)
			require.Equal(t, len(enc), n)
			require.True(t, c.ts.Equal(got.Timestamp()), "timestamp %v want %v", got.Timestamp(), c.ts)
			require.True(t, bytes.Equal(c.data, file[n:]), "data follows the header")
		})
	}
}

func TestDecodeHeaderRejects(t *testing.T) {
	good := encodeHeader(nil, ptr(sampleHeader([]byte("abc"))), "col")
	le := binary.LittleEndian
	resum := func(b []byte) []byte {
		// Recompute the header checksum so only the field under test is bad.
		le.PutUint64(b[56:], headerSum(b, fixedHeaderSize, string(b[fixedHeaderSize:fixedHeaderSize+int(le.Uint16(b[8:]))])))
		return b
	}
	cases := []struct {
		name string
		mod  func(b []byte) []byte
		msg  string
	}{
		{"empty", func([]byte) []byte { return nil }, "truncated"},
		{"short fixed part", func(b []byte) []byte { return b[:fixedHeaderSize-1] }, "truncated"},
		{"short name", func(b []byte) []byte { return b[:fixedHeaderSize+2] }, "truncated"},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic"},
		{"version", func(b []byte) []byte { le.PutUint16(b[4:], 3); return resum(b) }, "version"},
		{"flags", func(b []byte) []byte { le.PutUint16(b[6:], 2); return resum(b) }, "flags"},
		{"name too long", func(b []byte) []byte { le.PutUint16(b[8:], MaxColumnLen+1); return b }, "limit"},
		{"reserved", func(b []byte) []byte { le.PutUint16(b[10:], 1); return resum(b) }, "reserved"},
		{"nanoseconds", func(b []byte) []byte { le.PutUint32(b[12:], 1e9); return resum(b) }, "nanoseconds"},
		{"flipped timestamp", func(b []byte) []byte { b[17] ^= 1; return b }, "checksum"},
		{"flipped user flags", func(b []byte) []byte { b[24] ^= 0x80; return b }, "checksum"},
		{"flipped size", func(b []byte) []byte { b[32] ^= 1; return b }, "checksum"},
		{"flipped data sum", func(b []byte) []byte { b[40] ^= 1; return b }, "checksum"},
		{"flipped expiry", func(b []byte) []byte { b[50] ^= 1; return b }, "checksum"},
		{"flipped header sum", func(b []byte) []byte { b[63] ^= 1; return b }, "checksum"},
		{"flipped name", func(b []byte) []byte { b[fixedHeaderSize] ^= 1; return b }, "checksum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mod(append([]byte(nil), good...))
			_, _, _, err := decodeHeader(b)
			require.Error(t, err)
			require.True(t, errors.Is(err, errHeader), "%v", err)
			require.Contains(t, err.Error(), c.msg)
		})
	}
}

// TestDecodeHeaderVersion1 reads a header written before on-disk TTL (no
// expiry field, checksum at 48): it decodes as committed and never expiring.
func TestDecodeHeaderVersion1(t *testing.T) {
	le := binary.LittleEndian
	h := sampleHeader([]byte("abc"))
	v2 := encodeHeader(nil, &h, "col")
	v1 := append([]byte(nil), v2[:48]...)
	le.PutUint16(v1[4:], headerVersion1)
	v1 = le.AppendUint64(v1, 0)
	v1 = append(v1, "col"...)
	le.PutUint64(v1[48:], headerSum(v1, fixedHeaderV1, "col"))
	got, column, n, err := decodeHeader(append(v1, "abc"...))
	require.NoError(t, err)
	require.Equal(t, "col", column)
	require.Equal(t, fixedHeaderV1+3, n)
	require.Zero(t, got.Expire)
	require.True(t, got.visible(time.Now()))
	require.Equal(t, h.Size, got.Size)
	le.PutUint16(v1[6:], flagUncommitted)
	le.PutUint64(v1[48:], headerSum(v1, fixedHeaderV1, "col"))
	_, _, _, err = decodeHeader(v1)
	require.ErrorIs(t, err, errHeader, "version 1 knows no flags")
}

func ptr[T any](v T) *T { return &v }

// FuzzDecodeHeader checks that no input makes the decoder panic, and that
// whatever it accepts encodes back to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	f.Add(encodeHeader(nil, ptr(sampleHeader([]byte("abc"))), ""))
	f.Add(append(encodeHeader(nil, ptr(sampleHeader([]byte("abc"))), "meta"), "abc"...))
	f.Add(encodeHeader(nil, ptr(sampleHeader(nil)), strings.Repeat("\xff", MaxColumnLen)))
	f.Add([]byte(headerMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, column, n, err := decodeHeader(b)
		if err != nil {
			require.True(t, errors.Is(err, errHeader), "%v", err)
			return
		}
		if binary.LittleEndian.Uint16(b[4:]) == headerVersion1 {
			require.Equal(t, fixedHeaderV1+len(column), n)
			return // a version 1 header re-encodes as version 2
		}
		require.Equal(t, headerSize(column), n)
		require.LessOrEqual(t, n, len(b))
		require.LessOrEqual(t, len(column), MaxColumnLen)
		require.Less(t, h.Nsec, uint32(1e9))
		again := encodeHeader(nil, &h, column)
		require.True(t, bytes.Equal(b[:n], again), "re-encoding differs")
	})
}
