package client

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// BulkReadAsync is BulkRead that sends its requests on the calling
// goroutine and goes on from the connections' reader goroutines, under the
// rules of the asynchronous forms (async.go): each is called as BulkRead
// calls it, then done once with what BulkRead would return. A caller that
// waits outside the Go scheduler (a C thread) is then woken once, by the
// goroutine that read the last reply, instead of through goroutines that
// ran the call for it. Whatever needs a blocking step (an owner without an
// established connection, a node that left keys out of a full reply or does
// not know the bulk command, a value too big for a bulk request or reply)
// goes on from a goroutine of its own. each and done must not block.
func (s *Session) BulkReadAsync(ctx context.Context, keys []Key, each func(i int, e Entry, err error), done func(error)) {
	q := &bulkReadCall{s: *s, ctx: ctx, keys: keys, each: each, done: done}
	q.b = q.s.newBulk(len(keys))
	for i, k := range keys {
		err := q.b.resolve(i, k, func() (proto.IOAttr, error) {
			a := proto.IOAttr{Flags: q.s.ioflags, Column: k.Column}
			return a, a.Validate()
		}, nil)
		if err != nil {
			q.report(i, Entry{ID: q.b.oids[i], Column: k.Column, Status: status.FromError(err), Err: err}, err)
			continue
		}
		q.pending = append(q.pending, i)
	}
	q.tried = make([][]Entry, len(keys))
	q.step()
}

// bulkReadCall is one BulkReadAsync: the groups are asked in turn, each
// for the keys the previous ones did not have, from the completion of the
// previous one.
type bulkReadCall struct {
	s    Session // a copy: the caller may change its session meanwhile
	b    *bulkCall
	ctx  context.Context
	keys []Key
	each func(i int, e Entry, err error)
	done func(error)

	gi      int   // the next group to ask
	pending []int // the keys it is asked for

	mu    sync.Mutex // each is called one at a time; guards tried and next
	tried [][]Entry
	next  []int
}

func (q *bulkReadCall) report(i int, e Entry, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.each(i, e, err)
}

// step asks the next group for the keys pending, or reports the keys no
// group had and completes the call.
func (q *bulkReadCall) step() {
	if len(q.pending) > 0 && q.gi < len(q.s.groups) && q.ctx.Err() == nil {
		g := q.s.groups[q.gi]
		q.gi++
		q.b.groupAsync(q.ctx, g, proto.CmdBulkRead, q.pending, func(i int, e Entry) {
			if e.OK() {
				q.report(i, e, nil)
				return
			}
			q.mu.Lock()
			q.tried[i] = append(q.tried[i], e)
			q.next = append(q.next, i)
			q.mu.Unlock()
		}, func() {
			q.mu.Lock()
			next := q.next
			q.next = nil
			q.mu.Unlock()
			slices.Sort(next)
			q.pending = next
			q.step()
		})
		return
	}
	for _, i := range q.pending {
		e, err := q.b.missing(q.ctx, i, q.keys[i], q.tried[i])
		q.report(i, e, err)
	}
	q.done(q.ctx.Err())
}

// missing is the entry and error reported for key i that no group asked
// had, after the entries of the groups tried.
func (b *bulkCall) missing(ctx context.Context, i int, k Key, tried []Entry) (Entry, error) {
	var e Entry
	var err error
	switch {
	case len(tried) == 0 && ctx.Err() != nil:
		err = ctxErr(ctx, "")
		e = Entry{ID: b.oids[i], Column: k.Column}
		setErr(&e, err)
	case len(tried) == 0:
		err = readVerdict(nil)
		e = Entry{ID: b.oids[i], Column: k.Column}
		setErr(&e, err)
	default:
		// The last group tried says where the key was looked for.
		err = readVerdict(tried)
		e = tried[len(tried)-1]
		e.Status, e.Err, e.Data = status.FromError(err), err, nil
	}
	return e, err
}

