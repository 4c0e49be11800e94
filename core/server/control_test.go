package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// opener counts the opens of a mem backend.
type opener struct {
	n    atomic.Int32
	last atomic.Pointer[mem.Backend]
	fail atomic.Pointer[error]
}

func (o *opener) open() (backend.Backend, error) {
	o.n.Add(1)
	if err := o.fail.Load(); err != nil {
		return nil, *err
	}
	b := mem.New()
	o.last.Store(b)
	return b, nil
}

// control sends a BACKEND_CONTROL request on c and returns the reply.
func (c *rawConn) control(trans uint64, backendID int32, cmd proto.ControlCommand) (status.Code, []proto.BackendStatus, string) {
	c.send(proto.NewHeader(proto.CmdBackendControl, trans, id.Zero, 0),
		(&proto.BackendControl{BackendID: backendID, Command: cmd}).Append(nil))
	return c.statusReply(trans)
}

func (c *rawConn) backendStatus(trans uint64) []proto.BackendStatus {
	c.send(proto.NewHeader(proto.CmdBackendStatus, trans, id.Zero, 0))
	st, list, msg := c.statusReply(trans)
	require.Equal(c.t, status.OK, st, msg)
	return list
}

func (c *rawConn) statusReply(trans uint64) (status.Code, []proto.BackendStatus, string) {
	rh, p := c.recv()
	require.Equal(c.t, trans, rh.Trans)
	require.True(c.t, rh.IsFinal())
	if rh.Status != status.OK {
		return rh.Status, nil, string(p)
	}
	list, err := proto.DecodeBackendStatusList(p)
	require.NoError(c.t, err)
	return rh.Status, list, ""
}

// write sends a WRITE of data under k in group g and returns the status and
// message.
func (c *rawConn) write(trans uint64, k string, g uint32, data string) (status.Code, string) {
	h, parts := writeFrame(trans, k, g, data, 0)
	c.send(h, parts...)
	rh, p := c.recv()
	require.Equal(c.t, trans, rh.Trans)
	if rh.Status != status.OK {
		return rh.Status, string(p)
	}
	return rh.Status, ""
}

func (c *rawConn) read(trans uint64, k string, g uint32) (status.Code, string) {
	c.send(readFrame(trans, k, g), (&proto.IOAttr{}).Append(nil))
	rh, p := c.recv()
	if rh.Status != status.OK {
		return rh.Status, string(p)
	}
	_, data, err := proto.DecodeIOAttr(p)
	require.NoError(c.t, err)
	return rh.Status, string(data)
}

func (c *rawConn) handshake(trans uint64) proto.NodeInfo {
	c.send(proto.NewHeader(proto.CmdHandshake, trans, id.Zero, 0),
		(&proto.HandshakeRequest{Major: proto.VersionMajor}).Append(nil))
	rh, p := c.recv()
	require.Equal(c.t, status.OK, rh.Status)
	info, err := proto.DecodeNodeInfo(p)
	require.NoError(c.t, err)
	return info
}

func TestBackendStatusReply(t *testing.T) {
	s := startServer(t, nil, nil)
	c := dialRaw(t, s)
	require.Equal(t, status.OK, first(c.write(1, "k", 1, "hello")))
	list := c.backendStatus(2)
	require.Equal(t, []proto.BackendStatus{
		{ID: 0, Group: 1, State: proto.StateEnabled, Records: 1, Bytes: 5},
		{ID: 1, Group: 2, State: proto.StateEnabled, ReadOnly: true},
	}, list)
	require.Equal(t, list, s.BackendStatus())
}

func first(c status.Code, _ string) status.Code { return c }

