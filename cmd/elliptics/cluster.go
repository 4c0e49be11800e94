package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/status"
)

// settleQuiet is how long the route table must stay the same before
// discovery counts as finished ('routes' and 'nodes').
var settleQuiet = 300 * time.Millisecond

const routesAbout = `Prints the ring as the client sees it after connecting to the --remote nodes and
learning the rest of the cluster from them: one line per backend with its group, backend
id, node address, number of ring points and share of its group's ring (the fraction of
the group's keys it owns), ordered by group, then address. --group keeps one group.

A node the client cannot reach is in the table as the nodes it reaches describe it; a node
nobody described is not, so the shares of its group count only the nodes listed, and a
warning on standard error names such nodes. With --proxy the client talks to the --remote
nodes only; the table still holds the whole cluster as they describe it.

  GROUP  BACKEND  ADDRESS        POINTS  SHARE
  1      0        10.0.0.1:1025  16      34.12%
  1      0        10.0.0.2:1025  16      65.88%`

const nodesAbout = `Lists every node the client knows after connecting to the --remote nodes and asking
each node it reaches for its member list: address, state, number of backends, groups and
the version of the node's description (it changes when the node's backends change).

State is "connected" for a node the client reached, "unreachable" for a node some member
list names but the client could not connect to (behind NAT, down, or not dialed because
of --proxy). Exits 0 whenever the list was made, whatever the states; --json adds the
reason a node is unreachable.

  ADDRESS        STATE        BACKENDS  GROUPS  VERSION
  10.0.0.1:1025  connected    2         1,2     1732526711123456789
  10.0.0.2:1025  unreachable  -         -       1732526700987654321`

// optGroup is the value of 'routes --group'.
type optGroup struct {
	set bool
	g   uint32
}

func (o *optGroup) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatUint(uint64(o.g), 10)
}

func (o *optGroup) Set(s string) error {
	g, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil || g == 0 {
		return fmt.Errorf("want a group from 1 to %d", uint32(1<<32-1))
	}
	o.set, o.g = true, uint32(g)
	return nil
}

// waitDiscovery waits, at most --timeout, until the client's view of the
// cluster (route table and connections) has not changed for settleQuiet.
func (c *cli) waitDiscovery(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, c.g.timeout)
	defer cancel()
	prev, conns, since := c.node.Table(), len(c.node.Members(false)), time.Now()
	_ = c.node.WaitRoutes(wctx, func(t *route.Table) bool {
		if n := len(c.node.Members(false)); !t.Equal(prev) || n != conns {
			prev, conns, since = t, n, time.Now()
		}
		return time.Since(since) >= settleQuiet
	})
	if ctx.Err() != nil {
		return &cliError{code: exitFailed, msg: "interrupted while learning the cluster"}
	}
	return nil
}

// member is a node of the cluster as 'nodes' and 'routes' see it.
type member struct {
	addr      string
	connected bool
	version   uint64 // the highest version a member list or handshake gave
	asked     bool
	err       error // why the client could not reach it
}

// members connects, waits for discovery and gathers the members of the
// cluster.
func (c *cli) members(ctx context.Context) (map[string]*member, error) {
	if _, err := c.connect(ctx); err != nil {
		return nil, err
	}
	if err := c.waitDiscovery(ctx); err != nil {
		return nil, err
	}
	return c.gather(ctx)
}

