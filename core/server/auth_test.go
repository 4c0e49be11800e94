package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

const (
	testClusterSecret = "cluster-secret-0123456789"
	readSecret        = "reader-secret-0123456789"
	writeSecret       = "writer-secret-0123456789"
	adminSecret       = "admin-secret-0123456789"
)

var testAuth = AuthOptions{
	ClusterSecret: testClusterSecret,
	Keys: []auth.Key{
		{ID: "reader", Secret: readSecret, Perms: auth.Read},
		{ID: "writer", Secret: writeSecret, Perms: auth.Read | auth.Write},
		{ID: "admin", Secret: adminSecret, Perms: auth.All},
	},
}

func startAuthServer(t *testing.T, a AuthOptions) *Server {
	return startServer(t, func(o *Options) { o.Auth = a }, nil)
}

// authSession connects a client with the given credentials.
func authSession(t *testing.T, s *Server, a client.AuthConfig) (*client.Session, error) {
	t.Helper()
	n := client.NewNode(client.Config{WaitTimeout: 5 * time.Second, Auth: a})
	t.Cleanup(func() { n.Close() })
	if err := n.AddRemotes(context.Background(), s.Addrs()[0].String()); err != nil {
		return nil, err
	}
	sess := client.NewSession(n)
	sess.SetGroups(1)
	return sess, nil
}

// authRaw runs AUTH on a raw connection with a client key.
func (c *rawConn) authRaw(keyID, secret string) (proto.Header, []byte) {
	cn, err := auth.Nonce()
	require.NoError(c.t, err)
	hello := proto.AuthRequest{Step: proto.AuthStepHello, Kind: proto.AuthKindClient, KeyID: keyID, Nonce: cn}
	c.send(proto.NewHeader(proto.CmdAuth, 100, [64]byte{}, 0), hello.Append(nil))
	h, p := c.recv()
	require.Equal(c.t, status.OK, h.Status)
	sn, err := proto.DecodeAuthReply(p)
	require.NoError(c.t, err)
	proof := proto.AuthRequest{Step: proto.AuthStepProof, Proof: auth.Proof([]byte(secret), auth.RoleClient, auth.KindClient, keyID, cn, sn)}
	c.send(proto.NewHeader(proto.CmdAuth, 101, [64]byte{}, 0), proof.Append(nil))
	return c.recv()
}

func TestAuthRequiredBeforeCommands(t *testing.T) {
	s := startAuthServer(t, testAuth)
	c := dialRaw(t, s)
	c.send(readFrame(1, "k", 1), (&proto.IOAttr{}).Append(nil))
	h, p := c.recv()
	require.Equal(t, status.NotPermitted, h.Status)
	require.Contains(t, proto.DecodeError(h.Status, p).Error(), "authenticate first")
	c.send(proto.NewHeader(proto.CmdBackendStatus, 2, [64]byte{}, 0))
	h, _ = c.recv()
	require.Equal(t, status.NotPermitted, h.Status)

	// A client without credentials cannot even handshake.
	_, err := authSession(t, s, client.AuthConfig{})
	require.ErrorIs(t, err, status.ErrNotPermitted)
}

func TestAuthAnonymousRead(t *testing.T) {
	a := testAuth
	a.Anonymous = auth.Read
	s := startAuthServer(t, a)
	c := dialRaw(t, s)
	c.send(readFrame(1, "k", 1), (&proto.IOAttr{}).Append(nil))
	h, _ := c.recv()
	require.Equal(t, status.NotFound, h.Status) // served: the key is missing
	hw, parts := writeFrame(2, "k", 1, "x", 0)
	c.send(hw, parts...)
	h, _ = c.recv()
	require.Equal(t, status.NotPermitted, h.Status)
}

