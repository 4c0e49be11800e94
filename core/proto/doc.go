// Package proto is the elliptics wire protocol: frame headers, commands,
// flags and the payload structures carried by each command.
//
// Every message is a frame: a fixed 120-byte little-endian header (magic,
// protocol version, command, status, flags, transaction, group, backend,
// trace id, payload size, 64-byte key ID) followed by Size bytes of payload.
// Requests and replies are matched by transaction number; a request may have
// many replies (flag More on all but the last). docs/protocol.md is the
// reference; this package is its executable form.
//
// Decoders never trust a length from the wire: each is checked against a
// limit and the bytes remaining before anything is allocated, and a short or
// malformed buffer yields status.ErrProtocol, never a panic.
package proto