// Every control command, then its repetition (EALREADY), over the wire.
func TestBackendControlCommands(t *testing.T) {
	var o opener
	s := startServer(t, func(opts *Options) {
		opts.Backends[0].Open = o.open
	}, nil)
	c := dialRaw(t, s)
	require.Equal(t, status.OK, first(c.write(1, "k", 1, "v")))
	var trans uint64 = 10

	for _, step := range []struct {
		name      string
		backend   int32
		cmd       proto.ControlCommand
		want      status.Code
		msg       string             // substring of the error message
		state     proto.BackendState // after a success
		readOnly  bool
		writeWant status.Code // a write to group 1 afterwards
		writeMsg  string
	}{
		{name: "disable", cmd: proto.ControlDisable, state: proto.StateDisabled,
			writeWant: status.NoRoute, writeMsg: "backend 0 of group 1 is disabled"},
		{name: "disable again", cmd: proto.ControlDisable, want: status.Already, msg: "backend 0 is already disabled",
			writeWant: status.NoRoute},
		{name: "defrag disabled", cmd: proto.ControlStartDefrag, want: status.NoRoute, msg: "backend 0 of group 1 is disabled",
			writeWant: status.NoRoute},
		{name: "enable", cmd: proto.ControlEnable, state: proto.StateEnabled},
		{name: "enable again", cmd: proto.ControlEnable, want: status.Already, msg: "backend 0 is already enabled"},
		{name: "read-only", cmd: proto.ControlReadOnly, state: proto.StateEnabled, readOnly: true,
			writeWant: status.ReadOnly, writeMsg: "backend 0 (group 1) is read-only"},
		{name: "read-only again", cmd: proto.ControlReadOnly, want: status.Already, msg: "backend 0 is already read-only",
			writeWant: status.ReadOnly},
		{name: "writable", cmd: proto.ControlWritable, state: proto.StateEnabled},
		{name: "writable again", cmd: proto.ControlWritable, want: status.Already, msg: "backend 0 is already writable"},
		{name: "defrag on mem", cmd: proto.ControlStartDefrag, want: status.Unsupported,
			msg: "backend type does not support defragmentation"},
		{name: "stop defrag on mem", cmd: proto.ControlStopDefrag, want: status.Unsupported,
			msg: "backend type does not support defragmentation"},
		{name: "set ids", cmd: proto.ControlSetIDs, want: status.Unsupported, msg: "set_ids is not supported"},
		{name: "delay without one (an old payload) clears it", cmd: proto.ControlDelay, state: proto.StateEnabled},
		{name: "unknown command", cmd: 99, want: status.Unsupported, msg: "unknown backend control command 99"},
		{name: "unknown backend", backend: 9, cmd: proto.ControlEnable, want: status.NoRoute, msg: "node has no backend 9"},
	} {
		t.Run(step.name, func(t *testing.T) {
			trans++
			st, list, msg := c.control(trans, step.backend, step.cmd)
			require.Equal(t, step.want, st, msg)
			if step.want == status.OK {
				require.Len(t, list, 1, "the reply describes the backend acted on")
				require.Equal(t, step.backend, list[0].ID)
				require.Equal(t, uint32(1), list[0].Group)
				require.Equal(t, step.state, list[0].State)
				require.Equal(t, step.readOnly, list[0].ReadOnly)
			} else {
				require.Contains(t, msg, step.msg)
			}
			trans++
			st, msg = c.write(trans, "w", 1, "x")
			require.Equal(t, step.writeWant, st, msg)
			require.Contains(t, msg, step.writeMsg)
		})
	}

	// The backend was closed and opened again: the mem data is gone.
	require.Equal(t, int32(1), o.n.Load())
	require.Same(t, o.last.Load(), s.byID[0].Store())
	st, msg := c.read(100, "k", 1)
	require.Equal(t, status.NotFound, st, msg)
	st, data := c.read(101, "w", 1)
	require.Equal(t, status.OK, st)
	require.Equal(t, "x", data, "written after the reopen")

	// A malformed request is refused, the connection stays.
	c.send(proto.NewHeader(proto.CmdBackendControl, 102, id.Zero, 0), []byte{1, 2, 3})
	rh, _ := c.recv()
	require.Equal(t, status.Protocol, rh.Status)
	require.Len(t, c.backendStatus(103), 2)
}

