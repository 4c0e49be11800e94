package proto

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

func TestHeaderRoundTrip(t *testing.T) {
	key, _ := id.FromKey("", "k")
	h := NewHeader(CmdWrite, 42, key, 3)
	h.Flags = FlagNeedAck | FlagDirect
	h.Status = status.NotFound
	h.Backend = 7
	h.TraceID = 99
	h.Size = 1234
	var b [HeaderSize]byte
	h.Encode(b[:])
	got, err := DecodeHeader(b[:])
	require.NoError(t, err)
	require.Equal(t, h, got)
}

func TestHeaderErrors(t *testing.T) {
	h := NewHeader(CmdRead, 1, id.Zero, 1)
	var b [HeaderSize]byte
	h.Encode(b[:])

	_, err := DecodeHeader(b[:10])
	require.ErrorIs(t, err, status.ErrProtocol)

	bad := b
	bad[0] ^= 0xff
	_, err = DecodeHeader(bad[:])
	require.ErrorIs(t, err, status.ErrProtocol)
	require.Contains(t, err.Error(), "magic")

	v2 := b
	v2[4] = VersionMajor + 1
	_, err = DecodeHeader(v2[:])
	require.ErrorIs(t, err, status.ErrProtocol)
	require.Contains(t, err.Error(), "version")

	minor := b
	minor[5] = VersionMinor + 5 // newer minor versions are accepted
	_, err = DecodeHeader(minor[:])
	require.NoError(t, err)
}

func TestReply(t *testing.T) {
	h := NewHeader(CmdRead, 5, id.Zero, 2)
	h.Flags = FlagNeedAck | FlagTrace
	r := h.Reply(status.OK, 10, true)
	require.True(t, r.IsReply())
	require.False(t, r.IsFinal())
	require.True(t, r.Flags.Has(FlagTrace))
	require.False(t, r.Flags.Has(FlagNeedAck))
	require.Equal(t, uint64(5), r.Trans)
	r = h.Reply(status.NotFound, 0, false)
	require.True(t, r.IsFinal())
	require.Equal(t, status.NotFound, r.Status)
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	h := NewHeader(CmdWrite, 1, id.Zero, 1)
	require.NoError(t, WriteFrame(&buf, h, []byte("abc"), nil, []byte("def")))
	buf.Write(AppendFrame(nil, NewHeader(CmdRead, 2, id.Zero, 1)))
	big := bytes.Repeat([]byte{7}, 3*readChunk+5)
	require.NoError(t, WriteFrame(&buf, NewHeader(CmdWrite, 3, id.Zero, 1), big))

	r := NewReader(&buf, 0)
	got, p, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, uint64(1), got.Trans)
	require.Equal(t, "abcdef", string(p))
	got, p, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, uint64(2), got.Trans)
	require.Empty(t, p)
	_, p, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, big, p)
	_, _, err = r.Next()
	require.ErrorIs(t, err, io.EOF)
}

func TestFrameLimits(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteFrame(&buf, NewHeader(CmdWrite, 9, id.Zero, 1), make([]byte, 100)))
	h, _, err := NewReader(bytes.NewReader(buf.Bytes()), 99).Next()
	require.ErrorIs(t, err, ErrFrameTooLarge)
	require.Equal(t, uint64(9), h.Trans, "header returned so the caller can reply")

	// A header claiming an enormous payload must not allocate it.
	hb := make([]byte, HeaderSize)
	hh := NewHeader(CmdWrite, 1, id.Zero, 1)
	hh.Size = 1 << 62
	hh.Encode(hb)
	_, _, err = NewReader(bytes.NewReader(hb), 0).Next()
	require.ErrorIs(t, err, ErrFrameTooLarge)

	// Truncated payload.
	cut := buf.Bytes()[:HeaderSize+50]
	_, _, err = NewReader(bytes.NewReader(cut), 0).Next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	// Truncated big payload (chunked read path).
	hh.Size = 5 * readChunk
	hh.Encode(hb)
	_, _, err = NewReader(io.MultiReader(bytes.NewReader(hb), bytes.NewReader(make([]byte, readChunk+3))), 0).Next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestIOAttrRoundTrip(t *testing.T) {
	a := IOAttr{Flags: IOAppend | IOChecksum, Column: "meta", Offset: 1, Size: 2, TotalSize: 3,
		Timestamp: time.Unix(1700000000, 123).UTC(), UserFlags: 0xdead, RecordFlags: RecordAppend}
	require.NoError(t, a.Validate())
	b := a.Append(nil)
	b = append(b, "data"...)
	got, rest, err := DecodeIOAttr(b)
	require.NoError(t, err)
	require.Equal(t, a, got)
	require.Equal(t, "data", string(rest))

	_, _, err = DecodeIOAttr(b[:IOAttrSize-1])
	require.ErrorIs(t, err, status.ErrProtocol)
	_, _, err = DecodeIOAttr(b[:IOAttrSize+2]) // column cut
	require.ErrorIs(t, err, status.ErrProtocol)

	zero := IOAttr{}
	got, _, err = DecodeIOAttr(zero.Append(nil))
	require.NoError(t, err)
	require.True(t, got.Timestamp.IsZero())

	long := IOAttr{Column: string(make([]byte, 300))}
	require.ErrorIs(t, long.Validate(), status.ErrTooLarge)
	require.ErrorIs(t, (&IOAttr{Offset: ^uint64(0), Size: 2}).Validate(), status.ErrInvalid)
}