// BulkWriteAsync is BulkWrite that sends its requests on the calling
// goroutine and goes on from the connections' reader goroutines, as
// BulkReadAsync does: each is called as BulkWrite calls it, then done once
// with what BulkWrite would return. datas must not change until done is
// called.
func (s *Session) BulkWriteAsync(ctx context.Context, keys []Key, datas [][]byte, each func(i int, r Result, err error),
	done func(error)) {
	if len(keys) != len(datas) {
		done(fmt.Errorf("bulk write: %d keys but %d values", len(keys), len(datas)))
		return
	}
	sc := *s // a copy: the caller may change its session meanwhile
	t := &writeTally{each: each, keys: len(keys)}
	report := t.report
	finish := func() {
		if err := t.err(); err != nil {
			done(err)
			return
		}
		done(ctx.Err())
	}
	groups := sc.groups
	b, entries, left, todo := sc.planBulkWrite(keys, datas, report)
	if len(groups) == 0 {
		finish()
		return
	}
	groupsLeft := new(atomic.Int32)
	groupsLeft.Store(int32(len(groups)))
	for gi, g := range groups {
		b.groupAsync(ctx, g, proto.CmdBulkWrite, todo, func(i int, e Entry) {
			entries[i][gi] = e
			if left[i].Add(-1) == 0 {
				r, err := verdict(entries[i], sc.checker, sc.filter)
				report(i, r, err)
			}
		}, func() {
			if groupsLeft.Add(-1) == 0 {
				finish()
			}
		})
	}
}

// groupAsync is group that sends each request from the calling goroutine
// and calls fin once every key of idx was reported (from whichever
// goroutine reported the last). Keys whose owner has no established
// connection go through group on a goroutine, and so do all the keys when
// they need more than bulkInFlight requests.
func (b *bulkCall) groupAsync(ctx context.Context, g uint32, cmd proto.Cmd, idx []int, done func(i int, e Entry), fin func()) {
	byConn := map[*conn][]int{}
	var order []*conn
	var slow []int
	for _, i := range idx {
		c := b.s.node.liveConn(b.oids[i], g)
		if c == nil {
			slow = append(slow, i)
			continue
		}
		if byConn[c] == nil {
			order = append(order, c)
		}
		byConn[c] = append(byConn[c], i)
	}
	batches := b.batches(order, byConn)
	if len(batches) > bulkInFlight {
		// A call this big is not held up by a hand-off; group keeps its
		// requests in flight (and their buffers) under the bound.
		go func() {
			b.group(ctx, g, cmd, idx, done)
			fin()
		}()
		return
	}
	units := len(batches)
	if len(slow) > 0 {
		units++
	}
	if units == 0 {
		fin()
		return
	}
	left := new(atomic.Int32)
	left.Store(int32(units))
	unit := func() {
		if left.Add(-1) == 0 {
			fin()
		}
	}
	if len(slow) > 0 {
		go func() {
			b.group(ctx, g, cmd, slow, done) // may dial
			unit()
		}()
	}
	for _, bt := range batches {
		b.sendAsync(ctx, g, cmd, bt, done, unit)
	}
}

// sendAsync is send that sends the first request from the calling
// goroutine and handles its reply on the reader's; what the reply leaves
// to do (keys to ask again, one by one or in another bulk request) goes on
// from a goroutine. fin is called once every key of bt was reported.
func (b *bulkCall) sendAsync(ctx context.Context, g uint32, cmd proto.Cmd, bt bulkBatch, done func(i int, e Entry), fin func()) {
	if bt.single {
		go func() {
			b.singles(ctx, g, cmd, bt.c, bt.keys, done)
			fin()
		}()
		return
	}
	keys := bt.keys
	s := b.s
	bt.c.start(ctx, time.Now().Add(s.timeout), s.header(cmd, b.oids[keys[0]], g), [][]byte{b.request(keys)}, func(r reply, err error) {
		rest, singles := b.replied(g, cmd, bt.c, keys, r, err, done)
		if len(rest) == 0 && len(singles) == 0 {
			fin()
			return
		}
		go func() {
			b.singles(ctx, g, cmd, bt.c, singles, done)
			b.send(ctx, g, cmd, bulkBatch{c: bt.c, keys: rest}, done)
			fin()
		}()
	})
}
