package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/recovery"
	"github.com/elliptics/elliptics/core/stats"
)

// MonitorOptions configure the node's statistics.
type MonitorOptions struct {
	// TopLength is how many keys the top-keys lists hold (default
	// stats.DefaultTopLength); TopPeriod their window (default
	// stats.DefaultTopPeriod).
	TopLength int
	TopPeriod time.Duration
	// HTTPAddr, when set, is where the node serves its statistics over
	// HTTP: /metrics for Prometheus and the MONITOR_STAT JSON (http.go).
	HTTPAddr string
	// Pprof mounts net/http/pprof (/debug/pprof/) on the HTTP port, for
	// CPU, allocation and goroutine profiles of a running node. Off by
	// default: a profile costs CPU and shows the node's internals to whoever
	// reaches the port.
	Pprof bool
	// Version is reported in the stats category.
	Version string
}

// monitorState is the node's statistics, recorded as requests finish.
type monitorState struct {
	cmds    stats.Commands
	top     *stats.Top
	started time.Time
}

func (m *monitorState) init(o MonitorOptions) {
	m.top = stats.NewTop(stats.TopConfig{Length: o.TopLength, Period: o.TopPeriod})
	m.started = time.Now()
}

// served records a request that went through a handler: its latency,
// payload bytes both ways (intermediate replies included), and its status; a key-addressed request served
// here counts toward the top keys. A request forwarded to its owner was
// counted by forward, which also counts the keys of bulk requests it
// forwards one by one.
func (m *monitorState) served(t *task, start time.Time, parts [][]byte, err error) {
	if t.forwarded {
		return
	}
	now := time.Now()
	n := uint64(len(t.payload)) + t.sent.Load()
	for _, p := range parts {
		n += uint64(len(p))
	}
	src := stats.Storage
	if t.proxy {
		src = stats.Proxy
	} else if t.e.opts.Backend && err == nil {
		m.top.Record(t.h.ID, n, now)
	}
	m.cmds.Record(uint32(t.h.Cmd), src, now.Sub(start), n, err != nil)
}

// refused records a request refused before reaching a handler (an
// unsupported command, a bad relay).
func (m *monitorState) refused(h *proto.Header, payload []byte) {
	m.cmds.Record(uint32(h.Cmd), stats.Storage, 0, uint64(len(payload)), true)
}

func (s *Server) handleMonitorStat(_ context.Context, req *Request, _ Replier) ([][]byte, error) {
	r, err := proto.DecodeMonitorStatRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(s.MonitorStat(r.Categories))
	if err != nil {
		return nil, fmt.Errorf("monitor stat: encode: %w", err)
	}
	return [][]byte{out}, nil
}

// MonitorStat returns the node's statistics of the given categories
// (stats.Category* bits; unknown bits are ignored).
func (s *Server) MonitorStat(categories uint64) *stats.Snapshot {
	now := time.Now()
	snap := &stats.Snapshot{
		MonitorStatus:   "enabled",
		Timestamp:       stats.NewTimestamp(now),
		StringTimestamp: now.UTC().Format("2006-01-02 15:04:05.000000"),
		Address:         s.address(),
		Categories:      categories,
	}
	has := func(c uint64) bool { return categories&c != 0 }
	if has(stats.CategoryCommands) {
		snap.Commands = map[string]stats.CommandStats{}
		for _, cs := range s.mon.cmds.Snapshot() {
			snap.Commands[proto.Cmd(cs.Cmd).String()] = cs
		}
	}
	if has(stats.CategoryBackend) {
		snap.Backends = make(map[string]stats.BackendStats, len(s.backends))
		for _, b := range s.backends {
			snap.Backends[strconv.Itoa(int(b.ID))] = b.monitorStats()
		}
	}
	if has(stats.CategoryIO) {
		snap.IO = s.ioStats()
	}
	if has(stats.CategoryStats) {
		snap.Stats = &stats.NodeStats{Version: s.opts.Monitor.Version, UptimeS: now.Sub(s.mon.started).Seconds(),
			Forwards: s.Forwards()}
		if s.cluster.peers != nil {
			snap.Stats.RouteSize = len(s.Table().Addresses())
		}
	}
	if has(stats.CategoryProcfs) {
		snap.Procfs = stats.ReadProc()
	}
	if has(stats.CategoryTop) {
		top := s.mon.top.Snapshot(now)
		snap.Top = &top
	}
	if has(stats.CategoryRecovery) && s.rec.mgr != nil {
		jobs := s.rec.mgr.Jobs()
		if jobs == nil {
			jobs = []recovery.Status{}
		}
		snap.Recovery = &stats.RecoveryStats{Jobs: jobs}
	}
	if has(stats.CategoryScripts) {
		snap.Scripts = map[string]stats.ScriptStats{}
		for name, sc := range s.scripts.runner.Stats() {
			snap.Scripts[name] = stats.ScriptStats{Calls: sc.Calls, Errors: sc.Errors, StepLimit: sc.StepLimit,
				TimeLimit: sc.TimeLimit, ByteLimit: sc.ByteLimit, MemoryLimit: sc.MemoryLimit,
				Seconds: sc.Latency.Seconds(), MaxSeconds: sc.MaxLatency.Seconds()}
		}
	}
	return snap
}

