package proto

import "github.com/elliptics/elliptics/core/status"

// AUTH (docs/protocol.md §4.19) opens a connection to a node that wants
// authentication, before HANDSHAKE: two round trips of a challenge-response
// (core/auth computes the proofs).
//
//	step 1 request: u8 step = 1, u8 kind, str16 key_id (≤ MaxKeyIDLen), 32 bytes client nonce
//	step 1 reply:   32 bytes server nonce
//	step 2 request: u8 step = 2, 32 bytes client proof
//	step 2 reply:   32 bytes server proof
//
// Every part has a fixed length: anything shorter or longer is Protocol.

// AuthNonceSize and AuthProofSize are the lengths of a nonce and a proof.
const (
	AuthNonceSize = 32
	AuthProofSize = 32
	// MaxKeyIDLen bounds the key ID of an AUTH request.
	MaxKeyIDLen = 255
)

// Steps of AUTH.
const (
	AuthStepHello uint8 = 1
	AuthStepProof uint8 = 2
)

// Kinds of AUTH: what the connection authenticates as.
const (
	AuthKindPeer   uint8 = 1 // the cluster secret
	AuthKindClient uint8 = 2 // a client key
)

// AuthRequest is one step of AUTH. Hello carries Kind, KeyID and Nonce;
// Proof carries Proof.
type AuthRequest struct {
	Step  uint8
	Kind  uint8
	KeyID string
	Nonce [AuthNonceSize]byte
	Proof [AuthProofSize]byte
}

// Append encodes the request.
func (r *AuthRequest) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.u8(r.Step)
	switch r.Step {
	case AuthStepHello:
		e.u8(r.Kind)
		e.str16(truncate(r.KeyID, MaxKeyIDLen))
		e.raw(r.Nonce[:])
	case AuthStepProof:
		e.raw(r.Proof[:])
	}
	return e.b
}

// DecodeAuthRequest parses an AUTH request.
func DecodeAuthRequest(b []byte) (AuthRequest, error) {
	d := dec{b: b, what: "auth request"}
	var r AuthRequest
	r.Step = d.u8()
	switch {
	case d.err != nil:
	case r.Step == AuthStepHello:
		r.Kind = d.u8()
		r.KeyID = d.str16(MaxKeyIDLen)
		copy(r.Nonce[:], d.bytes(AuthNonceSize))
		if d.err == nil && r.Kind != AuthKindPeer && r.Kind != AuthKindClient {
			return AuthRequest{}, status.Errorf(status.Invalid, "auth request: unknown kind %d", r.Kind)
		}
	case r.Step == AuthStepProof:
		copy(r.Proof[:], d.bytes(AuthProofSize))
	default:
		return AuthRequest{}, status.Errorf(status.Invalid, "auth request: unknown step %d", r.Step)
	}
	if err := d.done(); err != nil {
		return AuthRequest{}, err
	}
	return r, nil
}

// DecodeAuthReply parses an AUTH reply: a nonce (step 1) or a proof (step
// 2), both exactly 32 bytes.
func DecodeAuthReply(b []byte) ([32]byte, error) {
	var v [32]byte
	d := dec{b: b, what: "auth reply"}
	copy(v[:], d.bytes(len(v)))
	return v, d.done()
}
