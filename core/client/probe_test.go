package client

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/transport/memnet"
)

// relayReach holds the nodes fake nodes reach when asked to relay a ping
// to them (indirect probes).
var relayReach sync.Map

// fakeNode answers handshakes and then pings after delay, or never (delay
// < 0): a node that hangs, or one too busy to answer in time.
func fakeNode(t *testing.T, nw *memnet.Network, addr string, delay time.Duration) {
	ln, err := nw.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pts, err := route.RandomPoints(4)
	if err != nil {
		t.Fatal(err)
	}
	info := proto.NodeInfo{Major: proto.VersionMajor, Minor: proto.VersionMinor, Version: 1, Addresses: []string{addr},
		Backends: []proto.BackendInfo{{ID: 0, Group: 1, Points: pts}}}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go serveFake(nc, &info, delay)
		}
	}()
}

func serveFake(nc net.Conn, info *proto.NodeInfo, delay time.Duration) {
	defer nc.Close()
	var mu sync.Mutex
	send := func(h proto.Header, payload []byte) {
		b := make([]byte, proto.HeaderSize, proto.HeaderSize+len(payload))
		r := h.Reply(status.OK, uint64(len(payload)), false)
		r.Encode(b)
		mu.Lock()
		_, _ = nc.Write(append(b, payload...))
		mu.Unlock()
	}
	r := proto.NewReader(bufio.NewReader(nc), proto.DefaultMaxPayload)
	for {
		h, payload, err := r.Next()
		if err != nil {
			return
		}
		switch {
		case h.Cmd == proto.CmdHandshake:
			send(h, info.Append(nil))
		case h.Flags.Has(proto.FlagRelay):
			// A ping relayed for another node: answered when the test made
			// that node reachable from here, else failed as a dead link.
			target, _, err := proto.DecodeRelay(payload)
			if _, ok := relayReach.Load(target); err == nil && ok {
				send(h, nil)
				continue
			}
			b := make([]byte, proto.HeaderSize)
			rh := h.Reply(status.ConnectionLost, 0, false)
			rh.Encode(b)
			mu.Lock()
			_, _ = nc.Write(b)
			mu.Unlock()
		case delay < 0:
			// hung: reads, never answers
		default:
			time.AfterFunc(delay, func() { send(h, nil) })
		}
	}
}

// A node that stops answering is dropped after SuspectAfter missed pings,
// even with a probe budget smaller than the number of peers; one that
// answers every ping late, but answers, is not: its late replies are signs
// of life.
func TestProbeDropsHungNodeKeepsSlowOne(t *testing.T) {
	nw := memnet.New()
	fakeNode(t, nw, "hung:1", -1)
	fakeNode(t, nw, "slow:1", 150*time.Millisecond)
	for _, a := range []string{"a:1", "b:1", "c:1"} {
		fakeNode(t, nw, a, 0)
	}
	n := NewNode(Config{Dial: nw.Dial, PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond,
		SuspectAfter: 3, ProbesPerInterval: 1})
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.AddRemotes(ctx, "hung:1", "slow:1", "a:1", "b:1", "c:1"); err != nil {
		t.Fatal(err)
	}
	// Five peers, one probe of a quiet peer per interval: the hung node is
	// first probed within five intervals, then dropped three later.
	if err := n.WaitRoutes(ctx, func(tb *route.Table) bool { return tb.Len() == 4 }); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.Table().Backend("hung:1", 0); ok {
		t.Fatalf("the hung node is still routed to: %v", n.Table().Addresses())
	}
	time.Sleep(time.Second) // twenty intervals: the slow node is probed and answers late, again and again
	if _, ok := n.Table().Backend("slow:1", 0); !ok {
		t.Fatalf("the slow node was dropped: %v", n.Table().Addresses())
	}
}

// A node that does not answer our pings but answers pings relayed by
// others (a link cut between us and it only) is kept: the miss is not
// counted. Without indirect probes it is dropped.
func TestIndirectProbeKeepsNodeOthersReach(t *testing.T) {
	for _, tc := range []struct {
		name     string
		indirect int
		kept     bool
	}{{"indirect", 2, true}, {"direct only", -1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			nw := memnet.New()
			fakeNode(t, nw, "cut:1", -1)
			relayReach.Store("cut:1", true)
			t.Cleanup(func() { relayReach.Delete("cut:1") })
			for _, a := range []string{"a:1", "b:1"} {
				fakeNode(t, nw, a, 0)
			}
			n := NewNode(Config{Dial: nw.Dial, PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond,
				SuspectAfter: 2, IndirectProbes: tc.indirect})
			defer n.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.AddRemotes(ctx, "cut:1", "a:1", "b:1"); err != nil {
				t.Fatal(err)
			}
			if !tc.kept {
				if err := n.WaitRoutes(ctx, func(tb *route.Table) bool { return tb.Len() == 2 }); err != nil {
					t.Fatal(err)
				}
				return
			}
			time.Sleep(time.Second) // twenty intervals: two misses would drop it
			if _, ok := n.Table().Backend("cut:1", 0); !ok {
				t.Fatalf("the node others reach was dropped: %v", n.Table().Addresses())
			}
		})
	}
}