func TestLookupInfoRoundTrip(t *testing.T) {
	l := LookupInfo{IOAttr: IOAttr{Size: 10, TotalSize: 10, Timestamp: time.Unix(5, 6).UTC()},
		Checksum: id.Transform([]byte("x")), Address: "127.0.0.1:1025", Path: "mem"}
	got, err := DecodeLookupInfo(l.Append(nil))
	require.NoError(t, err)
	require.Equal(t, l, got)
	_, err = DecodeLookupInfo(append(l.Append(nil), 1))
	require.ErrorIs(t, err, status.ErrProtocol)
}

func TestHandshakeRoundTrip(t *testing.T) {
	r := HandshakeRequest{Major: 1, Minor: 0, Name: "cli"}
	got, err := DecodeHandshakeRequest(r.Append(nil))
	require.NoError(t, err)
	require.Equal(t, r, got)

	n := NodeInfo{Major: 1, Version: 42, Addresses: []string{"a:1", "b:2"}, MaxPayload: 77,
		Backends: []BackendInfo{{ID: 0, Group: 1, Points: []id.ID{id.Zero, id.Max}}, {ID: 1, Group: 2, ReadOnly: true}}}
	gn, err := DecodeNodeInfo(n.Append(nil))
	require.NoError(t, err)
	require.Equal(t, n, gn)

	// A count that the bytes cannot hold is refused without allocating.
	b := (&NodeInfo{Major: 1}).Append(nil)
	bad := append([]byte{}, b[:len(b)-4]...)
	bad = append(bad, 0xff, 0x0f, 0, 0)
	_, err = DecodeNodeInfo(bad)
	require.Error(t, err)

	// A joining node describes itself in its handshake.
	jr := HandshakeRequest{Major: 1, Name: "node", Node: &n}
	gj, err := DecodeHandshakeRequest(jr.Append(nil))
	require.NoError(t, err)
	require.Equal(t, jr, gj)
	_, err = DecodeHandshakeRequest(append(r.Append(nil)[:len(r.Append(nil))-1], 7))
	require.Error(t, err)

	rc := RoutesChanged{Node: n, Members: []Member{{Addr: "a:1", Version: 3}, {Addr: "b:2", Version: 9, Node: &n}}}
	grc, err := DecodeRoutesChanged(rc.Append(nil))
	require.NoError(t, err)
	require.Equal(t, rc, grc)
	ms, rest, err := DecodeMembers(AppendMembers(nil, rc.Members))
	require.NoError(t, err)
	require.Empty(t, rest)
	require.Equal(t, rc.Members, ms)
	_, _, err = DecodeMembers([]byte{0xff, 0xff, 0, 0, 1})
	require.Error(t, err)
}

func TestDecodeError(t *testing.T) {
	err := DecodeError(status.NotFound, ErrorPayload(status.Errorf(status.NotFound, "key abc")))
	require.ErrorIs(t, err, status.ErrNotFound)
	require.Equal(t, "key abc: not found (-2)", err.Error())
	require.NoError(t, DecodeError(status.OK, nil))
	var se *status.Error
	require.True(t, errors.As(err, &se))
}

func TestCmdNames(t *testing.T) {
	require.Equal(t, "WRITE", CmdWrite.String())
	require.Equal(t, "CMD_200", Cmd(200).String())
}
