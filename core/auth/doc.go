// Package auth is the challenge-response that opens an authenticated
// connection (command AUTH, docs/protocol.md §4.19): HMAC-SHA256 over both
// sides' random nonces, so the secret never crosses the wire and a proof
// cannot be replayed on another connection.
//
// Both sides send a 32-byte nonce. The prover answers
//
//	HMAC-SHA256(secret, "elliptics-auth-v1" || role || u16 len(key_id) || key_id || client_nonce || server_nonce)
//
// with role RoleClient; the node proves itself back with RoleServer, so a
// client or a joining node learns that the node knows the secret too.
// Keys carry permissions (Read, Write, Admin); the cluster secret makes a
// connection a peer, which may do everything, joins included.
package auth