// The handshake lists enabled backends only; a group whose first backend is
// disabled is served by the next one.
func TestDisabledBackendRouting(t *testing.T) {
	var o opener
	s := startServer(t, func(opts *Options) {
		opts.Backends = []BackendSpec{
			{ID: 0, Group: 1, Open: o.open, Disabled: true},
			{ID: 1, Group: 1, Backend: mem.New()},
			{ID: 2, Group: 2, Backend: mem.New()},
		}
	}, nil)
	c := dialRaw(t, s)
	require.Equal(t, []proto.BackendInfo{{ID: 1, Group: 1}, {ID: 2, Group: 2}}, withoutPoints(c.handshake(1).Backends))
	require.Equal(t, int32(0), o.n.Load(), "a disabled backend is not opened")
	require.Equal(t, proto.StateDisabled, s.BackendStatus()[0].State)

	h, parts := writeFrame(2, "k", 1, "v", 0)
	c.send(h, parts...)
	rh, _ := c.recv()
	require.Equal(t, status.OK, rh.Status)
	require.Equal(t, int32(1), rh.Backend, "the enabled backend of the group served")

	// Direct requests for the disabled backend are refused.
	h, parts = writeFrame(3, "k", 0, "v", 0)
	h.Flags |= proto.FlagDirectBackend
	h.Backend = 0
	c.send(h, parts...)
	rh, p := c.recv()
	require.Equal(t, status.NoRoute, rh.Status)
	require.Equal(t, "backend 0 of group 1 is disabled", string(p))

	require.Equal(t, status.OK, first(c.write(20, "kept", 2, "data")))
	st, _, msg := c.control(4, 2, proto.ControlDisable)
	require.Equal(t, status.OK, st, msg)
	require.Equal(t, []proto.BackendInfo{{ID: 1, Group: 1}}, withoutPoints(c.handshake(5).Backends))
	st, msg = c.write(6, "k", 2, "v")
	require.Equal(t, status.NoRoute, st)
	require.Equal(t, "backend 2 of group 2 is disabled", msg)

	st, _, msg = c.control(7, 0, proto.ControlEnable)
	require.Equal(t, status.OK, st, msg)
	require.Equal(t, int32(1), o.n.Load())
	require.Equal(t, []proto.BackendInfo{{ID: 0, Group: 1}, {ID: 1, Group: 1}}, withoutPoints(c.handshake(8).Backends))

	// Without Open, disable keeps the instance and enable serves it again.
	st, _, msg = c.control(10, 2, proto.ControlEnable)
	require.Equal(t, status.OK, st, msg)
	st, data := c.read(11, "kept", 2)
	require.Equal(t, status.OK, st)
	require.Equal(t, "data", data)
}

func TestEnableOpenFailure(t *testing.T) {
	var o opener
	bad := error(status.Errorf(status.NotPermitted, "open /data/backend-0: permission denied"))
	o.fail.Store(&bad)
	s := startServer(t, func(opts *Options) {
		opts.Backends[0] = BackendSpec{ID: 0, Group: 1, Open: o.open, Disabled: true}
	}, nil)
	c := dialRaw(t, s)
	st, _, msg := c.control(1, 0, proto.ControlEnable)
	require.Equal(t, status.NotPermitted, st, "the open error's status")
	require.Equal(t, "backend 0 (group 1): open failed: open /data/backend-0: permission denied", msg)
	list := c.backendStatus(2)
	require.Equal(t, proto.StateDisabled, list[0].State)
	require.Equal(t, "open failed: open /data/backend-0: permission denied", list[0].LastError)

	o.fail.Store(nil)
	st, list, msg = c.control(3, 0, proto.ControlEnable)
	require.Equal(t, status.OK, st, msg)
	require.Equal(t, proto.StateEnabled, list[0].State)
	require.Empty(t, list[0].LastError, "a successful enable clears the error")
	require.Equal(t, int32(2), o.n.Load())

	// An Open that panics leaves the backend disabled, not stuck.
	_, _, _ = c.control(4, 0, proto.ControlDisable)
	s.byID[0].open = func() (backend.Backend, error) { panic("boom") }
	st, _, msg = c.control(5, 0, proto.ControlEnable)
	require.Equal(t, status.IOError, st)
	require.Contains(t, msg, "open panicked: boom")
	require.Equal(t, proto.StateDisabled, s.byID[0].State())
}

func TestOptionsValidateDisabled(t *testing.T) {
	_, err := New(Options{Listen: []string{"127.0.0.1:0"}, Backends: []BackendSpec{{ID: 0, Group: 1, Disabled: true}}})
	require.ErrorContains(t, err, "nil backend")
	_, err = New(Options{Listen: []string{"127.0.0.1:0"}, Backends: []BackendSpec{{ID: 0, Group: 1, Open: new(opener).open}}})
	require.ErrorContains(t, err, "nil backend", "an enabled backend must be open")
	_, err = New(Options{Listen: []string{"127.0.0.1:0"}, Backends: []BackendSpec{{ID: 0, Group: 1, Open: new(opener).open, Disabled: true}}})
	require.NoError(t, err)
}

