package auth

import (
	"errors"

	"github.com/elliptics/elliptics/core/status"
)

// Errors of the exchange. Those a node answers with carry
// status.NotPermitted (-1); errors.Is matches both the sentinel and
// status.ErrNotPermitted.
var (
	// ErrUnknownKey: the key ID (or, for a peer, the cluster secret) is
	// not configured on the node.
	ErrUnknownKey = status.Errorf(status.NotPermitted, "unknown key")
	// ErrBadProof: the proof does not verify (wrong secret).
	ErrBadProof = status.Errorf(status.NotPermitted, "bad proof")
	// ErrServerProof: the node could not prove it knows the secret.
	ErrServerProof = status.Errorf(status.NotPermitted, "node failed to prove the secret")
	// ErrUnauthenticated: a command before AUTH on a node that wants it.
	ErrUnauthenticated = status.Errorf(status.NotPermitted, "authenticate first")
	// ErrForbidden: the connection's key lacks the command's permission.
	ErrForbidden = status.Errorf(status.NotPermitted, "permission denied")
	// ErrNotPeer: a join (HANDSHAKE with node information) without the
	// cluster secret.
	ErrNotPeer = status.Errorf(status.NotPermitted, "joining needs the cluster secret")

	// ErrUnknownPermission: a permission name not read, write or admin.
	ErrUnknownPermission = errors.New("auth: unknown permission")
	// ErrWeakSecret: a secret shorter than MinSecretLen.
	ErrWeakSecret = errors.New("auth: secret too short")
)
