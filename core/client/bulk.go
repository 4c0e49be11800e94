package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

// bulkInFlight bounds the requests of one bulk call (per group) in flight at
// once: enough to keep every node of a cluster busy, few enough that a call
// of a million keys does not open a million requests.
const bulkInFlight = 64

// bulkKeysPerRequest bounds the keys of one BULK_READ or BULK_WRITE request
// (requests are also split so none exceeds the node's payload limit).
const bulkKeysPerRequest = 1024

// BulkWrite writes datas[i] under keys[i] for every i, in every group of
// the session: one BULK_WRITE request per node that owns some of the keys
// (split when it would exceed the node's payload limit), a WRITE per key to
// a node that does not know BULK_WRITE. each, if not nil, is called once
// per key once every group has answered for it, one call at a time, with
// the key's index, result and error (the checker's verdict). BulkWrite
// returns an error if any key failed, naming how many.
func (s *Session) BulkWrite(ctx context.Context, keys []Key, datas [][]byte, each func(i int, r Result, err error)) error {
	if len(keys) != len(datas) {
		return fmt.Errorf("bulk write: %d keys but %d values", len(keys), len(datas))
	}
	t := &writeTally{each: each, keys: len(keys)}
	report := t.report
	groups := s.groups
	b, entries, left, todo := s.planBulkWrite(keys, datas, report)
	var wg sync.WaitGroup
	for gi, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.group(ctx, g, proto.CmdBulkWrite, todo, func(i int, e Entry) {
				entries[i][gi] = e
				if left[i].Add(-1) == 0 {
					r, err := verdict(entries[i], s.checker, s.filter)
					report(i, r, err)
				}
			})
		}()
	}
	wg.Wait()
	if err := t.err(); err != nil {
		return err
	}
	return ctx.Err()
}

// BulkRead reads every key, each from the first group that has it: one
// BULK_READ request per node that owns some of the keys in the first group
// (split so no request exceeds the node's payload limit), then the keys
// missing there from the next group, and so on; a READ per key to a node
// that does not know BULK_READ. each is called once per key as its result
// arrives, one call at a time; a missing key gets an error matching
// status.NotFound (and the entry of the last group tried, with that
// status). BulkRead itself fails only if ctx ends first.
func (s *Session) BulkRead(ctx context.Context, keys []Key, each func(i int, e Entry, err error)) error {
	var mu sync.Mutex
	report := func(i int, e Entry, err error) {
		mu.Lock()
		defer mu.Unlock()
		each(i, e, err)
	}
	b := s.newBulk(len(keys))
	var pending []int
	for i, k := range keys {
		err := b.resolve(i, k, func() (proto.IOAttr, error) {
			a := proto.IOAttr{Flags: s.ioflags, Column: k.Column}
			return a, a.Validate()
		}, nil)
		if err != nil {
			report(i, Entry{ID: b.oids[i], Column: k.Column, Status: status.FromError(err), Err: err}, err)
			continue
		}
		pending = append(pending, i)
	}
	tried := make([][]Entry, len(keys))
	var tmu sync.Mutex
	for _, g := range s.groups {
		if len(pending) == 0 || ctx.Err() != nil {
			break
		}
		var next []int
		b.group(ctx, g, proto.CmdBulkRead, pending, func(i int, e Entry) {
			if e.OK() {
				report(i, e, nil)
				return
			}
			tmu.Lock()
			tried[i] = append(tried[i], e)
			next = append(next, i)
			tmu.Unlock()
		})
		slices.Sort(next)
		pending = next
	}
	for _, i := range pending {
		e, err := b.missing(ctx, i, keys[i], tried[i])
		report(i, e, err)
	}
	return ctx.Err()
}

// bulkCall is one bulk call's keys: their IDs, columns and the payload a
// single command of each would carry.
type bulkCall struct {
	s        *Session
	oids     []id.ID
	columns  []string
	payloads [][]byte
}

func (s *Session) newBulk(n int) *bulkCall {
	return &bulkCall{s: s, oids: make([]id.ID, n), columns: make([]string, n), payloads: make([][]byte, n)}
}

// resolve prepares key i: its ID and its single-command payload (the io
// attr attr returns, then data).
func (b *bulkCall) resolve(i int, k Key, attr func() (proto.IOAttr, error), data []byte) error {
	oid, err := b.s.resolve(k)
	if err != nil {
		return err
	}
	b.oids[i], b.columns[i] = oid, k.Column
	a, err := attr()
	if err != nil {
		return err
	}
	p := a.Append(make([]byte, 0, proto.IOAttrSize+len(a.Column)+len(data)))
	b.payloads[i] = append(p, data...)
	return nil
}