// gateBackend blocks writes until released and records when it is closed.
type gateBackend struct {
	*mem.Backend
	entered chan struct{} // one value per write that reached the backend
	gate    chan struct{} // closed to let writes finish
	closed  atomic.Bool
	// writesDone counts writes that returned; compared at Close.
	writesDone  atomic.Int32
	doneAtClose atomic.Int32
}

func newGate() *gateBackend {
	return &gateBackend{Backend: mem.New(), entered: make(chan struct{}, 100), gate: make(chan struct{})}
}

func (g *gateBackend) Write(ctx context.Context, req *backend.WriteRequest) (backend.Meta, error) {
	g.entered <- struct{}{}
	<-g.gate // ignores ctx on purpose: a backend stuck in I/O
	defer g.writesDone.Add(1)
	return g.Backend.Write(ctx, req)
}

func (g *gateBackend) Close() error {
	g.doneAtClose.Store(g.writesDone.Load())
	g.closed.Store(true)
	return g.Backend.Close()
}

// Disable waits for the requests in flight on the backend: they complete,
// later ones get NoRoute, and the backend is closed after them.
func TestDisableWaitsForInflight(t *testing.T) {
	g := newGate()
	s := startServer(t, func(opts *Options) {
		opts.Backends[0] = BackendSpec{ID: 0, Group: 1, Backend: g, Open: new(opener).open}
	}, nil)
	writers := dialRaw(t, s)
	const n = 5
	for i := 0; i < n; i++ {
		h, parts := writeFrame(uint64(i+1), "key"+string(rune('a'+i)), 1, "v", 0)
		writers.send(h, parts...)
	}
	for i := 0; i < n; i++ {
		<-g.entered
	}

	ctl := dialRaw(t, s)
	ctl.send(proto.NewHeader(proto.CmdBackendControl, 1, id.Zero, 0),
		(&proto.BackendControl{BackendID: 0, Command: proto.ControlDisable}).Append(nil))
	require.Eventually(t, func() bool { return s.byID[0].State() == proto.StateDeactivating },
		5*time.Second, time.Millisecond)

	other := dialRaw(t, s)
	st, msg := other.write(1, "late", 1, "v")
	require.Equal(t, status.NoRoute, st)
	require.Equal(t, "backend 0 of group 1 is being disabled", msg)
	require.False(t, g.closed.Load(), "not closed while requests run")
	require.Equal(t, proto.StateDeactivating, other.backendStatus(2)[0].State)

	close(g.gate)
	for i := 0; i < n; i++ {
		rh, p := writers.recv()
		require.Equal(t, status.OK, rh.Status, "in-flight write completes: %s", p)
	}
	st2, list, msg := ctl.statusReply(1)
	require.Equal(t, status.OK, st2, msg)
	require.Equal(t, proto.StateDisabled, list[0].State)
	require.True(t, g.closed.Load())
	require.Equal(t, int32(n), g.doneAtClose.Load(), "closed after every in-flight write returned")

	st, msg = other.write(3, "later", 1, "v")
	require.Equal(t, status.NoRoute, st)
	require.Equal(t, "backend 0 of group 1 is disabled", msg)
}

// A request stuck in the backend does not hold a disable past the request
// timeout.
func TestDisableWaitIsBounded(t *testing.T) {
	g := newGate()
	s := startServer(t, func(opts *Options) {
		opts.RequestTimeout = 200 * time.Millisecond
		opts.Backends[0] = BackendSpec{ID: 0, Group: 1, Backend: g, Open: new(opener).open}
	}, nil)
	defer close(g.gate)
	w := dialRaw(t, s)
	h, parts := writeFrame(1, "k", 1, "v", 0)
	w.send(h, parts...)
	<-g.entered

	start := time.Now()
	_, err := s.ControlBackend(context.Background(), 0, proto.ControlDisable)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	require.True(t, g.closed.Load())
	require.Equal(t, proto.StateDisabled, s.byID[0].State())
}

// fakeDefrag is a backend that defragments on command.
type fakeDefrag struct {
	*mem.Backend
	mu      sync.Mutex
	st      backend.DefragStatus
	ctx     context.Context
	readOnl atomic.Bool // the backend's own read-only state
	setRO   []bool
}

