package client

import (
	"context"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// Administration of one node's backends (BACKEND_STATUS, BACKEND_CONTROL).
// These calls address a node by its "host:port" (dialed if not connected
// yet) rather than by group, and ignore the session's groups and checker.

// BackendStatus returns the status of every backend of the node at addr
// (request_backends_status in the original).
func (s *Session) BackendStatus(ctx context.Context, addr string) ([]proto.BackendStatus, error) {
	list, err := s.admin(ctx, addr, proto.CmdBackendStatus, nil)
	if err != nil {
		return nil, err
	}
	return list, nil
}

// BackendControl runs a control command on backend backendID of the node at
// addr and returns the backend's status afterwards (one entry). Asking for
// the state already in effect (enable an enabled backend, ...) fails with
// status.ErrAlready; an unknown backend with status.ErrNoRoute; a command
// the backend type cannot do with status.ErrUnsupported.
func (s *Session) BackendControl(ctx context.Context, addr string, backendID int32, cmd proto.ControlCommand) ([]proto.BackendStatus, error) {
	req := proto.BackendControl{BackendID: backendID, Command: cmd}
	return s.admin(ctx, addr, proto.CmdBackendControl, req.Append(nil))
}

// EnableBackend opens backend backendID of the node at addr and serves it.
func (s *Session) EnableBackend(ctx context.Context, addr string, backendID int32) ([]proto.BackendStatus, error) {
	return s.BackendControl(ctx, addr, backendID, proto.ControlEnable)
}

// DisableBackend stops serving backend backendID of the node at addr: the
// node waits for its requests in flight, then closes it.
func (s *Session) DisableBackend(ctx context.Context, addr string, backendID int32) ([]proto.BackendStatus, error) {
	return s.BackendControl(ctx, addr, backendID, proto.ControlDisable)
}

// MakeReadOnly makes the node at addr refuse writes and removes on backend
// backendID.
func (s *Session) MakeReadOnly(ctx context.Context, addr string, backendID int32) ([]proto.BackendStatus, error) {
	return s.BackendControl(ctx, addr, backendID, proto.ControlReadOnly)
}

// MakeWritable makes backend backendID of the node at addr accept writes
// again (also a backend that went read-only on its own, if it can).
func (s *Session) MakeWritable(ctx context.Context, addr string, backendID int32) ([]proto.BackendStatus, error) {
	return s.BackendControl(ctx, addr, backendID, proto.ControlWritable)
}

// StartDefrag starts a defragmentation of backend backendID of the node at
// addr; follow it with BackendStatus.
func (s *Session) StartDefrag(ctx context.Context, addr string, backendID int32) ([]proto.BackendStatus, error) {
	return s.BackendControl(ctx, addr, backendID, proto.ControlStartDefrag)
}

// SetDelay makes the node at addr wait d before serving each data command
// of backend backendID (the original's set_delay, to test latency-aware
// reads); 0 removes the delay. The delay travels in whole milliseconds,
// at most proto.MaxBackendDelay, and never holds a request past the node's
// request timeout.
func (s *Session) SetDelay(ctx context.Context, addr string, backendID int32, d time.Duration) ([]proto.BackendStatus, error) {
	if d < 0 {
		return nil, status.Errorf(status.Invalid, "backend delay: negative duration %s", d)
	}
	req := proto.BackendControl{BackendID: backendID, Command: proto.ControlDelay, Delay: d}
	return s.admin(ctx, addr, proto.CmdBackendControl, req.Append(nil))
}

// StopDefrag asks the running defragmentation of backend backendID of the
// node at addr to stop.
func (s *Session) StopDefrag(ctx context.Context, addr string, backendID int32) ([]proto.BackendStatus, error) {
	return s.BackendControl(ctx, addr, backendID, proto.ControlStopDefrag)
}

func (s *Session) admin(ctx context.Context, addr string, cmd proto.Cmd, payload []byte) ([]proto.BackendStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	c, err := s.node.connTo(ctx, addr)
	if err != nil {
		return nil, err
	}
	r, err := c.roundTrip(ctx, s.header(cmd, id.ID{}, 0), payload)
	if err != nil {
		return nil, err
	}
	list, err := proto.DecodeBackendStatusList(r.payload)
	if err != nil {
		return nil, err
	}
	// Route requests by what the node serves now.
	c.updateBackends()
	return list, nil
}
