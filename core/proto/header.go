package proto

import (
	"encoding/binary"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Magic opens every frame: "ELL" followed by 0x01, little-endian on the wire.
const Magic uint32 = 0x014c4c45

// Version is the protocol version. Peers with a different major version
// refuse each other; minor versions are compatible and only add features.
const (
	VersionMajor uint8 = 1
	VersionMinor uint8 = 0
)

// HeaderSize is the size of an encoded Header.
const HeaderSize = 120

// Header is the fixed part of every frame.
//
//	off size field
//	  0    4 magic
//	  4    1 version major
//	  5    1 version minor
//	  6    2 reserved, zero
//	  8    4 cmd
//	 12    4 status (int32, 0 or negative errno)
//	 16    8 flags
//	 24    8 trans
//	 32    4 group
//	 36    4 backend (int32, -1 = not set)
//	 40    8 trace id
//	 48    8 payload size
//	 56   64 key id
type Header struct {
	Major, Minor uint8
	Cmd          Cmd
	Status       status.Code
	Flags        Flags
	Trans        uint64
	Group        uint32
	Backend      int32
	TraceID      uint64
	Size         uint64
	ID           id.ID
}

// NewHeader returns a request header for the current protocol version.
func NewHeader(cmd Cmd, trans uint64, key id.ID, group uint32) Header {
	return Header{Major: VersionMajor, Minor: VersionMinor, Cmd: cmd, Trans: trans, ID: key,
		Group: group, Backend: -1}
}

// Reply returns the header of a reply to h with the given status and size.
func (h *Header) Reply(st status.Code, size uint64, more bool) Header {
	r := *h
	r.Major, r.Minor = VersionMajor, VersionMinor
	r.Status = st
	r.Size = size
	r.Flags = (h.Flags &^ (FlagMore | FlagNeedAck)) | FlagReply
	if more {
		r.Flags |= FlagMore
	}
	return r
}

// IsReply reports whether the frame is a reply.
func (h *Header) IsReply() bool { return h.Flags.Has(FlagReply) }

// IsFinal reports whether this is the last reply of its transaction.
func (h *Header) IsFinal() bool { return !h.Flags.Has(FlagMore) }

// Encode writes h into b, which must be at least HeaderSize long.
func (h *Header) Encode(b []byte) {
	_ = b[HeaderSize-1]
	le := binary.LittleEndian
	le.PutUint32(b[0:], Magic)
	b[4], b[5] = h.Major, h.Minor
	b[6], b[7] = 0, 0
	le.PutUint32(b[8:], uint32(h.Cmd))
	le.PutUint32(b[12:], uint32(h.Status))
	le.PutUint64(b[16:], uint64(h.Flags))
	le.PutUint64(b[24:], h.Trans)
	le.PutUint32(b[32:], h.Group)
	le.PutUint32(b[36:], uint32(h.Backend))
	le.PutUint64(b[40:], h.TraceID)
	le.PutUint64(b[48:], h.Size)
	copy(b[56:HeaderSize], h.ID[:])
}

// DecodeHeader parses a header. It checks the magic and the major version;
// it does not judge Size, which the caller checks against its limit.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, status.Errorf(status.Protocol, "header: %d bytes, want %d", len(b), HeaderSize)
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != Magic {
		return h, status.Errorf(status.Protocol, "header: bad magic %#08x", m)
	}
	h.Major, h.Minor = b[4], b[5]
	h.Cmd = Cmd(le.Uint32(b[8:]))
	h.Status = status.Code(int32(le.Uint32(b[12:])))
	h.Flags = Flags(le.Uint64(b[16:]))
	h.Trans = le.Uint64(b[24:])
	h.Group = le.Uint32(b[32:])
	h.Backend = int32(le.Uint32(b[36:]))
	h.TraceID = le.Uint64(b[40:])
	h.Size = le.Uint64(b[48:])
	copy(h.ID[:], b[56:HeaderSize])
	if h.Major != VersionMajor {
		return h, status.Errorf(status.Protocol, "protocol version %d.%d, this side speaks %d.%d",
			h.Major, h.Minor, VersionMajor, VersionMinor)
	}
	return h, nil
}