func (f *fakeDefrag) StartDefrag(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st.Running {
		return status.ErrAlready
	}
	f.ctx = ctx
	f.st = backend.DefragStatus{Running: true, StartedAt: time.Unix(1700000000, 0).UTC(), FilesDone: 1, FilesTotal: 4,
		BytesDone: 100, BytesTotal: 400, Reclaimed: 10}
	return nil
}

func (f *fakeDefrag) StopDefrag() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.st.Running {
		return status.ErrAlready
	}
	f.st.Running = false
	f.st.FinishedAt = f.st.StartedAt.Add(time.Minute)
	f.st.Err = "stopped"
	return nil
}

func (f *fakeDefrag) DefragStatus() backend.DefragStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeDefrag) Stats() backend.Stats {
	st := f.Backend.Stats()
	st.ReadOnly = f.readOnl.Load()
	if st.ReadOnly {
		st.Extra = map[string]any{"read_only_reason": "a write failed: no space left on device"}
	}
	return st
}

func (f *fakeDefrag) SetReadOnly(ro bool) {
	f.mu.Lock()
	f.setRO = append(f.setRO, ro)
	f.mu.Unlock()
	f.readOnl.Store(ro)
}

func TestDefragControl(t *testing.T) {
	f := &fakeDefrag{Backend: mem.New()}
	s := startServer(t, func(opts *Options) { opts.Backends[0].Backend = f }, nil)
	c := dialRaw(t, s)

	st, list, msg := c.control(1, 0, proto.ControlStartDefrag)
	require.Equal(t, status.OK, st, msg)
	require.Equal(t, proto.DefragInProgress, list[0].DefragState)
	require.Equal(t, proto.DefragProgress{FilesDone: 1, FilesTotal: 4, BytesDone: 100, BytesTotal: 400, Reclaimed: 10,
		StartedAt: time.Unix(1700000000, 0).UTC()}, list[0].Defrag)
	require.NoError(t, f.ctx.Err(), "the defragmentation outlives the request")

	st, _, msg = c.control(2, 0, proto.ControlStartDefrag)
	require.Equal(t, status.Already, st)
	require.Equal(t, "backend 0: a defragmentation is already running", msg)

	st, list, msg = c.control(3, 0, proto.ControlStopDefrag)
	require.Equal(t, status.OK, st, msg)
	require.Equal(t, proto.DefragNotStarted, list[0].DefragState)
	require.Equal(t, "stopped", list[0].Defrag.Err)
	require.False(t, list[0].Defrag.FinishedAt.IsZero())

	st, _, msg = c.control(4, 0, proto.ControlStopDefrag)
	require.Equal(t, status.Already, st)
	require.Equal(t, "backend 0: no defragmentation is running", msg)

	require.NoError(t, s.Shutdown(context.Background()))
	require.Error(t, f.ctx.Err(), "shutdown cancels background work")
}

// A backend read-only on its own is reported so, and writable clears it
// through ReadOnlySetter.
func TestWritableClearsBackendReadOnly(t *testing.T) {
	f := &fakeDefrag{Backend: mem.New()}
	f.readOnl.Store(true)
	s := startServer(t, func(opts *Options) { opts.Backends[0].Backend = f }, nil)
	c := dialRaw(t, s)
	list := c.backendStatus(1)
	require.True(t, list[0].ReadOnly)
	require.Equal(t, "read-only: a write failed: no space left on device", list[0].LastError)

	st, list, msg := c.control(2, 0, proto.ControlWritable)
	require.Equal(t, status.OK, st, msg)
	require.False(t, list[0].ReadOnly)
	require.Empty(t, list[0].LastError)
	require.Equal(t, []bool{false}, f.setRO)
	st, _, msg = c.control(3, 0, proto.ControlWritable)
	require.Equal(t, status.Already, st, msg)
}

// roBackend is read-only on its own and cannot be changed.
type roBackend struct{ *mem.Backend }

func (roBackend) Stats() backend.Stats { return backend.Stats{ReadOnly: true} }

func TestWritableCannotClear(t *testing.T) {
	s := startServer(t, func(opts *Options) { opts.Backends[0].Backend = roBackend{mem.New()} }, nil)
	require.Equal(t, "the backend switched itself to read-only", s.BackendStatus()[0].LastError)
	_, err := s.ControlBackend(context.Background(), 0, proto.ControlWritable)
	require.ErrorIs(t, err, status.ErrReadOnly)
	require.ErrorContains(t, err, "backend 0 (group 1) stays read-only")
}

