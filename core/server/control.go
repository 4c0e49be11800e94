package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Run-time backend control (BACKEND_CONTROL and BACKEND_STATUS).
//
// A backend is in one of four states. Enabled backends serve requests;
// every data request holds a reference on the backend's storage while its
// handler runs. Enable opens the storage (Activating while BackendSpec.Open
// runs), disable stops new requests at once (Deactivating), waits for the
// references to drop (at most the request timeout) and closes the storage.
// Read-only is a node-level flag independent of the state.

// State returns the backend's run state.
func (b *Backend) State() proto.BackendState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Store returns the backend's open storage, or nil when it is not enabled.
// A caller that uses it races with a disable; requests get theirs in
// Request.Store, which stays open until the handler returns.
func (b *Backend) Store() backend.Backend {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != proto.StateEnabled {
		return nil
	}
	return b.store
}

// acquire returns the storage of an enabled backend and takes a reference
// on it; the caller must call release.
func (b *Backend) acquire() (backend.Backend, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != proto.StateEnabled {
		return nil, b.notServing()
	}
	b.refs++
	return b.store, nil
}

// notServing is the error of a request for a backend that is not enabled;
// b.mu is held.
func (b *Backend) notServing() error {
	what := "disabled"
	switch b.state {
	case proto.StateActivating:
		what = "being enabled"
	case proto.StateDeactivating:
		what = "being disabled"
	}
	return status.Errorf(status.NoRoute, "backend %d of group %d is %s", b.ID, b.Group, what)
}

func (b *Backend) release() {
	b.mu.Lock()
	b.refs--
	if b.refs == 0 && b.drained != nil {
		close(b.drained)
		b.drained = nil
	}
	b.mu.Unlock()
}

// shutdown closes the storage for good (Server.Shutdown).
func (b *Backend) shutdown() error {
	b.mu.Lock()
	st := b.store
	b.store = nil
	b.state = proto.StateDisabled
	b.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.Close()
}

func (b *Backend) fields(more ...zap.Field) []zap.Field {
	return append([]zap.Field{zap.Int32("backend", b.ID), zap.Uint32("group", b.Group)}, more...)
}

// Delay returns the artificial delay the node waits before serving each data
// command of the backend (ControlDelay); 0 means none.
func (b *Backend) Delay() time.Duration { return time.Duration(b.delay.Load()) }

// SetDelay sets the artificial delay before each data command (the
// original's set_delay, for tests of latency-aware clients); d <= 0
// removes it. The delay is kept in whole milliseconds, as the wire carries
// it.
func (b *Backend) SetDelay(d time.Duration) {
	d = min(max(d, 0), proto.MaxBackendDelay).Truncate(time.Millisecond)
	b.delay.Store(int64(d))
}

// wait sleeps for the backend's artificial delay before a data command. It
// ends early, with status.Timeout, when ctx does (the request timeout or
// the connection closing), so a delay never holds a request past its
// deadline.
func (b *Backend) wait(ctx context.Context) error {
	d := b.Delay()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return status.Errorf(status.Timeout, "backend %d (group %d): the request ended during the artificial delay of %s",
			b.ID, b.Group, d)
	}
}

// Status describes the backend as BACKEND_STATUS reports it.
func (b *Backend) Status() proto.BackendStatus {
	bs := proto.BackendStatus{ID: b.ID, Group: b.Group, ReadOnly: b.ReadOnly(), Delay: b.Delay()}
	b.mu.Lock()
	bs.State, bs.LastError = b.state, b.lastErr
	var st backend.Backend
	if b.state == proto.StateEnabled {
		st = b.store
		b.refs++
	}
	b.mu.Unlock()
	if st == nil {
		return bs
	}
	defer b.release()
	stats := st.Stats()
	bs.Records, bs.Bytes = stats.Records, stats.Bytes
	if stats.ReadOnly {
		bs.ReadOnly = true
		// Backends say why in Stats.Extra["read_only_reason"] (blob does).
		if reason, _ := stats.Extra["read_only_reason"].(string); bs.LastError == "" && reason != "" {
			bs.LastError = "read-only: " + reason
		} else if bs.LastError == "" && !b.ReadOnly() {
			bs.LastError = "the backend switched itself to read-only"
		}
	}
	if d, ok := st.(backend.Defragmenter); ok {
		ds := d.DefragStatus()
		if ds.Running {
			bs.DefragState = proto.DefragInProgress
		}
		bs.Defrag = proto.DefragProgress{
			FilesDone: uint64(max(ds.FilesDone, 0)), FilesTotal: uint64(max(ds.FilesTotal, 0)),
			BytesDone: ds.BytesDone, BytesTotal: ds.BytesTotal, Reclaimed: ds.Reclaimed,
			StartedAt: ds.StartedAt, FinishedAt: ds.FinishedAt, Err: ds.Err,
		}
	}
	return bs
}

// BackendStatus returns the status of every backend of the node, in
// configuration order.
func (s *Server) BackendStatus() []proto.BackendStatus {
	out := make([]proto.BackendStatus, 0, len(s.backends))
	for _, b := range s.backends {
		out = append(out, b.Status())
	}
	return out
}

