package server

import (
	"fmt"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// AuthOptions turn authentication on (docs/security.md): with a cluster
// secret or any key set, a connection must pass AUTH (core/auth) before
// any command that Anonymous does not allow. Zero: no authentication, every
// connection may do everything.
type AuthOptions struct {
	// ClusterSecret is what nodes prove to each other: a connection that
	// proves it is a peer, allowed everything, and only a peer may join
	// (HANDSHAKE with node information). The node's own connections to
	// its peers prove it too. Empty: no node may join this one.
	ClusterSecret string
	// Keys are the client keys, each with its permissions.
	Keys []auth.Key
	// Anonymous is what a connection may do before AUTH.
	Anonymous auth.Perm
}

// Enabled reports whether the options turn authentication on.
func (o *AuthOptions) Enabled() bool { return o.ClusterSecret != "" || len(o.Keys) > 0 }

// authState is the server's part: the keyring, built once.
type authState struct {
	on   bool
	keys *auth.Keyring
}

func (s *Server) initAuth() error {
	o := &s.opts.Auth
	if !o.Enabled() {
		return nil
	}
	if o.ClusterSecret != "" && len(o.ClusterSecret) < auth.MinSecretLen {
		return fmt.Errorf("server: cluster secret shorter than %d bytes", auth.MinSecretLen)
	}
	keys, err := auth.NewKeyring(o.Keys)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.auth = authState{on: true, keys: keys}
	return nil
}

// connAuth is a connection's authentication: what it proved (set once,
// read by handlers on other goroutines) and the exchange under way (only
// touched by the connection's reader, which serves AUTH inline).
type connAuth struct {
	done atomic.Pointer[authResult]
	// The exchange between step 1 and step 2.
	step        uint8
	kind        auth.Kind
	keyID       string
	clientNonce [auth.NonceSize]byte
	serverNonce [auth.NonceSize]byte
}

type authResult struct {
	kind  auth.Kind
	keyID string
	perms auth.Perm
}

// perms is what the connection may do now.
func (c *conn) perms() auth.Perm {
	if r := c.auth.done.Load(); r != nil {
		return r.perms
	}
	return c.s.opts.Auth.Anonymous
}

// isPeer reports whether the connection proved the cluster secret (or the
// node does not authenticate at all).
func (c *conn) isPeer() bool {
	if !c.s.auth.on {
		return true
	}
	r := c.auth.done.Load()
	return r != nil && r.kind == auth.KindPeer
}

// cmdPerm is the permission a command needs.
func cmdPerm(cmd proto.Cmd) auth.Perm {
	switch cmd {
	case proto.CmdLookup, proto.CmdRead, proto.CmdReadRange, proto.CmdBulkRead, proto.CmdIterator,
		proto.CmdNotify, proto.CmdMonitorStat, proto.CmdRouteList, proto.CmdBackendStatus, proto.CmdHandshake:
		return auth.Read
	case proto.CmdWrite, proto.CmdRemove, proto.CmdRemoveRange, proto.CmdBulkWrite, proto.CmdExec:
		return auth.Write
	}
	// BACKEND_CONTROL, RECOVERY (node removal included), SEND, extensions.
	return auth.Admin
}

// permit checks a request (a relayed one by its inner command, which is
// the header's) against the connection's permissions; the node
// authenticates.
func (c *conn) permit(h *proto.Header, payload []byte) error {
	perms := c.perms()
	body := payload
	if h.Flags.Has(proto.FlagRelay) {
		_, body, _ = proto.DecodeRelay(payload)
	}
	if h.Cmd == proto.CmdHandshake && !c.isPeer() {
		if hr, err := proto.DecodeHandshakeRequest(body); err == nil && hr.Node != nil {
			c.log.Warn(fmt.Sprintf("node %v tried to join without the cluster secret", hr.Node.Addresses),
				zap.String("remote", c.nc.RemoteAddr().String()))
			return auth.ErrNotPeer
		}
	}
	need := cmdPerm(h.Cmd)
	if h.Cmd == proto.CmdIterator {
		// A server-send iterator copies (or moves: removes the source)
		// records to other groups, as SEND does: admin, not read.
		if ir, err := proto.DecodeIteratorRequest(body); err == nil && ir.Type == proto.IterTypeServerSend {
			need = auth.Admin
		}
	}
	if perms.Has(need) {
		return nil
	}
	if c.auth.done.Load() == nil {
		return status.Errorf(status.NotPermitted, "authenticate first (%s needs %s)", h.Cmd, need)
	}
	return status.Errorf(status.NotPermitted, "%s needs %s permission, key has %s", h.Cmd, need, perms)
}

// serveAuth answers one AUTH step, on the reader's goroutine so the
// connection's permissions are set before its next request is read.
func (c *conn) serveAuth(h *proto.Header, payload []byte) {
	parts, err := c.authStep(payload)
	if err != nil {
		c.s.mon.refused(h, payload)
	}
	c.finish(h, parts, err)
}

func (c *conn) authStep(payload []byte) ([][]byte, error) {
	if !c.s.auth.on {
		return nil, status.Errorf(status.Unsupported, "this node does not authenticate")
	}
	r, err := proto.DecodeAuthRequest(payload)
	if err != nil {
		return nil, err
	}
	a := &c.auth
	if a.done.Load() != nil {
		return nil, status.Errorf(status.Already, "connection already authenticated")
	}
	switch r.Step {
	case proto.AuthStepHello:
		nonce, err := auth.Nonce()
		if err != nil {
			return nil, err
		}
		a.step, a.kind, a.keyID, a.clientNonce, a.serverNonce = 1, auth.Kind(r.Kind), r.KeyID, r.Nonce, nonce
		return [][]byte{nonce[:]}, nil
	case proto.AuthStepProof:
		if a.step != 1 {
			return nil, status.Errorf(status.Invalid, "auth: proof before hello")
		}
		a.step = 0 // one proof per hello: no guessing on the same nonces
		secret, perms, ok := c.s.authSecret(a.kind, a.keyID)
		if !ok {
			c.log.Warn("authentication refused: unknown key", zap.Stringer("kind", a.kind), zap.String("key_id", a.keyID))
			return nil, auth.ErrUnknownKey
		}
		if !auth.Verify(secret, auth.RoleClient, a.kind, a.keyID, a.clientNonce, a.serverNonce, r.Proof[:]) {
			if a.kind == auth.KindPeer {
				c.log.Warn("node " + c.nc.RemoteAddr().String() + " tried to join with a wrong cluster secret: refused")
				return nil, auth.ErrBadProof
			}
			c.log.Warn("authentication refused: bad proof", zap.Stringer("kind", a.kind), zap.String("key_id", a.keyID))
			return nil, auth.ErrBadProof
		}
		a.done.Store(&authResult{kind: a.kind, keyID: a.keyID, perms: perms})
		c.log.Debug("authenticated", zap.Stringer("kind", a.kind), zap.String("key_id", a.keyID), zap.Stringer("perms", perms))
		proof := auth.Proof(secret, auth.RoleServer, a.kind, a.keyID, a.clientNonce, a.serverNonce)
		return [][]byte{proof[:]}, nil
	}
	return nil, status.Errorf(status.Invalid, "auth: unknown step %d", r.Step)
}

// authSecret returns the secret and permissions of a kind and key ID.
func (s *Server) authSecret(kind auth.Kind, keyID string) ([]byte, auth.Perm, bool) {
	switch kind {
	case auth.KindPeer:
		if s.opts.Auth.ClusterSecret == "" {
			return nil, 0, false
		}
		return []byte(s.opts.Auth.ClusterSecret), auth.All, true
	case auth.KindClient:
		k, ok := s.auth.keys.Lookup(keyID)
		if !ok {
			return nil, 0, false
		}
		return []byte(k.Secret), k.Perms, true
	}
	return nil, 0, false
}