func TestAuthPermissions(t *testing.T) {
	s := startAuthServer(t, testAuth)
	ctx := context.Background()
	addr := s.Addrs()[0].String()

	admin, err := authSession(t, s, client.AuthConfig{KeyID: "admin", KeySecret: adminSecret})
	require.NoError(t, err)
	_, err = admin.Write(ctx, client.NewKey("k"), []byte("v"))
	require.NoError(t, err)
	_, err = admin.BackendStatus(ctx, addr)
	require.NoError(t, err)
	_, err = admin.MakeReadOnly(ctx, addr, 0)
	require.NoError(t, err)
	_, err = admin.MakeWritable(ctx, addr, 0)
	require.NoError(t, err)
	_, err = admin.RecoveryStatus(ctx, addr)
	require.NoError(t, err)

	reader, err := authSession(t, s, client.AuthConfig{KeyID: "reader", KeySecret: readSecret})
	require.NoError(t, err)
	e, err := reader.Read(ctx, client.NewKey("k"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "v", string(e.Data))
	_, err = reader.Write(ctx, client.NewKey("k"), []byte("w"))
	require.ErrorIs(t, err, status.ErrNotPermitted)
	require.Contains(t, err.Error(), "WRITE needs write")

	writer, err := authSession(t, s, client.AuthConfig{KeyID: "writer", KeySecret: writeSecret})
	require.NoError(t, err)
	_, err = writer.Write(ctx, client.NewKey("k"), []byte("w"))
	require.NoError(t, err)
	_, err = writer.MakeReadOnly(ctx, addr, 0)
	require.ErrorIs(t, err, status.ErrNotPermitted)
	_, err = writer.RecoveryStatus(ctx, addr)
	require.ErrorIs(t, err, status.ErrNotPermitted)
	require.ErrorIs(t, writer.ForgetNode(ctx, addr, "127.0.0.1:1"), status.ErrNotPermitted)

	e, err = admin.Read(ctx, client.NewKey("k"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "w", string(e.Data), "the refused write reached the backend")

	// A reader may iterate, but not copy or move records to other groups
	// (a server-send iterator writes, and removes with Move, like SEND).
	it, err := reader.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Group: 1})
	require.NoError(t, err)
	n := 0
	for range it.Entries() {
		n++
	}
	require.NoError(t, it.Err())
	require.Equal(t, 1, n)
	it.Close()
	_, err = reader.StartIterator(ctx, client.IteratorOptions{Address: addr, Backend: 0, Group: 1, CopyTo: []uint32{2}, Move: true})
	require.ErrorIs(t, err, status.ErrNotPermitted)
	require.ErrorContains(t, err, "ITERATOR needs admin")
}

// A relayed request is checked by its inner command before it is relayed.
func TestAuthRelayChecksInnerCommand(t *testing.T) {
	s := startAuthServer(t, testAuth)
	c := dialRaw(t, s)
	h, _ := c.authRaw("reader", readSecret)
	require.Equal(t, status.OK, h.Status)
	hw, parts := writeFrame(3, "k", 1, "x", 0)
	hw.Flags |= proto.FlagRelay
	c.send(hw, append([][]byte{proto.AppendRelay(nil, "10.0.0.1:1025")}, parts...)...)
	h, p := c.recv()
	require.Equal(t, status.NotPermitted, h.Status, "%v", proto.DecodeError(h.Status, p))
	// A relayed read is allowed through the check (and then refused for its
	// unknown target, not for permissions).
	hr := readFrame(4, "k", 1)
	hr.Flags |= proto.FlagRelay
	c.send(hr, proto.AppendRelay(nil, "10.0.0.1:1025"), (&proto.IOAttr{}).Append(nil))
	h, _ = c.recv()
	require.Equal(t, status.NoRoute, h.Status)
}

func TestAuthWrongSecretRefused(t *testing.T) {
	s := startAuthServer(t, testAuth)
	_, err := authSession(t, s, client.AuthConfig{KeyID: "reader", KeySecret: "not-the-reader-secret"})
	require.ErrorIs(t, err, status.ErrNotPermitted)
	require.Contains(t, err.Error(), "bad proof")
	_, err = authSession(t, s, client.AuthConfig{KeyID: "nobody", KeySecret: readSecret})
	require.ErrorIs(t, err, status.ErrNotPermitted)
	require.Contains(t, err.Error(), "unknown key")

	// One proof per hello: a second proof on the same nonces is refused.
	c := dialRaw(t, s)
	h, _ := c.authRaw("reader", "wrong-secret-0123456789")
	require.Equal(t, status.NotPermitted, h.Status)
	c.send(proto.NewHeader(proto.CmdAuth, 102, [64]byte{}, 0), (&proto.AuthRequest{Step: proto.AuthStepProof}).Append(nil))
	h, _ = c.recv()
	require.Equal(t, status.Invalid, h.Status)
	c.send(readFrame(5, "k", 1), (&proto.IOAttr{}).Append(nil))
	h, _ = c.recv()
	require.Equal(t, status.NotPermitted, h.Status)
}

