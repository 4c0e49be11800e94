package proto

import "github.com/elliptics/elliptics/core/status"

// A relayed request (FlagRelay) carries its target in front of its own
// payload: str16 address (at most MaxAddressLen bytes), then the payload
// of the command as it would be sent to the target directly. The header is
// the command's own (cmd, flags, group, backend, id), so the relaying node
// needs to understand nothing of the command to pass it on.

// AppendRelay appends the relay target addr to dst; the command's payload
// follows it.
func AppendRelay(dst []byte, addr string) []byte {
	e := enc{b: dst}
	e.str16(truncate(addr, MaxAddressLen))
	return e.b
}

// DecodeRelay splits a relayed request's payload into the target address
// and the command's payload.
func DecodeRelay(b []byte) (addr string, rest []byte, err error) {
	d := dec{b: b, what: "relay target"}
	addr = d.str16(MaxAddressLen)
	rest = d.rest()
	if d.err != nil {
		return "", nil, d.err
	}
	if addr == "" {
		return "", nil, status.Errorf(status.Invalid, "relay target: empty address")
	}
	return addr, rest, nil
}
