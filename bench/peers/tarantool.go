package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// tarantoolInit configures Tarantool: memtx space kv (id 512) with a string
// primary key, open to the guest user, WAL mode from $PEERS_WAL ("write":
// written, not fsynced; "fsync").
const tarantoolInit = `box.cfg{
  listen = os.getenv('PEERS_LISTEN'),
  work_dir = os.getenv('PEERS_DIR'),
  wal_mode = os.getenv('PEERS_WAL'),
  memtx_memory = 1024 * 1024 * 1024,
  memtx_max_tuple_size = 2 * 1024 * 1024,
  log = 'tarantool-server.log',
}
box.once('kv', function()
  local s = box.schema.space.create('kv', {id = 512})
  s:create_index('pk', {parts = {1, 'string'}})
  box.schema.user.grant('guest', 'read,write', 'space', 'kv')
end)
`

const tarantoolSpace = 512

// tarantoolStore is Tarantool 2.6 (memtx, WAL), reached by a minimal
// IPROTO client (REPLACE and SELECT, no auth): one connection per worker,
// one request in flight on each (the served go-tarantool is v3, whose API
// this does not need).
type tarantoolStore struct {
	p     *proc
	addr  string
	mu    sync.Mutex
	conns []*tconn
}

func startTarantool(ctx context.Context, work, walMode string) (Store, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	init := filepath.Join(work, "init.lua")
	if err := os.WriteFile(init, []byte(tarantoolInit), 0o644); err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := startProc("tarantool", work, []string{"PEERS_LISTEN=" + addr, "PEERS_DIR=" + work, "PEERS_WAL=" + walMode},
		"tarantool", init)
	if err != nil {
		return nil, err
	}
	s := &tarantoolStore{p: p, addr: addr}
	if err := p.waitReady(func() error {
		c, err := dialTarantool(addr)
		if err != nil {
			return err
		}
		defer c.c.Close()
		return c.Put(ctx, "ready", []byte("1"))
	}); err != nil {
		p.stop()
		return nil, err
	}
	return s, nil
}

