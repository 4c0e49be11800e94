package client

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// AuthConfig makes every new connection prove a secret (AUTH, core/auth)
// before its handshake, and check that the node knows it too. Zero: no
// AUTH is sent.
type AuthConfig struct {
	// ClusterSecret is the cluster's shared secret: what nodes prove to
	// each other (a node's own Node sets it from its configuration).
	ClusterSecret string
	// KeyID and KeySecret are a client key of the nodes (ignored when
	// ClusterSecret is set).
	KeyID     string
	KeySecret string
}

// Enabled reports whether connections authenticate.
func (a *AuthConfig) Enabled() bool { return a.ClusterSecret != "" || a.KeyID != "" }

func (a *AuthConfig) credentials() (auth.Kind, string, []byte) {
	if a.ClusterSecret != "" {
		return auth.KindPeer, "", []byte(a.ClusterSecret)
	}
	return auth.KindClient, a.KeyID, []byte(a.KeySecret)
}

// authenticate runs AUTH on a new connection: hello with our nonce, the
// node's nonce back, our proof, the node's proof back, verified.
func (c *conn) authenticate(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, c.node.cfg.WaitTimeout)
	defer cancel()
	return c.node.runAuth(c.addr, func(payload []byte) ([]byte, error) {
		rep, err := c.roundTrip(actx, proto.NewHeader(proto.CmdAuth, 0, [64]byte{}, 0), payload)
		return rep.payload, err
	})
}

// runAuth is the AUTH exchange over ask, which sends one AUTH payload to
// the node at addr and returns its reply (a connection's round trip, or a
// stream's send and recv).
func (n *Node) runAuth(addr string, ask func(payload []byte) ([]byte, error)) error {
	kind, keyID, secret := n.cfg.Auth.credentials()
	clientNonce, err := auth.Nonce()
	if err != nil {
		return err
	}
	hello := proto.AuthRequest{Step: proto.AuthStepHello, Kind: uint8(kind), KeyID: keyID, Nonce: clientNonce}
	rep, err := ask(hello.Append(nil))
	if err != nil {
		return n.authRefused(addr, err)
	}
	serverNonce, err := proto.DecodeAuthReply(rep)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	proof := proto.AuthRequest{Step: proto.AuthStepProof, Proof: auth.Proof(secret, auth.RoleClient, kind, keyID, clientNonce, serverNonce)}
	rep, err = ask(proof.Append(nil))
	if err != nil {
		return n.authRefused(addr, err)
	}
	if !auth.Verify(secret, auth.RoleServer, kind, keyID, clientNonce, serverNonce, rep) {
		err := fmt.Errorf("node %s: %w (wrong secret, or not a node of this cluster)", addr, auth.ErrServerProof)
		n.log.Error("refusing node: it could not prove the secret", zap.String("remote", addr))
		return err
	}
	return nil
}

// authRefused explains a failed AUTH call.
func (n *Node) authRefused(addr string, err error) error {
	if errors.Is(err, status.ErrUnsupported) {
		return status.Errorf(status.NotPermitted, "node %s does not authenticate (no [security] on it), refusing it: %v", addr, err)
	}
	if errors.Is(err, status.ErrNotPermitted) {
		n.log.Error("refused by "+addr+": "+status.Message(err), zap.String("remote", addr))
		return fmt.Errorf("refused by %s: %w", addr, err)
	}
	return err
}
