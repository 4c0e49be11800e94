package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/pprof"
	"sync"

	"github.com/elliptics/elliptics/core/proto"
)

// The raw baseline speaks a minimal framing sized like ours: a 120-byte
// header (proto.HeaderSize) whose bytes 48..55 carry the payload size and
// bytes 40..47 the size of the payload the server should answer with,
// followed by the payload. The server echoes a 120-byte header and that many
// bytes. There is no parsing, no dispatch and no storage: it is the cost of
// the loopback round trip itself, the ceiling for any protocol on top.
const (
	rawSizeOff  = 48
	rawReplyOff = 40
)

// RawServer is the raw loopback request/response server: one goroutine per
// connection, reading and answering one frame at a time.
type RawServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// StartRawServer listens on addr ("127.0.0.1:0" for a free port).
func StartRawServer(ctx context.Context, addr string) (*RawServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &RawServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	// Connection goroutines inherit these labels, so a CPU profile can tell
	// the raw server apart from everything else in the process.
	pprof.Do(ctx, pprof.Labels("role", "raw-server"), func(context.Context) {
		go s.accept()
	})
	return s, nil
}

// Addr returns the address the server listens on.
func (s *RawServer) Addr() string { return s.ln.Addr().String() }

// Close stops the server and closes its connections.
func (s *RawServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *RawServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *RawServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReaderSize(c, 64<<10)
	var hdr [proto.HeaderSize]byte
	var in, out []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint64(hdr[rawSizeOff:])
		m := binary.LittleEndian.Uint64(hdr[rawReplyOff:])
		if n > 1<<30 || m > 1<<30 {
			return
		}
		if uint64(cap(in)) < n {
			in = make([]byte, n)
		}
		if _, err := io.ReadFull(br, in[:n]); err != nil {
			return
		}
		if uint64(len(out)) != proto.HeaderSize+m {
			out = make([]byte, proto.HeaderSize+m)
		}
		copy(out, hdr[:])
		binary.LittleEndian.PutUint64(out[rawSizeOff:], m)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// RawClient does synchronous request/response on its own connection to a
// RawServer.
type RawClient struct {
	c     net.Conn
	br    *bufio.Reader
	req   []byte
	reply []byte
	want  uint64
}

// DialRaw connects to a raw server; every Do sends a request with a payload
// of reqPayload bytes and expects replyPayload bytes back.
func DialRaw(addr string, reqPayload, replyPayload int) (*RawClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	req := make([]byte, proto.HeaderSize+reqPayload)
	fillRandom(req[proto.HeaderSize:], 1)
	binary.LittleEndian.PutUint64(req[rawSizeOff:], uint64(reqPayload))
	binary.LittleEndian.PutUint64(req[rawReplyOff:], uint64(replyPayload))
	return &RawClient{
		c:     c,
		br:    bufio.NewReaderSize(c, 64<<10),
		req:   req,
		reply: make([]byte, proto.HeaderSize+replyPayload),
		want:  uint64(replyPayload),
	}, nil
}

var errRawShort = errors.New("raw: reply of unexpected size")

// Do runs one round trip.
func (r *RawClient) Do() error {
	if _, err := r.c.Write(r.req); err != nil {
		return err
	}
	if _, err := io.ReadFull(r.br, r.reply[:proto.HeaderSize]); err != nil {
		return err
	}
	if n := binary.LittleEndian.Uint64(r.reply[rawSizeOff:]); n != r.want {
		return fmt.Errorf("%w: %d bytes, want %d", errRawShort, n, r.want)
	}
	_, err := io.ReadFull(r.br, r.reply[proto.HeaderSize:])
	return err
}

// Close closes the connection.
func (r *RawClient) Close() error { return r.c.Close() }

// RawWorkload returns a workload of clients RawClients, each on its own
// connection to the raw server at addr, doing request/response with the
// given payload sizes.
func RawWorkload(name, addr string, clients, reqPayload, replyPayload int) Workload {
	return Workload{
		Name:    name,
		Clients: clients,
		Labels:  []string{"role", "raw-client"},
		NewWorker: func(_ context.Context, _ int) (OpFunc, func(), error) {
			rc, err := DialRaw(addr, reqPayload, replyPayload)
			if err != nil {
				return nil, nil, err
			}
			return rc.Do, func() { rc.Close() }, nil
		},
	}
}