func (s *tarantoolStore) Worker(int) (KV, error) {
	c, err := dialTarantool(s.addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	return c, nil
}

func (s *tarantoolStore) Pids() []int { return []int{s.p.cmd.Process.Pid} }

func (s *tarantoolStore) Close() error {
	s.mu.Lock()
	for _, c := range s.conns {
		c.c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.p.stop()
	return nil
}

// IPROTO keys and codes.
const (
	iprotoRequestType = 0x00
	iprotoSync        = 0x01
	iprotoSpaceID     = 0x10
	iprotoIndexID     = 0x11
	iprotoLimit       = 0x12
	iprotoOffset      = 0x13
	iprotoIterator    = 0x14
	iprotoKey         = 0x20
	iprotoTuple       = 0x21
	iprotoData        = 0x30
	iprotoError24     = 0x31
	iprotoSelect      = 1
	iprotoReplace     = 3
)

// tconn is one IPROTO connection, one request at a time.
type tconn struct {
	c    net.Conn
	br   *bufio.Reader
	buf  bytes.Buffer
	enc  *msgpack.Encoder
	sync uint64
	resp []byte
}

func dialTarantool(addr string) (*tconn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t := &tconn{c: c, br: bufio.NewReaderSize(c, 64<<10)}
	t.enc = msgpack.NewEncoder(&t.buf)
	var greeting [128]byte
	if _, err := io.ReadFull(t.br, greeting[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("tarantool greeting: %w", err)
	}
	return t, nil
}

// call sends a request whose body body encodes and returns the reply's body.
func (t *tconn) call(code int, body func(e *msgpack.Encoder) error) (*msgpack.Decoder, error) {
	t.sync++
	t.buf.Reset()
	t.buf.Write([]byte{0xce, 0, 0, 0, 0}) // msgpack uint32 length, patched below
	e := t.enc
	if err := e.EncodeMapLen(2); err != nil {
		return nil, err
	}
	_ = e.EncodeUint(iprotoRequestType)
	_ = e.EncodeUint(uint64(code))
	_ = e.EncodeUint(iprotoSync)
	_ = e.EncodeUint(t.sync)
	if err := body(e); err != nil {
		return nil, err
	}
	b := t.buf.Bytes()
	binary.BigEndian.PutUint32(b[1:5], uint32(len(b)-5))
	if _, err := t.c.Write(b); err != nil {
		return nil, err
	}
	var lenb [5]byte
	if _, err := io.ReadFull(t.br, lenb[:]); err != nil {
		return nil, err
	}
	if lenb[0] != 0xce {
		return nil, fmt.Errorf("tarantool: unexpected length prefix %#x", lenb[0])
	}
	n := binary.BigEndian.Uint32(lenb[1:])
	if cap(t.resp) < int(n) {
		t.resp = make([]byte, n)
	}
	t.resp = t.resp[:n]
	if _, err := io.ReadFull(t.br, t.resp); err != nil {
		return nil, err
	}
	d := msgpack.NewDecoder(bytes.NewReader(t.resp))
	hn, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	var status uint64
	for range hn {
		k, err := d.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if k == iprotoRequestType {
			if status, err = d.DecodeUint64(); err != nil {
				return nil, err
			}
		} else if err := d.Skip(); err != nil {
			return nil, err
		}
	}
	if status != 0 {
		msg := "?"
		if bn, err := d.DecodeMapLen(); err == nil {
			for range bn {
				k, _ := d.DecodeUint64()
				if k == iprotoError24 {
					msg, _ = d.DecodeString()
					break
				}
				_ = d.Skip()
			}
		}
		return nil, fmt.Errorf("tarantool: error %#x: %s", status, msg)
	}
	return d, nil
}

func (t *tconn) Put(_ context.Context, key string, value []byte) error {
	_, err := t.call(iprotoReplace, func(e *msgpack.Encoder) error {
		_ = e.EncodeMapLen(2)
		_ = e.EncodeUint(iprotoSpaceID)
		_ = e.EncodeUint(tarantoolSpace)
		_ = e.EncodeUint(iprotoTuple)
		_ = e.EncodeArrayLen(2)
		_ = e.EncodeString(key)
		return e.EncodeBytes(value)
	})
	return err
}

func (t *tconn) Get(_ context.Context, key string) ([]byte, error) {
	d, err := t.call(iprotoSelect, func(e *msgpack.Encoder) error {
		_ = e.EncodeMapLen(6)
		_ = e.EncodeUint(iprotoSpaceID)
		_ = e.EncodeUint(tarantoolSpace)
		_ = e.EncodeUint(iprotoIndexID)
		_ = e.EncodeUint(0)
		_ = e.EncodeUint(iprotoLimit)
		_ = e.EncodeUint(1)
		_ = e.EncodeUint(iprotoOffset)
		_ = e.EncodeUint(0)
		_ = e.EncodeUint(iprotoIterator)
		_ = e.EncodeUint(0) // EQ
		_ = e.EncodeUint(iprotoKey)
		_ = e.EncodeArrayLen(1)
		return e.EncodeString(key)
	})
	if err != nil {
		return nil, err
	}
	bn, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	for range bn {
		k, err := d.DecodeUint64()
		if err != nil {
			return nil, err
		}
		if k != iprotoData {
			if err := d.Skip(); err != nil {
				return nil, err
			}
			continue
		}
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errNotFound
		}
		if fields, err := d.DecodeArrayLen(); err != nil || fields < 2 {
			return nil, fmt.Errorf("tarantool: tuple of %d fields: %v", fields, err)
		}
		if err := d.Skip(); err != nil {
			return nil, err
		}
		return d.DecodeBytes()
	}
	return nil, errNotFound
}
