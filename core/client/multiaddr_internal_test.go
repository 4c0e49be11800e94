package client

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/proto"
)

func TestRouteIndex(t *testing.T) {
	for _, tc := range []struct {
		name    string
		addrs   []string
		reached string
		want    int
	}{
		{"first", []string{"127.0.0.1:1", "127.0.0.2:2"}, "127.0.0.1:1", 0},
		{"second", []string{"127.0.0.1:1", "127.0.0.2:2"}, "127.0.0.2:2", 1},
		{"wildcard host", []string{"0.0.0.0:1", ":2"}, "10.0.0.5:2", 1},
		{"translated (NAT)", []string{"127.0.0.1:1", "127.0.0.2:2"}, "192.0.2.1:1", -1},
		{"no addresses", nil, "127.0.0.1:1", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, RouteIndex(tc.addrs, tc.reached))
		})
	}
}

func TestRouteAddress(t *testing.T) {
	two := &proto.NodeInfo{Addresses: []string{"127.0.0.1:1", "127.0.0.2:2"}}
	wild := &proto.NodeInfo{Addresses: []string{"0.0.0.0:1", "[::]:2"}}
	for _, tc := range []struct {
		name string
		info *proto.NodeInfo
		idx  int
		seen string
		want string
	}{
		{"index 0 is the identity", two, 0, "x:9", "127.0.0.1:1"},
		{"index 1", two, 1, "x:9", "127.0.0.2:2"},
		{"fewer addresses: identity", two, 2, "x:9", "127.0.0.1:1"},
		{"unknown index: identity", two, -1, "x:9", "127.0.0.1:1"},
		{"wildcard fixed", wild, 1, "10.0.0.5:7", "10.0.0.5:2"},
		{"no addresses: where seen", &proto.NodeInfo{}, 1, "10.0.0.5:7", "10.0.0.5:7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, RouteAddress(tc.info, tc.idx, tc.seen))
		})
	}
}

func TestDialAddress(t *testing.T) {
	n := &Node{}
	n.routeIdx.Store(-1)
	n.LearnAddresses(&proto.NodeInfo{Addresses: []string{"127.0.0.1:1", "127.0.0.2:2"}}, "127.0.0.1:1")
	n.LearnAddresses(&proto.NodeInfo{Addresses: []string{"0.0.0.0:3", ":4", ":5"}}, "10.0.0.5:3")
	n.LearnAddresses(&proto.NodeInfo{Addresses: []string{"127.0.0.1:6"}}, "127.0.0.1:6")
	for _, tc := range []struct {
		name string
		idx  int32
		id   string
		want string
	}{
		{"no index yet", -1, "127.0.0.1:1", "127.0.0.1:1"},
		{"index 0", 0, "127.0.0.1:1", "127.0.0.1:1"},
		{"index 1", 1, "127.0.0.1:1", "127.0.0.2:2"},
		{"index 1, wildcard fixed", 1, "10.0.0.5:3", "10.0.0.5:4"},
		{"index 2", 2, "10.0.0.5:3", "10.0.0.5:5"},
		{"index 2, fewer addresses", 2, "127.0.0.1:1", "127.0.0.1:1"},
		{"one address", 1, "127.0.0.1:6", "127.0.0.1:6"},
		{"unknown node", 1, "127.0.0.9:9", "127.0.0.9:9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.routeIdx.Store(tc.idx)
			require.Equal(t, tc.want, n.dialAddress(tc.id))
		})
	}
}