// ControlBackend runs a BACKEND_CONTROL command on backend id and returns
// the backend's status afterwards. Errors: status.NoRoute for an unknown
// backend (or defragmenting a disabled one), status.ErrAlready when the
// state asked for is already in effect, status.Overloaded while the
// opposite transition runs, status.Unsupported for commands the node or
// the backend type cannot do, and the error of Open for a failed enable.
// ControlDelay through it removes the delay; Control sets one.
func (s *Server) ControlBackend(ctx context.Context, id int32, cmd proto.ControlCommand) (proto.BackendStatus, error) {
	return s.Control(ctx, proto.BackendControl{BackendID: id, Command: cmd})
}

// Control runs a BACKEND_CONTROL request (ControlBackend with the
// command's arguments: the delay of ControlDelay).
func (s *Server) Control(ctx context.Context, c proto.BackendControl) (proto.BackendStatus, error) {
	id, cmd := c.BackendID, c.Command
	b := s.byID[id]
	if b == nil {
		return proto.BackendStatus{}, status.Errorf(status.NoRoute, "node has no backend %d", id)
	}
	var err error
	switch cmd {
	case proto.ControlEnable:
		err = s.enable(b)
	case proto.ControlDisable:
		err = s.disable(b)
	case proto.ControlReadOnly:
		err = s.makeReadOnly(b)
	case proto.ControlWritable:
		err = s.makeWritable(b)
	case proto.ControlStartDefrag, proto.ControlStopDefrag:
		err = s.defrag(b, cmd == proto.ControlStartDefrag)
	case proto.ControlDelay:
		b.SetDelay(c.Delay)
		s.log.Info("backend delay set", b.fields(zap.Duration("delay", b.Delay()))...)
	case proto.ControlSetIDs:
		err = status.Errorf(status.Unsupported, "backend control %s is not supported yet", cmd)
	default:
		err = status.Errorf(status.Unsupported, "unknown backend control command %d", uint32(cmd))
	}
	if err != nil {
		return proto.BackendStatus{}, err
	}
	switch cmd {
	case proto.ControlEnable, proto.ControlDisable, proto.ControlReadOnly, proto.ControlWritable:
		s.bumpVersion() // what we serve changed: peers and clients re-route
	}
	return b.Status(), nil
}

func (s *Server) enable(b *Backend) error {
	b.mu.Lock()
	switch b.state {
	case proto.StateEnabled:
		b.mu.Unlock()
		return status.Errorf(status.Already, "backend %d is already enabled", b.ID)
	case proto.StateActivating:
		b.mu.Unlock()
		return status.Errorf(status.Already, "backend %d is already being enabled", b.ID)
	case proto.StateDeactivating:
		b.mu.Unlock()
		return status.Errorf(status.Overloaded, "backend %d is being disabled; try again when it is done", b.ID)
	}
	if s.closing.Load() {
		b.mu.Unlock()
		return status.Errorf(status.ShuttingDown, "node is stopping")
	}
	if b.store != nil {
		// Kept open by a disable (no Open function): serve it again.
		b.state, b.lastErr = proto.StateEnabled, ""
		b.mu.Unlock()
		s.log.Info("backend enabled", b.fields()...)
		return nil
	}
	b.state = proto.StateActivating
	b.mu.Unlock()
	s.log.Info("backend activating", b.fields()...)

	st, err := openBackend(b.open)
	b.mu.Lock()
	if err == nil && s.closing.Load() {
		b.state = proto.StateDisabled
		b.mu.Unlock()
		_ = st.Close()
		return status.Errorf(status.ShuttingDown, "node is stopping")
	}
	if err != nil {
		b.state = proto.StateDisabled
		b.lastErr = "open failed: " + status.Message(err)
		b.mu.Unlock()
		s.log.Warn("backend failed to open, stays disabled", b.fields(zap.Error(err))...)
		return &status.Error{Code: status.FromError(err),
			Msg: fmt.Sprintf("backend %d (group %d): open failed: %s", b.ID, b.Group, status.Message(err))}
	}
	b.store, b.state, b.lastErr = st, proto.StateEnabled, ""
	b.mu.Unlock()
	s.log.Info("backend enabled", b.fields()...)
	return nil
}

// openBackend calls open, turning a panic into an error so that the
// backend never stays stuck in StateActivating.
func openBackend(open func() (backend.Backend, error)) (st backend.Backend, err error) {
	if open == nil {
		return nil, status.Errorf(status.Unsupported, "the backend cannot be reopened")
	}
	defer func() {
		if p := recover(); p != nil {
			st, err = nil, status.Errorf(status.IOError, "open panicked: %v", p)
		}
	}()
	st, err = open()
	if err == nil && st == nil {
		err = status.Errorf(status.IOError, "open returned no backend")
	}
	return st, err
}

