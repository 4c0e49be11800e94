package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
)

// A pull that sends the digest of the list it holds gets an empty list
// while nothing changed, and RouteListOnly describes just the members named.
func TestRouteListDigestAndOnly(t *testing.T) {
	opts := Options{Nodes: 5}
	opts.Peer.ConnectOnDemand = true
	c, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitConverged(ctx); err != nil {
		t.Fatal(err)
	}
	// The seed's list settles once every node is connected back.
	seed := c.Nodes[0].Peers()
	ask := func(r client.RouteListRequest) []proto.Member {
		t.Helper()
		rep, err := seed.RouteList(client.AppendRouteListRequest(nil, r))
		if err != nil {
			t.Fatal(err)
		}
		ms, _, err := proto.DecodeMembers(rep)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	all := ask(client.RouteListRequest{})
	if len(all) != 5 {
		t.Fatalf("seed lists %d members, want 5", len(all))
	}
	if ms := ask(client.RouteListRequest{HasDigest: true, Digest: client.MemberDigest(all)}); len(ms) != 0 {
		t.Errorf("current digest: %d members, want none", len(ms))
	}
	if ms := ask(client.RouteListRequest{HasDigest: true, Digest: 1}); len(ms) != 5 {
		t.Errorf("stale digest: %d members, want 5", len(ms))
	}
	only := ask(client.RouteListRequest{WithNodes: true, Only: []string{Addr(3), "nosuch:1"}})
	if len(only) != 1 || only[0].Addr != Addr(3) || only[0].Node == nil || len(only[0].Node.Backends) != 1 {
		t.Fatalf("only %s: %+v", Addr(3), only)
	}
	full := ask(client.RouteListRequest{WithNodes: true})
	for _, m := range full {
		if m.Node == nil || m.Node.Version != m.Version {
			t.Errorf("member %s: description %v", m.Addr, m.Node)
		}
	}
	if _, err := client.ParseRouteListRequest([]byte{client.RouteListOnly, 9}); err == nil {
		t.Error("a truncated request was accepted")
	}
}
