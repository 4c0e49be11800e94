package client_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

type result struct {
	res client.Result
	err error
}

type readResult struct {
	e     client.Entry
	tried []client.Entry
	err   error
}

// once fails the test if done is called twice.
func once(t *testing.T) func() {
	var n atomic.Int32
	return func() {
		if n.Add(1) != 1 {
			t.Errorf("done called %d times", n.Load())
		}
	}
}

func writeAsync(t *testing.T, ctx context.Context, s *client.Session, k client.Key, data []byte) (client.Result, error) {
	ch := make(chan result, 2)
	check := once(t)
	s.WriteAsync(ctx, k, data, client.WriteOptions{}, func(r client.Result, err error) {
		check()
		ch <- result{r, err}
	})
	r := <-ch
	return r.res, r.err
}

func removeAsync(t *testing.T, ctx context.Context, s *client.Session, k client.Key) (client.Result, error) {
	ch := make(chan result, 2)
	check := once(t)
	s.RemoveAsync(ctx, k, func(r client.Result, err error) {
		check()
		ch <- result{r, err}
	})
	r := <-ch
	return r.res, r.err
}

func readAsync(t *testing.T, ctx context.Context, s *client.Session, k client.Key) (client.Entry, []client.Entry, error) {
	ch := make(chan readResult, 2)
	check := once(t)
	s.ReadAsync(ctx, k, 0, 0, func(e client.Entry, tried []client.Entry, err error) {
		check()
		ch <- readResult{e, tried, err}
	})
	r := <-ch
	return r.e, r.tried, r.err
}

func lookupAsync(t *testing.T, ctx context.Context, s *client.Session, k client.Key) (client.Entry, []client.Entry, error) {
	ch := make(chan readResult, 2)
	check := once(t)
	s.LookupAsync(ctx, k, client.LookupOptions{}, func(e client.Entry, tried []client.Entry, err error) {
		check()
		ch <- readResult{e, tried, err}
	})
	r := <-ch
	return r.e, r.tried, r.err
}

// sameResult compares what matters of two multi-group results.
func sameResult(t *testing.T, name string, want, got client.Result, wantErr, gotErr error) {
	t.Helper()
	require.Equal(t, status.FromError(wantErr), status.FromError(gotErr), "%s: %v / %v", name, wantErr, gotErr)
	require.Equal(t, want.Total, got.Total, name)
	require.Equal(t, want.Succeeded, got.Succeeded, name)
	require.Len(t, got.Entries, len(want.Entries), name)
	for i := range want.Entries {
		w, g := want.Entries[i], got.Entries[i]
		require.Equal(t, w.Group, g.Group, name)
		require.Equal(t, w.Status, g.Status, "%s: group %d: %v / %v", name, w.Group, w.Err, g.Err)
		require.Equal(t, w.Address, g.Address, name)
		require.Equal(t, w.Size, g.Size, name)
	}
}

func sameRead(t *testing.T, name string, we client.Entry, wt []client.Entry, werr error, ge client.Entry, gt []client.Entry, gerr error) {
	t.Helper()
	require.Equal(t, status.FromError(werr), status.FromError(gerr), "%s: %v / %v", name, werr, gerr)
	require.Equal(t, string(we.Data), string(ge.Data), name)
	require.Equal(t, we.Group, ge.Group, name)
	require.Equal(t, we.Size, ge.Size, name)
	require.Len(t, gt, len(wt), name)
	for i := range wt {
		require.Equal(t, wt[i].Group, gt[i].Group, name)
		require.Equal(t, wt[i].Status, gt[i].Status, "%s: group %d", name, wt[i].Group)
	}
}

// TestAsyncMatchesSync runs each call in both forms against the same
// cluster states and compares the outcomes.
func TestAsyncMatchesSync(t *testing.T) {
	_, addr1 := startNode(t, 1, 2)
	srv3, addr3 := startNode(t, 3)
	s := connect(t, addr1, addr3)
	ctx := context.Background()
	key := client.NewKey("async-key")
	missing := client.NewKey("async-missing")

	type step struct {
		name   string
		groups []uint32
		check  client.Checker
		filter client.Filter
		before func()
	}
	steps := []step{
		{name: "all up", groups: []uint32{1, 2, 3}},
		{name: "one group", groups: []uint32{2}},
		{name: "negative filter", groups: []uint32{1, 2, 3}, filter: client.FilterNegative},
		{name: "unknown group", groups: []uint32{1, 4}, check: client.CheckAll},
		{name: "dead group, all", groups: []uint32{3, 1, 2}, check: client.CheckAll, before: func() {
			stopHoldingPort(t, srv3)
			// Both forms are compared once the node has noticed.
			one := s.Clone()
			one.SetGroups(3)
			require.Eventually(t, func() bool {
				_, err := one.Write(ctx, key, nil)
				return status.FromError(err) == status.NoRoute
			}, 5*time.Second, 10*time.Millisecond)
		}},
		{name: "dead group, quorum", groups: []uint32{3, 1, 2}, check: client.CheckQuorum},
		{name: "dead group only", groups: []uint32{3}},
		{name: "no groups", groups: []uint32{}},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		s.SetGroups(st.groups...)
		s.SetChecker(st.check)
		s.SetFilter(st.filter)

		data := []byte("value of " + st.name)
		wres, werr := s.Write(ctx, key, data)
		ares, aerr := writeAsync(t, ctx, s, key, data)
		sameResult(t, st.name+": write", wres, ares, werr, aerr)

		e, tried, err := s.ReadAll(ctx, key, 0, 0)
		ae, atried, aerr := readAsync(t, ctx, s, key)
		sameRead(t, st.name+": read", e, tried, err, ae, atried, aerr)
		if err == nil {
			require.Equal(t, string(data), string(ae.Data))
		}

		e, tried, err = s.LookupAll(ctx, key, client.LookupOptions{})
		ae, atried, aerr = lookupAsync(t, ctx, s, key)
		sameRead(t, st.name+": lookup", e, tried, err, ae, atried, aerr)

		e, tried, err = s.ReadAll(ctx, missing, 0, 0)
		ae, atried, aerr = readAsync(t, ctx, s, missing)
		sameRead(t, st.name+": read missing", e, tried, err, ae, atried, aerr)

		wres, werr = s.Remove(ctx, missing)
		ares, aerr = removeAsync(t, ctx, s, missing)
		sameResult(t, st.name+": remove missing", wres, ares, werr, aerr)
	}

	// Remove in both forms: the second one finds nothing.
	s.SetGroups(1, 2)
	s.SetChecker(client.CheckAll)
	res, err := removeAsync(t, ctx, s, key)
	require.NoError(t, err)
	require.Equal(t, 2, res.Succeeded)
	_, err = s.Remove(ctx, key)
	require.ErrorIs(t, err, status.ErrNotFound)
	_, err = removeAsync(t, ctx, s, key)
	require.ErrorIs(t, err, status.ErrNotFound)

	// Invalid calls complete at once, in both forms alike.
	_, err = writeAsync(t, ctx, s, client.NewKey(""), nil)
	require.ErrorIs(t, err, status.ErrInvalid)
	_, _, err = readAsync(t, ctx, s, client.NewKey(""))
	require.ErrorIs(t, err, status.ErrInvalid)
}