// gather asks every node the client is connected to for its member list; a
// node a list names that the client is not connected to is dialed (unless
// --proxy) and asked in turn. Bounded by --timeout overall.
func (c *cli) gather(ctx context.Context) (map[string]*member, error) {
	actx, cancel := context.WithTimeout(ctx, c.g.timeout)
	defer cancel()
	var mu sync.Mutex
	known := map[string]*member{}
	get := func(addr string) *member {
		m := known[addr]
		if m == nil {
			m = &member{addr: addr}
			known[addr] = m
		}
		return m
	}
	for {
		mu.Lock()
		c.markConnected(get)
		var ask []*member
		for _, m := range known {
			if !m.asked && (m.connected || !c.g.proxy) {
				m.asked = true
				ask = append(ask, m)
			}
		}
		mu.Unlock()
		if len(ask) == 0 {
			break
		}
		var wg sync.WaitGroup
		for _, m := range ask {
			wg.Add(1)
			go func() {
				defer wg.Done()
				list, err := c.routeList(actx, m.addr)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if !m.connected {
						m.err = err
					}
					return
				}
				m.connected, m.err = true, nil
				for _, e := range list {
					// A node names itself by the address it listens on,
					// which may have no host ("[::]:1025").
					o := get(client.Identity(&proto.NodeInfo{Addresses: []string{e.Addr}}, m.addr))
					o.version = max(o.version, e.Version)
				}
			}()
		}
		wg.Wait()
	}
	if ctx.Err() != nil {
		return nil, &cliError{code: exitFailed, msg: "interrupted while asking for member lists"}
	}
	c.markConnected(get)
	for _, m := range known {
		if !m.connected && m.err == nil {
			if c.g.proxy {
				m.err = fmt.Errorf("not dialed: --proxy talks to the --remote nodes only")
			} else {
				m.err = fmt.Errorf("not connected")
			}
		}
	}
	return known, nil
}

// markConnected marks the nodes the client is connected to (the route
// table also holds nodes known only through others).
func (c *cli) markConnected(get func(string) *member) {
	for _, cm := range c.node.Members(false) {
		m := get(cm.Addr)
		m.connected = true
		m.version = max(m.version, cm.Version)
	}
}

// routeList asks the node at addr for its member list (ROUTE_LIST), dialing
// it if the client is not connected to it yet.
func (c *cli) routeList(ctx context.Context, addr string) ([]proto.Member, error) {
	payload, err := c.node.Forward(ctx, addr, proto.NewHeader(proto.CmdRouteList, 0, id.ID{}, 0))
	if err != nil {
		return nil, err
	}
	list, _, err := proto.DecodeMembers(payload)
	return list, err
}

func unreachable(known map[string]*member) []*member {
	var out []*member
	for _, m := range known {
		if !m.connected {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *member) int { return strings.Compare(a.addr, b.addr) })
	return out
}

// jsonRoute is one backend of 'routes --json'.
type jsonRoute struct {
	Group        uint32  `json:"group"`
	Backend      int32   `json:"backend"`
	Address      string  `json:"address"`
	Points       int     `json:"points"`
	SharePercent float64 `json:"share_percent"`
	ReadOnly     bool    `json:"read_only"`
}

type jsonRoutes struct {
	OK          bool        `json:"ok"`
	Error       string      `json:"error,omitempty"`
	Version     uint64      `json:"version"`
	Routes      []jsonRoute `json:"routes"`
	Unreachable []string    `json:"unreachable"`
}