// Control commands on one backend from many goroutines leave it in a
// consistent state, with data requests running all along.
func TestControlConcurrent(t *testing.T) {
	s := startServer(t, func(opts *Options) { opts.Backends[0].Open = new(opener).open }, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		c := dialRaw(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(1); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				h, parts := writeFrame(i, "k", 1, "v", 0)
				c.send(h, parts...)
				rh, p := c.recv()
				if rh.Status != status.OK && rh.Status != status.NoRoute && rh.Status != status.ReadOnly {
					t.Errorf("write: %v %s", rh.Status, p)
				}
			}
		}()
	}
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		var cwg sync.WaitGroup
		for _, cmd := range []proto.ControlCommand{proto.ControlDisable, proto.ControlEnable, proto.ControlReadOnly,
			proto.ControlWritable, proto.ControlDisable, proto.ControlEnable} {
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				_, err := s.ControlBackend(ctx, 0, cmd)
				if err != nil && !errors.Is(err, status.ErrAlready) && !errors.Is(err, status.ErrOverloaded) {
					t.Errorf("%s: %v", cmd, err)
				}
			}()
		}
		cwg.Wait()
	}
	close(stop)
	wg.Wait()
	st := s.byID[0].State()
	require.Contains(t, []proto.BackendState{proto.StateEnabled, proto.StateDisabled}, st)
}

// ControlDelay sets an artificial delay before every data command of the
// backend (the original's set_delay); BACKEND_STATUS reports it.
func TestBackendDelay(t *testing.T) {
	s := startServer(t, func(opts *Options) { opts.RequestTimeout = 300 * time.Millisecond }, nil)
	c := dialRaw(t, s)
	require.Equal(t, status.OK, first(c.write(1, "k", 1, "v")))
	trans := uint64(10)
	for _, tc := range []struct {
		name    string
		backend int32
		payload []byte        // raw request payload; nil = encode delay
		delay   time.Duration // asked for
		want    time.Duration // reported by the status and waited by a read
		read    status.Code   // a read of group 1 afterwards
	}{
		{name: "set", delay: 50 * time.Millisecond, want: 50 * time.Millisecond},
		{name: "sub-millisecond part dropped", delay: 20*time.Millisecond + 700*time.Microsecond, want: 20 * time.Millisecond},
		{name: "zero removes it", delay: 0, want: 0},
		{name: "set again", delay: 40 * time.Millisecond, want: 40 * time.Millisecond},
		{name: "old 16-byte payload without a delay removes it",
			payload: []byte{0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, want: 0},
		{name: "over the request timeout: the read times out", delay: time.Hour, want: time.Hour, read: status.Timeout},
		{name: "other backend: group 1 stays delayed", backend: 1, delay: 10 * time.Millisecond,
			want: 10 * time.Millisecond, read: status.Timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trans++
			payload := tc.payload
			if payload == nil {
				payload = (&proto.BackendControl{BackendID: tc.backend, Command: proto.ControlDelay, Delay: tc.delay}).Append(nil)
			}
			c.send(proto.NewHeader(proto.CmdBackendControl, trans, id.Zero, 0), payload)
			st, list, msg := c.statusReply(trans)
			require.Equal(t, status.OK, st, msg)
			require.Len(t, list, 1)
			require.Equal(t, tc.backend, list[0].ID)
			require.Equal(t, tc.want, list[0].Delay)
			require.Equal(t, tc.want, s.BackendStatus()[tc.backend].Delay)

			trans++
			start := time.Now()
			st, msg = c.read(trans, "k", 1)
			took := time.Since(start)
			require.Equal(t, tc.read, st, msg)
			wait := s.byID[0].Delay()
			if tc.read == status.Timeout {
				require.Contains(t, msg, "artificial delay")
				require.Less(t, took, 5*time.Second, "bounded by the request timeout")
				return
			}
			require.Equal(t, "v", msg)
			require.GreaterOrEqual(t, took, wait)
		})
	}

	// Writes wait too, and are bounded the same way.
	st, msg := c.write(100, "k", 1, "w")
	require.Equal(t, status.Timeout, st, msg)
	_, err := s.Control(context.Background(), proto.BackendControl{BackendID: 0, Command: proto.ControlDelay})
	require.NoError(t, err)
	require.Equal(t, status.OK, first(c.write(101, "k", 1, "w")))
}