// bulkBatch is one request's worth of keys for one connection.
type bulkBatch struct {
	c      *conn
	keys   []int
	single bool // too big for a bulk request: sent as single commands
}

// group runs the bulk command cmd for keys idx in group g: keys grouped by
// the connection to their owner, split into requests under the node's
// payload limit, at most bulkInFlight requests at once. done is called once
// per key with its entry, from any goroutine.
func (b *bulkCall) group(ctx context.Context, g uint32, cmd proto.Cmd, idx []int, done func(i int, e Entry)) {
	s := b.s
	byConn := map[*conn][]int{}
	var order []*conn
	for _, i := range idx {
		c, err := s.node.connForKey(ctx, time.Now().Add(s.timeout), b.oids[i], g)
		if err != nil {
			e := b.entry(i, g, "")
			setErr(&e, err)
			done(i, e)
			continue
		}
		if byConn[c] == nil {
			order = append(order, c)
		}
		byConn[c] = append(byConn[c], i)
	}
	batches := b.batches(order, byConn)
	bulk(len(batches), func(j int) { b.send(ctx, g, cmd, batches[j], done) })
}

// batches splits the keys of each connection (byConn, connections in
// order) into requests under the node's payload limit and
// bulkKeysPerRequest; a key too big for any bulk request gets a batch of
// its own, sent as a single command.
func (b *bulkCall) batches(order []*conn, byConn map[*conn][]int) []bulkBatch {
	s := b.s
	var batches []bulkBatch
	for _, c := range order {
		limit := s.node.cfg.MaxPayload
		if mp := c.nodeInfo().MaxPayload; mp != 0 && mp < limit {
			limit = mp
		}
		cur := bulkBatch{c: c}
		size := uint64(proto.BulkHeaderSize)
		for _, i := range byConn[c] {
			need := uint64(proto.BulkKeyOverhead + len(b.payloads[i]))
			if proto.BulkHeaderSize+need > limit {
				batches = append(batches, bulkBatch{c: c, keys: []int{i}, single: true})
				continue
			}
			if size+need > limit || len(cur.keys) == bulkKeysPerRequest {
				batches = append(batches, cur)
				cur, size = bulkBatch{c: c}, proto.BulkHeaderSize
			}
			cur.keys = append(cur.keys, i)
			size += need
		}
		if len(cur.keys) > 0 {
			batches = append(batches, cur)
		}
	}
	return batches
}

func (b *bulkCall) entry(i int, g uint32, addr string) Entry {
	return Entry{Group: g, ID: b.oids[i], Column: b.columns[i], Address: addr}
}

// singleCmd is the single command a bulk command is made of.
func singleCmd(cmd proto.Cmd) proto.Cmd {
	if cmd == proto.CmdBulkWrite {
		return proto.CmdWrite
	}
	return proto.CmdRead
}

// send sends one batch and reports every key of it: keys the node left out
// of its reply (it was full) go again in a new request; a node that does not
// know the bulk command gets one single command per key.
func (b *bulkCall) send(ctx context.Context, g uint32, cmd proto.Cmd, bt bulkBatch, done func(i int, e Entry)) {
	if bt.single {
		b.singles(ctx, g, cmd, bt.c, bt.keys, done)
		return
	}
	for keys := bt.keys; len(keys) > 0; {
		r, err := bt.c.do(ctx, time.Now().Add(b.s.timeout), b.s.header(cmd, b.oids[keys[0]], g), b.request(keys))
		rest, singles := b.replied(g, cmd, bt.c, keys, r, err, done)
		b.singles(ctx, g, cmd, bt.c, singles, done)
		keys = rest
	}
}

// request is the payload of a bulk request for keys.
func (b *bulkCall) request(keys []int) []byte {
	req := make([]proto.BulkKey, len(keys))
	for j, i := range keys {
		req[j] = proto.BulkKey{ID: b.oids[i], Payload: b.payloads[i]}
	}
	return proto.AppendBulkRequest(nil, req)
}

