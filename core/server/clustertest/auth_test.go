package clustertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/status"
)

// TestAuthCluster: nodes sharing the cluster secret converge; a node with
// another secret is refused and in no route table; clients need a key.
func TestAuthCluster(t *testing.T) {
	const secret = "clustertest-secret-0123456789"
	c, err := Start(Options{Nodes: 5, Auth: server.AuthOptions{
		ClusterSecret: secret,
		Keys:          []auth.Key{{ID: "app", Secret: "app-secret-0123456789", Perms: auth.Read | auth.Write}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}

	// A node with the wrong secret, joining through the seed.
	c.opts.Auth.ClusterSecret = "another-secret-0123456789"
	bad, err := c.start(len(c.Nodes))
	c.opts.Auth.ClusterSecret = secret
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Shutdown(context.Background())
	badAddr := Addr(len(c.Nodes))
	time.Sleep(500 * time.Millisecond)
	for i, s := range c.Nodes {
		for _, a := range s.Table().Addresses() {
			if a == badAddr {
				t.Fatalf("node %d lists the node with the wrong secret", i)
			}
		}
		if s.Table().Len() != len(c.Nodes) {
			t.Fatalf("node %d: %d backends, want %d", i, s.Table().Len(), len(c.Nodes))
		}
	}
	if bad.Table().Len() != 1 {
		t.Fatalf("the refused node knows %d backends", bad.Table().Len())
	}

	// Clients: without a key refused, with one served.
	if _, err := c.Client(ctx, client.Config{}); !errors.Is(err, status.ErrNotPermitted) {
		t.Fatalf("client without a key: %v", err)
	}
	n, err := c.Client(ctx, client.Config{Auth: client.AuthConfig{KeyID: "app", KeySecret: "app-secret-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	sess := client.NewSession(n)
	sess.SetGroups(1, 2, 3)
	if _, err := sess.Write(ctx, client.NewKey("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if e, err := sess.Read(ctx, client.NewKey("k"), 0, 0); err != nil || string(e.Data) != "v" {
		t.Fatalf("read: %q %v", e.Data, err)
	}
}