// ioStats describes the accepted connections.
func (s *Server) ioStats() *stats.IOStats {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	io := &stats.IOStats{Connections: len(conns), Accepted: make(map[string]stats.ConnState, len(conns))}
	for _, c := range conns {
		st := stats.ConnState{Peer: c.peer.Load(), SendQueue: c.w.Queued(), Inflight: len(c.sem)}
		if st.Peer {
			io.Peers++
		} else {
			io.Clients++
		}
		io.Inflight += int64(st.Inflight)
		io.Queued += uint64(st.SendQueue)
		io.Accepted[c.nc.RemoteAddr().String()] = st
	}
	if s.cluster.peers != nil {
		out := s.cluster.peers.ConnStats()
		io.Outgoing = len(out)
		io.States = make(map[string]stats.PeerState, len(out))
		for addr, cs := range out {
			io.States[addr] = stats.PeerState{SendQueue: cs.SendQueue, Pending: cs.Pending, LatencyUS: cs.Latency.Microseconds()}
			io.OutQueued += uint64(cs.SendQueue)
		}
	}
	return io
}

// monitorStats are the backend's figures; an enabled backend's storage is
// held open while they are read.
func (b *Backend) monitorStats() stats.BackendStats {
	out := stats.BackendStats{BackendID: b.ID, Group: b.Group, ReadOnly: b.ReadOnly()}
	b.mu.Lock()
	state, lastErr := b.state, b.lastErr
	var st backend.Backend
	if b.state == proto.StateEnabled && b.store != nil {
		st = b.store
		b.refs++
	}
	b.mu.Unlock()
	out.State, out.LastError = state.String(), lastErr
	if st == nil {
		return out
	}
	defer b.release()
	bst := st.Stats()
	out.Objects, out.Bytes = bst.Records, bst.Bytes
	out.ReadOnly = out.ReadOnly || bst.ReadOnly
	out.Extra = bst.Extra
	out.Type, _ = bst.Extra["type"].(string)
	out.Dir, _ = bst.Extra["dir"].(string)
	out.RemovedBytes = extraUint(bst.Extra, "dead_bytes")
	out.DiskBytes = extraUint(bst.Extra, "disk_bytes")
	out.DataFiles = extraUint(bst.Extra, "data_files")
	out.IndexBytes = extraUint(bst.Extra, "index_bytes")
	out.Disk = stats.ReadDisk(out.Dir)
	if d, ok := st.(backend.Defragmenter); ok {
		ds := d.DefragStatus()
		di := &stats.DefragInfo{State: "idle", Started: ds.StartedAt, Finished: ds.FinishedAt, FilesDone: ds.FilesDone,
			FilesTotal: ds.FilesTotal, BytesDone: ds.BytesDone, BytesTotal: ds.BytesTotal, Reclaimed: ds.Reclaimed, Error: ds.Err}
		switch {
		case ds.Running:
			di.State = "running"
		case ds.Err != "":
			di.State = "failed"
		}
		out.Defrag = di
	}
	return out
}

// extraUint reads a count from backend.Stats.Extra, whatever integer type
// the backend put there; nil if it is absent.
func extraUint(m map[string]any, name string) *uint64 {
	var v uint64
	switch x := m[name].(type) {
	case int:
		v = uint64(max(x, 0))
	case int64:
		v = uint64(max(x, 0))
	case uint64:
		v = x
	case uint32:
		v = uint64(x)
	case int32:
		v = uint64(max(x, 0))
	default:
		return nil
	}
	return &v
}