func (s *Server) disable(b *Backend) error {
	b.mu.Lock()
	switch b.state {
	case proto.StateDisabled:
		b.mu.Unlock()
		return status.Errorf(status.Already, "backend %d is already disabled", b.ID)
	case proto.StateDeactivating:
		b.mu.Unlock()
		return status.Errorf(status.Already, "backend %d is already being disabled", b.ID)
	case proto.StateActivating:
		b.mu.Unlock()
		return status.Errorf(status.Overloaded, "backend %d is being enabled; try again when it is done", b.ID)
	}
	b.state = proto.StateDeactivating
	b.mu.Unlock()
	// Recovery jobs hold the backend for as long as they run: let them go
	// now (they go on when it serves again) rather than wait out the
	// request timeout below.
	s.rec.mgr.Interrupt(b.ID)
	b.mu.Lock()
	var drained chan struct{}
	inflight := b.refs
	if inflight > 0 {
		drained = make(chan struct{})
		b.drained = drained
	}
	b.mu.Unlock()
	s.log.Info("backend deactivating", b.fields(zap.Int("requests_in_flight", inflight))...)

	if drained != nil {
		t := time.NewTimer(s.opts.RequestTimeout)
		select {
		case <-drained:
		case <-t.C:
			s.log.Warn("requests still in flight after the request timeout, closing the backend anyway",
				b.fields()...)
		}
		t.Stop()
	}

	b.mu.Lock()
	b.drained = nil
	st := b.store
	if b.open != nil {
		b.store = nil
	} else {
		st = nil // no way to reopen it: keep it open for the next enable
	}
	b.mu.Unlock()
	var cerr error
	if st != nil {
		cerr = st.Close()
	}
	b.mu.Lock()
	b.state = proto.StateDisabled
	if cerr != nil {
		b.lastErr = "close failed: " + cerr.Error()
	}
	b.mu.Unlock()
	if cerr != nil {
		s.log.Warn("backend disabled, but closing it failed", b.fields(zap.Error(cerr))...)
		return status.Errorf(status.IOError, "backend %d (group %d) disabled, but closing it failed: %v", b.ID, b.Group, cerr)
	}
	s.log.Info("backend disabled", b.fields()...)
	return nil
}

func (s *Server) makeReadOnly(b *Backend) error {
	if b.readOnly.Swap(true) {
		return status.Errorf(status.Already, "backend %d is already read-only", b.ID)
	}
	s.log.Info("backend made read-only", b.fields()...)
	return nil
}

func (s *Server) makeWritable(b *Backend) error {
	wasRO := b.readOnly.Swap(false)
	st, err := b.acquire()
	if err != nil {
		// A disabled backend only has the node-level flag.
		if !wasRO {
			return status.Errorf(status.Already, "backend %d is already writable", b.ID)
		}
		s.log.Info("backend made writable", b.fields()...)
		return nil
	}
	defer b.release()
	ownRO := st.Stats().ReadOnly
	if !wasRO && !ownRO {
		return status.Errorf(status.Already, "backend %d is already writable", b.ID)
	}
	if setter, ok := st.(backend.ReadOnlySetter); ok {
		setter.SetReadOnly(false)
	}
	if ownRO && st.Stats().ReadOnly {
		s.log.Warn("backend stays read-only on its own", b.fields()...)
		return status.Errorf(status.ReadOnly, "backend %d (group %d) stays read-only: the backend cannot be made writable", b.ID, b.Group)
	}
	s.log.Info("backend made writable", b.fields()...)
	return nil
}

func (s *Server) defrag(b *Backend, start bool) error {
	st, err := b.acquire()
	if err != nil {
		return err
	}
	defer b.release()
	d, ok := st.(backend.Defragmenter)
	if !ok {
		return status.Errorf(status.Unsupported, "backend type does not support defragmentation")
	}
	if start {
		if err := d.StartDefrag(s.bgCtx); err != nil {
			return b.defragError(err, "a defragmentation is already running")
		}
		s.log.Info("backend defragmentation started", b.fields()...)
		return nil
	}
	if err := d.StopDefrag(); err != nil {
		return b.defragError(err, "no defragmentation is running")
	}
	s.log.Info("backend defragmentation stop requested", b.fields()...)
	return nil
}

// defragError names the backend in a Defragmenter's error, and gives
// status.ErrAlready without a message the one of already.
func (b *Backend) defragError(err error, already string) error {
	msg := status.Message(err)
	if msg == "" && errors.Is(err, status.ErrAlready) {
		msg = already
	}
	return &status.Error{Code: status.FromError(err), Msg: fmt.Sprintf("backend %d: %s", b.ID, msg)}
}

func (s *Server) handleBackendStatus(context.Context, *Request, Replier) ([][]byte, error) {
	return [][]byte{proto.AppendBackendStatusList(nil, s.BackendStatus())}, nil
}

func (s *Server) handleBackendControl(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	c, err := proto.DecodeBackendControl(req.Payload)
	if err != nil {
		return nil, err
	}
	st, err := s.Control(ctx, c)
	if err != nil {
		return nil, err
	}
	return [][]byte{proto.AppendBackendStatusList(nil, []proto.BackendStatus{st})}, nil
}