func TestAsyncTimeoutCancelAndConnectionLoss(t *testing.T) {
	sess, _, keys := startStallNode(t)
	ctx := context.Background()

	// Timeout: both forms fail at the session timeout.
	s := sess.Clone()
	s.SetTimeout(100 * time.Millisecond)
	_, _, err := s.ReadAll(ctx, keys[0], 0, 0)
	require.ErrorIs(t, err, status.ErrTimeout)
	start := time.Now()
	_, tried, aerr := readAsync(t, ctx, s, keys[0])
	require.ErrorIs(t, aerr, status.ErrTimeout)
	require.Len(t, tried, 1)
	require.GreaterOrEqual(t, time.Since(start), 90*time.Millisecond)

	// A context that ends first.
	s.SetTimeout(10 * time.Second)
	cctx, cancel := context.WithTimeout(ctx, 80*time.Millisecond)
	_, _, err = s.ReadAll(cctx, keys[1], 0, 0)
	cancel()
	cctx, cancel = context.WithTimeout(ctx, 80*time.Millisecond)
	_, _, aerr = readAsync(t, cctx, s, keys[1])
	cancel()
	require.Equal(t, status.FromError(err), status.FromError(aerr), "%v / %v", err, aerr)
	require.ErrorIs(t, aerr, status.ErrTimeout)

	cctx, cancel = context.WithCancel(ctx)
	ch := make(chan readResult, 2)
	check := once(t)
	s.ReadAsync(cctx, keys[2], 0, 0, func(e client.Entry, tried []client.Entry, err error) {
		check()
		ch <- readResult{e, tried, err}
	})
	time.Sleep(20 * time.Millisecond)
	cancel()
	r := <-ch
	require.ErrorIs(t, r.err, status.ErrCanceled)
	cancel()

	// Canceled before the call: done runs at once.
	_, _, aerr = readAsync(t, cctx, s, keys[2])
	require.ErrorIs(t, aerr, status.ErrCanceled)

	// Connection loss completes calls in flight.
	wch := make(chan result, 2)
	check = once(t)
	ch = make(chan readResult, 2)
	s.ReadAsync(ctx, keys[3], 0, 0, func(e client.Entry, tried []client.Entry, err error) {
		check()
		ch <- readResult{e, tried, err}
	})
	time.Sleep(20 * time.Millisecond)
	client.BreakConns(s.Node())
	r = <-ch
	require.ErrorIs(t, r.err, status.ErrConnectionLost)
	close(wch)

	// Late replies and sweeps after everything completed must not call
	// done again (once checks it).
	time.Sleep(150 * time.Millisecond)
}

// TestAsyncConcurrent runs many calls at once on one connection, mixed with
// blocking ones, under -race.
func TestAsyncConcurrent(t *testing.T) {
	_, addr := startNode(t, 1, 2)
	s := connect(t, addr)
	ctx := context.Background()
	const n = 200
	errs := make(chan error, 2*n)
	for i := range n {
		k := client.NewKey("c" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		data := []byte{byte(i)}
		s.WriteAsync(ctx, k, data, client.WriteOptions{}, func(_ client.Result, err error) {
			if err != nil {
				errs <- err
				return
			}
			s.ReadAsync(ctx, k, 0, 0, func(e client.Entry, _ []client.Entry, err error) {
				if err == nil && (len(e.Data) != 1 || e.Data[0] != byte(i)) {
					err = status.Errorf(status.IOError, "key %d read %v", i, e.Data)
				}
				errs <- err
			})
		})
		if i%10 == 0 {
			_, err := s.Write(ctx, k, data)
			require.NoError(t, err)
		}
	}
	for range n {
		require.NoError(t, <-errs)
	}
}