func routesCommand(fs *flag.FlagSet) action {
	var group optGroup
	fs.Var(&group, "group", "show only the backends of group `N`")
	return func(ctx context.Context, c *cli, _ []string) error {
		known, err := c.members(ctx)
		if err != nil {
			return err
		}
		t := c.node.Table()
		var rows []jsonRoute
		for _, b := range t.Backends() {
			if group.set && b.Group != group.g {
				continue
			}
			rows = append(rows, jsonRoute{Group: b.Group, Backend: b.ID, Address: b.Addr, Points: len(b.Points),
				SharePercent: 100 * t.Share(b.Addr, b.ID, b.Group), ReadOnly: b.ReadOnly})
		}
		slices.SortStableFunc(rows, func(a, b jsonRoute) int {
			return cmp.Or(cmp.Compare(a.Group, b.Group), strings.Compare(a.Address, b.Address), cmp.Compare(a.Backend, b.Backend))
		})
		// Nodes the client cannot reach are still in the table when a node
		// it reaches described them; warn only about those missing from it.
		var lost []string
		inTable := t.Addresses()
		for _, m := range unreachable(known) {
			if !slices.Contains(inTable, m.addr) {
				lost = append(lost, m.addr)
			}
		}

		if len(rows) == 0 {
			if group.set {
				groups := "none"
				if gs := t.Groups(); len(gs) > 0 {
					groups = joinGroups(gs, ", ")
				}
				err = &opError{msg: fmt.Sprintf("routes: no backend of group %d in the route table (groups: %s)", group.g, groups),
					err: status.ErrNoRoute}
			} else {
				err = &opError{msg: "routes: the route table is empty: the nodes reached announce no backend with ring points",
					err: status.ErrNoRoute}
			}
		}
		if c.g.json {
			out := jsonRoutes{OK: err == nil, Version: t.Version(), Routes: rows, Unreachable: lost}
			if out.Routes == nil {
				out.Routes = []jsonRoute{}
			}
			if out.Unreachable == nil {
				out.Unreachable = []string{}
			}
			if err != nil {
				out.Error = oneLine(err.Error())
			}
			if jerr := c.encodeJSON(out); jerr != nil && err == nil {
				return jerr
			}
			return err
		}
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tBACKEND\tADDRESS\tPOINTS\tSHARE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%.2f%%\n", r.Group, r.Backend, r.Address, r.Points, r.SharePercent)
		}
		tw.Flush()
		if len(lost) > 0 {
			fmt.Fprintf(c.stderr, "elliptics: warning: not in the table, unreachable: %s; shares count only the nodes listed\n",
				strings.Join(lost, ", "))
		}
		return nil
	}
}

// jsonNodeState is one node of 'nodes --json'.
type jsonNodeState struct {
	Address  string   `json:"address"`
	State    string   `json:"state"`
	Backends int      `json:"backends"`
	Groups   []uint32 `json:"groups"`
	Version  uint64   `json:"version"`
	// Dialed is the address the client connected to the node at: its
	// identity, or the address of the client's network on a node that
	// listens on several (route groups).
	Dialed string `json:"dialed,omitempty"`
	Error  string `json:"error,omitempty"`
}

type jsonNodes struct {
	OK    bool            `json:"ok"`
	Nodes []jsonNodeState `json:"nodes"`
}

func nodesAction(ctx context.Context, c *cli, _ []string) error {
	known, err := c.members(ctx)
	if err != nil {
		return err
	}
	t := c.node.Table()
	dialed := c.node.Connections()
	rows := make([]jsonNodeState, 0, len(known))
	for _, m := range known {
		r := jsonNodeState{Address: m.addr, State: "unreachable", Groups: []uint32{}, Version: m.version}
		if m.connected {
			r.State = "connected"
			r.Dialed = dialed[m.addr]
			for _, b := range t.Backends() {
				if b.Addr != m.addr {
					continue
				}
				r.Backends++
				if !slices.Contains(r.Groups, b.Group) {
					r.Groups = append(r.Groups, b.Group)
				}
			}
			slices.Sort(r.Groups)
		} else if m.err != nil {
			r.Error = oneLine(m.err.Error())
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b jsonNodeState) int { return strings.Compare(a.Address, b.Address) })
	if c.g.json {
		return c.encodeJSON(jsonNodes{OK: true, Nodes: rows})
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tSTATE\tBACKENDS\tGROUPS\tVERSION\tDIALED")
	for _, r := range rows {
		backends, groups := strconv.Itoa(r.Backends), joinGroups(r.Groups, ",")
		if r.State != "connected" {
			backends, groups = "-", "-"
		} else if groups == "" {
			groups = "-"
		}
		version := "-"
		if r.Version != 0 {
			version = strconv.FormatUint(r.Version, 10)
		}
		via := r.Dialed
		if via == "" {
			via = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Address, r.State, backends, groups, version, via)
	}
	tw.Flush()
	return nil
}