// replied reports the keys of a bulk request to c that its reply (r, or
// err) settles, and returns the others: rest, to ask again in a bulk
// request (the node left them out of a full reply), and singles, to ask one
// command per key (a node that does not know the bulk command, a reply
// without any result, a value too big for a bulk reply). It does not block.
func (b *bulkCall) replied(g uint32, cmd proto.Cmd, c *conn, keys []int, r reply, err error,
	done func(i int, e Entry)) (rest, singles []int) {
	if errors.Is(err, status.ErrUnsupported) {
		return nil, keys // an older node
	}
	var rs []proto.BulkResult
	if err == nil {
		rs, err = proto.DecodeBulkReply(r.payload)
	}
	if err == nil && len(rs) == 0 {
		// No progress (a node whose replies cannot hold one result).
		return nil, keys
	}
	if err != nil {
		for _, i := range keys {
			e := b.entry(i, g, c.addr)
			setErr(&e, err)
			done(i, e)
		}
		return nil, nil
	}
	got := make([]bool, len(keys))
	for _, res := range rs {
		if int(res.Index) >= len(keys) || got[res.Index] {
			continue // not ours; the key goes again
		}
		got[res.Index] = true
		i := keys[res.Index]
		if res.Status == status.TooLarge && cmd == proto.CmdBulkRead {
			singles = append(singles, i) // too big for a bulk reply
			continue
		}
		e := b.entry(i, g, c.addr)
		if res.Status != status.OK {
			setErr(&e, proto.DecodeError(res.Status, res.Payload))
		} else {
			setErr(&e, decodeSingle(cmd, &e, res.Payload))
		}
		done(i, e)
	}
	for j, i := range keys {
		if !got[j] {
			rest = append(rest, i)
		}
	}
	if len(rest) == len(keys) {
		// Results, but none for a key of ours: do not ask forever.
		err := status.Errorf(status.Protocol, "bulk reply from %s: no result for any key asked", c.addr)
		for _, i := range rest {
			e := b.entry(i, g, c.addr)
			setErr(&e, err)
			done(i, e)
		}
		return nil, singles
	}
	return rest, singles
}

// singles sends one single command per key to c.
func (b *bulkCall) singles(ctx context.Context, g uint32, cmd proto.Cmd, c *conn, keys []int, done func(i int, e Entry)) {
	s := b.s
	single := singleCmd(cmd)
	for _, i := range keys {
		e := b.entry(i, g, c.addr)
		r, err := c.do(ctx, time.Now().Add(s.timeout), s.header(single, b.oids[i], g), b.payloads[i])
		if !setErr(&e, err) {
			setErr(&e, decodeSingle(cmd, &e, r.payload))
		}
		done(i, e)
	}
}

// decodeSingle fills e from the reply of one key's READ or WRITE.
func decodeSingle(cmd proto.Cmd, e *Entry, payload []byte) error {
	if cmd == proto.CmdBulkWrite {
		return decodeLookup(e, payload)
	}
	return decodeRead(e, payload)
}

// bulk runs do(0..n-1) with at most bulkInFlight running at once, and
// returns when all have returned. Every index runs even after the caller's
// context ended (each then fails fast), so every key is reported.
func bulk(n int, do func(i int)) {
	workers := min(n, bulkInFlight)
	next := make(chan int)
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for i := range next {
				do(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// writeTally collects the per-key outcomes of a bulk write: it passes each
// to the caller's function, one call at a time, and counts the failures.
type writeTally struct {
	mu     sync.Mutex
	each   func(i int, r Result, err error)
	keys   int
	failed int
	first  error
}

func (t *writeTally) report(i int, r Result, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if t.failed == 0 {
			t.first = err
		}
		t.failed++
	}
	if t.each != nil {
		t.each(i, r, err)
	}
}

// err is the bulk write's error: nil when every key succeeded.
func (t *writeTally) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed == 0 {
		return nil
	}
	return fmt.Errorf("bulk write: %d of %d keys failed, first: %w", t.failed, t.keys, t.first)
}

// planBulkWrite resolves every key of a bulk write (ID, attributes) and
// gives each a slot per group for its entries and a count of the groups
// still to answer; it reports the keys that fail already, or that have no
// group to go to, and returns the indexes of the others.
func (s *Session) planBulkWrite(keys []Key, datas [][]byte, report func(int, Result, error)) (*bulkCall, [][]Entry, []atomic.Int32, []int) {
	b := s.newBulk(len(keys))
	entries := make([][]Entry, len(keys))
	left := make([]atomic.Int32, len(keys))
	var todo []int
	for i, k := range keys {
		err := b.resolve(i, k, func() (proto.IOAttr, error) {
			o := WriteOptions{}
			return o.attr(s, k.Column, len(datas[i]))
		}, datas[i])
		if err != nil {
			report(i, Result{}, err)
			continue
		}
		if len(s.groups) == 0 {
			r, err := verdict(nil, s.checker, s.filter)
			report(i, r, err)
			continue
		}
		entries[i] = make([]Entry, len(s.groups))
		left[i].Store(int32(len(s.groups)))
		todo = append(todo, i)
	}
	return b, entries, left, todo
}
