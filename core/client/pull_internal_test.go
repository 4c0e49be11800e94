package client

import (
	"testing"

	"github.com/elliptics/elliptics/core/proto"
)

// Every other pull goes to the connection whose node vouches for the most
// members (the seed of a cluster that connects on demand).
func TestRichestSource(t *testing.T) {
	n := NewNode(Config{})
	defer n.Close()
	seed, peer := &conn{}, &conn{}
	n.indirectFrom = map[string]map[string]*proto.NodeInfo{
		"seed:1": {"a:1": {}, "b:1": {}, "c:1": {}},
		"peer:1": {"a:1": {}},
	}
	rt := &routing{conns: map[string]*conn{"seed:1": seed, "peer:1": peer}}
	if got := n.richestSource(rt); got != seed {
		t.Fatalf("richest source: got %p, want the seed's connection %p", got, seed)
	}
}