// A client with credentials refuses a node that does not authenticate.
func TestAuthClientRefusesPlainNode(t *testing.T) {
	s := startServer(t, nil, nil)
	_, err := authSession(t, s, client.AuthConfig{KeyID: "reader", KeySecret: readSecret})
	require.ErrorIs(t, err, status.ErrNotPermitted)
	require.Contains(t, err.Error(), "does not authenticate")
	// And plain clients still work on it.
	_, err = authSession(t, s, client.AuthConfig{})
	require.NoError(t, err)
}

func startPeer(t *testing.T, secret string, remotes ...string) *Server {
	t.Helper()
	return startServer(t, func(o *Options) {
		o.Backends = []BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}}
		o.Remotes = remotes
		o.Auth = AuthOptions{ClusterSecret: secret}
		o.Peer.PingInterval = 100 * time.Millisecond
	}, nil)
}

func tableHas(s *Server, addr string) bool {
	for _, a := range s.Table().Addresses() {
		if a == addr {
			return true
		}
	}
	return false
}

func TestAuthClusterSecretJoin(t *testing.T) {
	a := startPeer(t, testClusterSecret)
	aAddr := a.Addrs()[0].String()
	b := startPeer(t, testClusterSecret, aAddr)
	bAddr := b.Addrs()[0].String()
	require.Eventually(t, func() bool { return tableHas(a, bAddr) && tableHas(b, aAddr) }, 10*time.Second, 20*time.Millisecond)

	// A node with a wrong secret, and one with none, never get in.
	bad := startPeer(t, "wrong-cluster-secret-0123", aAddr)
	plain := startServer(t, func(o *Options) {
		o.Backends = []BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}}
		o.Remotes = []string{aAddr}
	}, nil)
	time.Sleep(time.Second)
	for _, s := range []*Server{a, b} {
		require.False(t, tableHas(s, bad.Addrs()[0].String()), "node with a wrong secret joined")
		require.False(t, tableHas(s, plain.Addrs()[0].String()), "node without a secret joined")
	}
	require.False(t, tableHas(bad, aAddr))

	// The cluster secret is also a credential for a client: everything.
	sess, err := authSession(t, a, client.AuthConfig{ClusterSecret: testClusterSecret})
	require.NoError(t, err)
	_, err = sess.BackendStatus(context.Background(), aAddr)
	require.NoError(t, err)
}

func TestAuthInvalidOptions(t *testing.T) {
	for _, a := range []AuthOptions{
		{ClusterSecret: "short"},
		{Keys: []auth.Key{{ID: "a", Secret: "short"}}},
		{Keys: []auth.Key{{ID: "a", Secret: readSecret}, {ID: "a", Secret: readSecret}}},
	} {
		_, err := New(Options{Listen: []string{"127.0.0.1:0"}, Backends: []BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}}, Auth: a})
		require.Error(t, err)
	}
	require.True(t, errors.Is(auth.ErrBadProof, status.ErrNotPermitted))
	require.True(t, strings.Contains(auth.ErrUnauthenticated.Error(), "authenticate first"))
}

// Only the cluster secret lets a connection join: even an admin key may
// not announce a node.
func TestAuthJoinNeedsClusterSecret(t *testing.T) {
	s := startAuthServer(t, testAuth)
	c := dialRaw(t, s)
	h, _ := c.authRaw("admin", adminSecret)
	require.Equal(t, status.OK, h.Status)
	info := proto.NodeInfo{Addresses: []string{"127.0.0.1:1"}, Version: 1}
	hr := proto.HandshakeRequest{Major: proto.VersionMajor, Minor: proto.VersionMinor, Node: &info}
	c.send(proto.NewHeader(proto.CmdHandshake, 7, [64]byte{}, 0), hr.Append(nil))
	h, p := c.recv()
	require.Equal(t, status.NotPermitted, h.Status)
	require.Contains(t, proto.DecodeError(h.Status, p).Error(), "cluster secret")
	require.False(t, tableHas(s, "127.0.0.1:1"))
	// A handshake without node information is a client's: allowed.
	hr.Node = nil
	c.send(proto.NewHeader(proto.CmdHandshake, 8, [64]byte{}, 0), hr.Append(nil))
	h, _ = c.recv()
	require.Equal(t, status.OK, h.Status)
}
