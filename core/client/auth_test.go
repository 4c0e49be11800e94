package client_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// fakeAuthNode answers AUTH like a node, but proves itself with
// serverSecret, and counts the HANDSHAKEs it gets.
func fakeAuthNode(t *testing.T, serverSecret string, handshakes chan<- struct{}) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				r := proto.NewReader(nc, 0)
				var hello proto.AuthRequest
				var sn [auth.NonceSize]byte
				for {
					h, p, err := r.Next()
					if err != nil {
						return
					}
					switch h.Cmd {
					case proto.CmdAuth:
						req, err := proto.DecodeAuthRequest(p)
						if err != nil {
							return
						}
						var out []byte
						if req.Step == proto.AuthStepHello {
							hello = req
							sn, _ = auth.Nonce()
							out = sn[:]
						} else {
							pr := auth.Proof([]byte(serverSecret), auth.RoleServer, auth.Kind(hello.Kind), hello.KeyID, hello.Nonce, sn)
							out = pr[:]
						}
						_ = proto.WriteFrame(nc, h.Reply(status.OK, 0, false), out)
					case proto.CmdHandshake:
						handshakes <- struct{}{}
						info := proto.NodeInfo{Addresses: []string{ln.Addr().String()}, Version: 1}
						_ = proto.WriteFrame(nc, h.Reply(status.OK, 0, false), info.Append(nil))
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestAuthClientRefusesNodeWithoutTheSecret(t *testing.T) {
	const secret = "client-secret-0123456789"
	ctx := context.Background()

	hs := make(chan struct{}, 10)
	addr := fakeAuthNode(t, "impostor-secret-01234567", hs)
	n := client.NewNode(client.Config{WaitTimeout: 2 * time.Second, Auth: client.AuthConfig{KeyID: "k", KeySecret: secret}})
	defer n.Close()
	err := n.AddRemotes(ctx, addr)
	if err == nil || !strings.Contains(err.Error(), "could not prove") && !strings.Contains(err.Error(), "failed to prove") {
		t.Fatalf("impostor accepted: %v", err)
	}
	if len(hs) != 0 {
		t.Fatal("the client sent a handshake to a node that failed its proof")
	}

	// The same fake with the right secret passes.
	hs2 := make(chan struct{}, 10)
	good := fakeAuthNode(t, secret, hs2)
	n2 := client.NewNode(client.Config{WaitTimeout: 2 * time.Second, Auth: client.AuthConfig{KeyID: "k", KeySecret: secret}})
	defer n2.Close()
	if err := n2.AddRemotes(ctx, good); err != nil {
		t.Fatalf("honest node refused: %v", err)
	}
	if len(hs2) == 0 {
		t.Fatal("no handshake after AUTH")
	}
}
