package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
)

// With ReadByLatency, reads go first to the group whose node answers
// faster; by default they keep the session's group order.
func TestReadByLatency(t *testing.T) {
	_, addr1 := startNode(t, 1)
	_, addr2 := startNode(t, 2)
	s := connect(t, addr1, addr2)
	s.SetGroups(1, 2)
	ctx := context.Background()
	key := client.NewKey("latency")
	_, err := s.Write(ctx, key, []byte("v"))
	require.NoError(t, err)

	list, err := s.SetDelay(ctx, addr1, 0, 50*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, 50*time.Millisecond, list[0].Delay)
	_, err = s.SetDelay(ctx, addr1, 0, -time.Second)
	require.Error(t, err)

	readAsync := func(s *client.Session) (client.Entry, []client.Entry, error) {
		type out struct {
			e     client.Entry
			tried []client.Entry
			err   error
		}
		ch := make(chan out, 1)
		s.ReadAsync(ctx, key, 0, 0, func(e client.Entry, tried []client.Entry, err error) { ch <- out{e, tried, err} })
		o := <-ch
		return o.e, o.tried, o.err
	}
	readAll := func(s *client.Session) (client.Entry, []client.Entry, error) { return s.ReadAll(ctx, key, 0, 0) }
	lookupAll := func(s *client.Session) (client.Entry, []client.Entry, error) {
		return s.LookupAll(ctx, key, client.LookupOptions{})
	}

	for _, tc := range []struct {
		name  string
		order client.ReadOrder
		read  func(*client.Session) (client.Entry, []client.Entry, error)
		want  uint32
	}{
		{name: "group order ReadAll", order: client.ReadInGroupOrder, read: readAll, want: 1},
		{name: "group order ReadAsync", order: client.ReadInGroupOrder, read: readAsync, want: 1},
		{name: "group order LookupAll", order: client.ReadInGroupOrder, read: lookupAll, want: 1},
		{name: "by latency ReadAll", order: client.ReadByLatency, read: readAll, want: 2},
		{name: "by latency ReadAsync", order: client.ReadByLatency, read: readAsync, want: 2},
		{name: "by latency LookupAll", order: client.ReadByLatency, read: lookupAll, want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := s.Clone()
			rs.SetReadOrder(tc.order)
			require.Equal(t, tc.order, rs.ReadOrder())
			var e client.Entry
			var tried []client.Entry
			for range 5 {
				var err error
				e, tried, err = tc.read(rs)
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, e.Group)
			require.Len(t, tried, 1, "the first group tried answered")
			require.Equal(t, tc.want, tried[0].Group)
		})
	}

	// The delay gone, a by-latency session still reads (any group).
	_, err = s.SetDelay(ctx, addr1, 0, 0)
	require.NoError(t, err)
	s.SetReadOrder(client.ReadByLatency)
	e, err := s.Read(ctx, key, 0, 0)
	require.NoError(t, err)
	require.Equal(t, "v", string(e.Data))
	require.Equal(t, "latency", client.ReadByLatency.String())
	require.Equal(t, "group", client.ReadInGroupOrder.String())
}
