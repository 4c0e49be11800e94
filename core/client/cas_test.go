package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/status"
)

// casCluster starts one node per group (1, 2, 3) and returns a session on
// all three, the servers by group and the session's context.
func casCluster(t *testing.T) (*client.Session, map[uint32]*server.Server) {
	t.Helper()
	srvs := map[uint32]*server.Server{}
	var addrs []string
	for _, g := range []uint32{1, 2, 3} {
		srv, addr := startNode(t, g)
		srvs[g], addrs = srv, append(addrs, addr)
	}
	s := connect(t, addrs...)
	s.SetGroups(1, 2, 3)
	s.SetReadRepair(false) // the test itself makes replicas differ
	return s, srvs
}

// diverge stores a different value of k in each group, with timestamp at.
func diverge(t *testing.T, s *client.Session, k client.Key, at time.Time, vals map[uint32]string) {
	t.Helper()
	for g, v := range vals {
		one := s.Clone()
		one.SetGroups(g)
		one.SetTimestamp(at)
		_, err := one.Write(context.Background(), k, []byte(v))
		require.NoError(t, err)
	}
}

// values reads k from each group alone ("" where it is missing).
func values(t *testing.T, s *client.Session, k client.Key) map[uint32]string {
	t.Helper()
	out := map[uint32]string{}
	for _, g := range s.Groups() {
		one := s.Clone()
		one.SetGroups(g)
		e, err := one.Read(context.Background(), k, 0, 0)
		if err == nil {
			out[g] = string(e.Data)
		}
	}
	return out
}

func TestWriteCASMultiGroupConverges(t *testing.T) {
	s, srvs := casCluster(t)
	ctx := context.Background()
	old := time.Now().Add(-time.Minute)
	k := client.NewKey("cas-diverged")
	orig := map[uint32]string{1: "a", 2: "b", 3: "c"}

	// The checksum of a value only a secondary holds: refused, no group
	// changes, every group is reported.
	diverge(t, s, k, old, orig)
	sum := id.Transform([]byte("b"))
	res, err := s.WriteWith(ctx, k, []byte("new"), client.WriteOptions{CAS: &sum})
	require.ErrorIs(t, err, status.ErrMismatch)
	require.Len(t, res.Entries, 3)
	require.Equal(t, status.Mismatch, res.Entries[0].Status)
	require.Equal(t, status.Canceled, res.Entries[1].Status)
	require.Equal(t, status.Canceled, res.Entries[2].Status)
	require.Equal(t, orig, values(t, s, k))

	// The primary's checksum: every group ends with the new value, at one
	// timestamp.
	sum = id.Transform([]byte("a"))
	res, err = s.WriteWith(ctx, k, []byte("new"), client.WriteOptions{CAS: &sum})
	require.NoError(t, err)
	require.Equal(t, 3, res.Succeeded)
	require.Equal(t, map[uint32]string{1: "new", 2: "new", 3: "new"}, values(t, s, k))
	require.Equal(t, res.Entries[0].Timestamp, res.Entries[2].Timestamp)

	// An offset CAS leaves the primary's whole value in every group.
	ko := client.NewKey("cas-offset")
	diverge(t, s, ko, old, map[uint32]string{1: "55555", 2: "x", 3: "yyyyyyyy"})
	sum = id.Transform([]byte("55555"))
	_, err = s.WriteWith(ctx, ko, []byte("43210"), client.WriteOptions{Offset: 1, CAS: &sum})
	require.NoError(t, err)
	require.Equal(t, map[uint32]string{1: "543210", 2: "543210", 3: "543210"}, values(t, s, ko))

	// A secondary holding a newer value keeps it and says so.
	kn := client.NewKey("cas-newer")
	diverge(t, s, kn, old, map[uint32]string{1: "a", 3: "a"})
	diverge(t, s, kn, time.Now().Add(time.Hour), map[uint32]string{2: "future"})
	sum = id.Transform([]byte("a"))
	res, err = s.WriteWith(ctx, kn, []byte("new"), client.WriteOptions{CAS: &sum})
	require.NoError(t, err)
	require.Equal(t, status.Mismatch, res.Entries[1].Status)
	require.Equal(t, map[uint32]string{1: "new", 2: "future", 3: "new"}, values(t, s, kn))

	// With the first group unreachable the next one decides.
	kd := client.NewKey("cas-down")
	diverge(t, s, kd, old, map[uint32]string{1: "a", 2: "b", 3: "c"})
	stopHoldingPort(t, srvs[1])
	sum = id.Transform([]byte("b"))
	res, err = s.WriteWith(ctx, kd, []byte("new"), client.WriteOptions{CAS: &sum})
	require.NoError(t, err)
	require.False(t, res.Entries[0].OK())
	require.NotEqual(t, status.Canceled, res.Entries[0].Status)
	require.Equal(t, 2, res.Succeeded)
	s.SetGroups(2, 3)
	require.Equal(t, map[uint32]string{2: "new", 3: "new"}, values(t, s, kd))
}

func TestWriteCASConverterPrimaryBehind(t *testing.T) {
	s, _ := casCluster(t)
	ctx := context.Background()
	k := client.NewKey("cas-counter")
	// The primary missed the last write: the converter sees the newest
	// value and one attempt, expecting the primary's checksum, succeeds.
	diverge(t, s, k, time.Now().Add(-time.Minute), map[uint32]string{1: "1"})
	diverge(t, s, k, time.Now().Add(-time.Second), map[uint32]string{2: "5", 3: "5"})
	_, err := s.WriteCAS(ctx, k, func(cur []byte) ([]byte, error) {
		return append(cur, '+'), nil
	}, 1)
	require.NoError(t, err)
	require.Equal(t, map[uint32]string{1: "5+", 2: "5+", 3: "5+"}, values(t, s, k))
}

func TestWriteAsyncCASMultiGroup(t *testing.T) {
	s, _ := casCluster(t)
	ctx := context.Background()
	k := client.NewKey("cas-async")
	orig := map[uint32]string{1: "a", 2: "b", 3: "c"}
	diverge(t, s, k, time.Now().Add(-time.Minute), orig)
	write := func(expect string) (client.Result, error) {
		sum := id.Transform([]byte(expect))
		type out struct {
			res client.Result
			err error
		}
		ch := make(chan out, 1)
		s.WriteAsync(ctx, k, []byte("new"), client.WriteOptions{CAS: &sum}, func(r client.Result, err error) { ch <- out{r, err} })
		o := <-ch
		return o.res, o.err
	}
	_, err := write("b")
	require.ErrorIs(t, err, status.ErrMismatch, "a secondary's checksum")
	require.Equal(t, orig, values(t, s, k))
	res, err := write("a")
	require.NoError(t, err)
	require.Equal(t, 3, res.Succeeded)
	require.Equal(t, map[uint32]string{1: "new", 2: "new", 3: "new"}, values(t, s, k))
}
