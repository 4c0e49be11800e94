package client_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/status"
)

// startNode starts an in-process node serving the given groups, one mem
// backend each, on a free loopback port.
func startNode(t *testing.T, groups ...uint32) (*server.Server, string) {
	t.Helper()
	opts := server.Options{Listen: []string{"127.0.0.1:0"}}
	for i, g := range groups {
		opts.Backends = append(opts.Backends, server.BackendSpec{ID: int32(i), Group: g, Backend: mem.New()})
	}
	s, err := server.New(opts)
	require.NoError(t, err)
	require.NoError(t, s.Start())
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, s.Addrs()[0].String()
}

// stopHoldingPort shuts srv down and keeps its port bound, answering
// nothing (connections are closed at once), until the test ends. Clients
// redial a lost node's address; with the port free, a node of a test
// running in another package (make test runs packages in parallel) could
// take it and answer as a node of other groups.
func stopHoldingPort(t *testing.T, srv *server.Server) {
	t.Helper()
	addr := srv.Addrs()[0].String()
	require.NoError(t, srv.Shutdown(context.Background()))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Logf("port of the stopped node %s taken meanwhile: %v", addr, err)
		return
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func connect(t *testing.T, addrs ...string) *client.Session {
	t.Helper()
	n := client.NewNode(client.Config{WaitTimeout: 2 * time.Second})
	t.Cleanup(func() { n.Close() })
	require.NoError(t, n.AddRemotes(context.Background(), addrs...))
	return client.NewSession(n)
}

func TestRoundTrip(t *testing.T) {
	_, addr := startNode(t, 1, 2, 3)
	s := connect(t, addr)
	require.ElementsMatch(t, []uint32{1, 2, 3}, s.Groups())
	ctx := context.Background()
	key := client.NewKey("hello")

	data := []byte("wor\x00ld")
	res, err := s.Write(ctx, key, data)
	require.NoError(t, err)
	require.Len(t, res.Entries, 3)
	require.Equal(t, 3, res.Succeeded)
	for i, e := range res.Entries {
		require.Equal(t, uint32(i+1), e.Group)
		require.Equal(t, addr, e.Address)
		require.Equal(t, uint64(len(data)), e.TotalSize)
		require.False(t, e.Timestamp.IsZero())
	}

	e, err := s.Read(ctx, key, 0, 0)
	require.NoError(t, err)
	require.Equal(t, data, e.Data)
	require.Equal(t, uint32(1), e.Group)

	e, err = s.Read(ctx, key, 1, 2)
	require.NoError(t, err)
	require.Equal(t, "or", string(e.Data))
	require.Equal(t, uint64(len(data)), e.TotalSize)

	l, err := s.LookupWith(ctx, key, client.LookupOptions{Checksum: true})
	require.NoError(t, err)
	require.Equal(t, uint64(len(data)), l.TotalSize)
	require.Equal(t, id.Transform(data), l.Checksum)

	_, err = s.Remove(ctx, key)
	require.NoError(t, err)
	_, err = s.Read(ctx, key, 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)
	_, err = s.Remove(ctx, key)
	require.ErrorIs(t, err, status.ErrNotFound)
}

func TestNamespaceSeparatesKeys(t *testing.T) {
	_, addr := startNode(t, 1)
	ctx := context.Background()
	a := connect(t, addr)
	a.SetNamespace("a")
	b := a.Clone()
	b.SetNamespace("b")
	_, err := a.Write(ctx, client.NewKey("k"), []byte("A"))
	require.NoError(t, err)
	_, err = b.Read(ctx, client.NewKey("k"), 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)
	_, err = b.Write(ctx, client.NewKey("k"), []byte("B"))
	require.NoError(t, err)
	e, err := a.Read(ctx, client.NewKey("k"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "A", string(e.Data))
}

func TestCheckersWithOneGroupDown(t *testing.T) {
	_, addr1 := startNode(t, 1, 2)
	srv3, addr3 := startNode(t, 3)
	s := connect(t, addr1, addr3)
	s.SetGroups(1, 2, 3)
	ctx := context.Background()
	key := client.NewKey("k")
	_, err := s.Write(ctx, key, []byte("v1"))
	require.NoError(t, err)

	stopHoldingPort(t, srv3)

	for _, tc := range []struct {
		checker client.Checker
		wantErr bool
	}{
		{client.CheckAll, true},
		{client.CheckQuorum, false},
		{client.CheckAtLeastOne, false},
		{client.CheckNone, false},
	} {
		s.SetChecker(tc.checker)
		res, err := s.Write(ctx, key, []byte("v2"))
		if tc.wantErr {
			require.Error(t, err, tc.checker.String())
			require.ErrorIs(t, err, status.ErrNoRoute)
			require.Contains(t, err.Error(), "2 of 3")
		} else {
			require.NoError(t, err, tc.checker.String())
		}
		require.Equal(t, 2, res.Succeeded)
		require.Len(t, res.Entries, 3, "every group's outcome is reported")
		require.False(t, res.Entries[2].OK())
		require.Equal(t, uint32(3), res.Entries[2].Group)
	}

	s.SetFilter(client.FilterNegative)
	res, _ := s.Write(ctx, key, []byte("v3"))
	require.Len(t, res.Entries, 1)
	require.Equal(t, uint32(3), res.Entries[0].Group)

	// A read skips the dead group.
	s.SetGroups(3, 1)
	e, all, err := s.ReadAll(ctx, key, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "v3", string(e.Data))
	require.Equal(t, uint32(1), e.Group)
	require.Len(t, all, 2)
	require.False(t, all[0].OK())

	// Quorum with two of three down fails.
	s.SetGroups(1, 3, 4)
	s.SetChecker(client.CheckQuorum)
	_, err = s.Write(ctx, key, []byte("v4"))
	require.Error(t, err)
}

func TestUnknownGroup(t *testing.T) {
	_, addr := startNode(t, 1)
	s := connect(t, addr)
	s.SetGroups(9)
	_, err := s.Write(context.Background(), client.NewKey("k"), []byte("x"))
	require.ErrorIs(t, err, status.ErrNoRoute)
	_, err = s.Read(context.Background(), client.NewKey("k"), 0, 0)
	require.ErrorIs(t, err, status.ErrNoRoute)
}

func TestEmptyKey(t *testing.T) {
	_, addr := startNode(t, 1)
	s := connect(t, addr)
	_, err := s.Write(context.Background(), client.NewKey(""), []byte("x"))
	require.ErrorIs(t, err, status.ErrInvalid)
}

func TestUserFlagsTimestampColumnsAppend(t *testing.T) {
	_, addr := startNode(t, 1)
	s := connect(t, addr)
	ctx := context.Background()
	ts := time.Unix(1600000000, 42).UTC()
	s.SetUserFlags(0xabc)
	s.SetTimestamp(ts)
	key := client.NewKey("obj")
	_, err := s.Write(ctx, key, []byte("55555"))
	require.NoError(t, err)
	_, err = s.WriteWith(ctx, key, []byte("43210"), client.WriteOptions{Offset: 1})
	require.NoError(t, err)
	_, err = s.WriteWith(ctx, key, []byte("!"), client.WriteOptions{Append: true})
	require.NoError(t, err)
	_, err = s.Write(ctx, key.WithColumn("meta"), []byte("m"))
	require.NoError(t, err)

	e, err := s.Read(ctx, key, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "543210!", string(e.Data))
	require.Equal(t, uint64(0xabc), e.UserFlags)
	require.True(t, ts.Equal(e.Timestamp))

	m, err := s.Read(ctx, key.WithColumn("meta"), 0, 0)
	require.NoError(t, err)
	require.Equal(t, "m", string(m.Data))

	_, err = s.Remove(ctx, key.WithColumn("meta"))
	require.NoError(t, err)
	_, err = s.Read(ctx, key.WithColumn("meta"), 0, 0)
	require.ErrorIs(t, err, status.ErrNotFound)
	_, err = s.Read(ctx, key, 0, 0)
	require.NoError(t, err, "removing a column keeps the others")
}

func TestConcurrentPipelined(t *testing.T) {
	_, addr := startNode(t, 1)
	s := connect(t, addr)
	ctx := context.Background()
	errs := make(chan error, 64)
	for w := 0; w < 64; w++ {
		go func() {
			for i := 0; i < 50; i++ {
				k := client.NewKey(string(rune('a'+w%26)) + "-" + string(rune('0'+i%10)) + string(rune(w)))
				v := bytes.Repeat([]byte{byte(w)}, 100+i)
				if _, err := s.Write(ctx, k, v); err != nil {
					errs <- err
					return
				}
				e, err := s.Read(ctx, k, 0, 0)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(e.Data, v) {
					errs <- status.Errorf(status.Corrupt, "read back differs")
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < 64; w++ {
		require.NoError(t, <-errs)
	}
}

func TestReconnectAfterRestart(t *testing.T) {
	srv, addr := startNode(t, 1)
	s := connect(t, addr)
	ctx := context.Background()
	_, err := s.Write(ctx, client.NewKey("k"), []byte("x"))
	require.NoError(t, err)
	require.NoError(t, srv.Shutdown(ctx))
	_, err = s.Write(ctx, client.NewKey("k"), []byte("x"))
	require.Error(t, err)

	// Same address, new node.
	s2, err := server.New(server.Options{Listen: []string{addr},
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}}})
	require.NoError(t, err)
	require.NoError(t, s2.Start())
	defer s2.Shutdown(ctx)
	require.Eventually(t, func() bool {
		_, err := s.Write(ctx, client.NewKey("k"), []byte("y"))
		return err == nil
	}, 5*time.Second, 50*time.Millisecond)
}
