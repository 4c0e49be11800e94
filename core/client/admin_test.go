package client_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/status"
)

// defragMem is a mem backend with a scripted defragmentation.
type defragMem struct {
	*mem.Backend
	mu sync.Mutex
	st backend.DefragStatus
}

func (d *defragMem) StartDefrag(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.Running {
		return status.ErrAlready
	}
	d.st = backend.DefragStatus{Running: true, StartedAt: time.Unix(1700000000, 5).UTC(),
		FilesDone: 2, FilesTotal: 3, BytesDone: 20, BytesTotal: 30, Reclaimed: 7}
	return nil
}

func (d *defragMem) StopDefrag() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.st.Running {
		return status.ErrAlready
	}
	d.st.Running = false
	d.st.FinishedAt = d.st.StartedAt.Add(time.Second)
	return nil
}

func (d *defragMem) DefragStatus() backend.DefragStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// startAdminNode starts a node with backend 0 (group 1, reopenable mem),
// backend 1 (group 2, defragmentable) and returns it, its address and the
// number of opens of backend 0.
func startAdminNode(t *testing.T) (*server.Server, string, *atomic.Int32) {
	t.Helper()
	var opens atomic.Int32
	s, err := server.New(server.Options{
		Listen: []string{"127.0.0.1:0"},
		Backends: []server.BackendSpec{
			{ID: 0, Group: 1, Backend: mem.New(), Open: func() (backend.Backend, error) {
				opens.Add(1)
				return mem.New(), nil
			}},
			{ID: 1, Group: 2, Backend: &defragMem{Backend: mem.New()}},
		},
	})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, s.Addrs()[0].String(), &opens
}

func TestBackendAdmin(t *testing.T) {
	_, addr, opens := startAdminNode(t)
	s := connect(t, addr)
	ctx := context.Background()
	_, err := s.Write(ctx, client.NewKey("k"), []byte("v"))
	require.NoError(t, err)

	list, err := s.BackendStatus(ctx, addr)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, proto.BackendStatus{ID: 0, Group: 1, State: proto.StateEnabled, Records: 1, Bytes: 1}, list[0])

	g1 := s.Clone()
	g1.SetGroups(1)

	type call func(context.Context, string, int32) ([]proto.BackendStatus, error)
	for _, tc := range []struct {
		name  string
		call  call
		id    int32
		want  error
		check func(t *testing.T, st proto.BackendStatus)
	}{
		{name: "disable", call: s.DisableBackend, check: func(t *testing.T, st proto.BackendStatus) {
			require.Equal(t, proto.StateDisabled, st.State)
			require.Equal(t, []uint32{2}, s.Node().Groups(), "the node stops routing to the disabled backend")
			_, err := g1.Read(ctx, client.NewKey("k"), 0, 0)
			require.ErrorIs(t, err, status.ErrNoRoute)
		}},
		{name: "disable again", call: s.DisableBackend, want: status.ErrAlready},
		{name: "enable", call: s.EnableBackend, check: func(t *testing.T, st proto.BackendStatus) {
			require.Equal(t, proto.StateEnabled, st.State)
			require.Equal(t, int32(1), opens.Load(), "enable reopened the backend")
			require.Equal(t, []uint32{1, 2}, s.Node().Groups())
			_, err := g1.Read(ctx, client.NewKey("k"), 0, 0)
			require.ErrorIs(t, err, status.ErrNotFound, "a reopened mem backend is empty")
		}},
		{name: "enable again", call: s.EnableBackend, want: status.ErrAlready},
		{name: "read-only", call: s.MakeReadOnly, check: func(t *testing.T, st proto.BackendStatus) {
			require.True(t, st.ReadOnly)
			_, err := s.Write(ctx, client.NewKey("k"), []byte("v"))
			require.NoError(t, err, "group 2 still takes it")
			_, err = g1.Write(ctx, client.NewKey("k"), []byte("v"))
			require.ErrorIs(t, err, status.ErrReadOnly)
		}},
		{name: "read-only again", call: s.MakeReadOnly, want: status.ErrAlready},
		{name: "writable", call: s.MakeWritable, check: func(t *testing.T, st proto.BackendStatus) {
			require.False(t, st.ReadOnly)
		}},
		{name: "writable again", call: s.MakeWritable, want: status.ErrAlready},
		{name: "defrag on mem", call: s.StartDefrag, want: status.ErrUnsupported},
		{name: "defrag", call: s.StartDefrag, id: 1, check: func(t *testing.T, st proto.BackendStatus) {
			require.Equal(t, proto.DefragInProgress, st.DefragState)
			require.Equal(t, proto.DefragProgress{FilesDone: 2, FilesTotal: 3, BytesDone: 20, BytesTotal: 30,
				Reclaimed: 7, StartedAt: time.Unix(1700000000, 5).UTC()}, st.Defrag)
		}},
		{name: "defrag again", call: s.StartDefrag, id: 1, want: status.ErrAlready},
		{name: "stop defrag", call: s.StopDefrag, id: 1, check: func(t *testing.T, st proto.BackendStatus) {
			require.Equal(t, proto.DefragNotStarted, st.DefragState)
			require.Equal(t, time.Unix(1700000001, 5).UTC(), st.Defrag.FinishedAt)
		}},
		{name: "stop defrag again", call: s.StopDefrag, id: 1, want: status.ErrAlready},
		{name: "unknown backend", call: s.EnableBackend, id: 7, want: status.ErrNoRoute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := tc.call(ctx, addr, tc.id)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.Len(t, list, 1)
			require.Equal(t, tc.id, list[0].ID)
			tc.check(t, list[0])
		})
	}

	_, err = s.BackendControl(ctx, addr, 0, proto.ControlSetIDs)
	require.ErrorIs(t, err, status.ErrUnsupported)
	_, err = s.DisableBackend(ctx, addr, 0)
	require.NoError(t, err)
	_, err = s.DisableBackend(ctx, addr, 0)
	require.EqualError(t, err, "backend 0 is already disabled: already in that state (-114)")

	// Ping still works (over BACKEND_STATUS).
	p := s.Clone()
	p.SetGroups(2)
	res, err := p.Ping(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, res.Succeeded)
}

// Admin calls dial an address the node did not know yet, and fail clearly
// when nothing listens there.
func TestBackendAdminAddresses(t *testing.T) {
	_, addr, _ := startAdminNode(t)
	n := client.NewNode(client.Config{WaitTimeout: 2 * time.Second})
	defer n.Close()
	s := client.NewSession(n)
	ctx := context.Background()
	list, err := s.BackendStatus(ctx, addr)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []uint32{1, 2}, n.Groups(), "the address became a remote of the node")

	_, err = s.BackendStatus(ctx, "not an address")
	require.ErrorIs(t, err, status.ErrInvalid)
	_, err = s.BackendStatus(ctx, deadAddr(t))
	require.ErrorIs(t, err, status.ErrConnectionLost)
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
