package memnet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

func pair(t *testing.T, size int) (*Conn, *Conn) {
	t.Helper()
	a, b := Pipe("a:1", "b:1", size)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestListenDialAccept(t *testing.T) {
	n := New()
	l, err := n.Listen("node:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen(l.Addr().String()); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second listen on %s: %v", l.Addr(), err)
	}
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c) // echo
		c.Close()
	}()
	c, err := n.Dial(context.Background(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != l.Addr().String() {
		t.Fatalf("remote %s, want %s", c.RemoteAddr(), l.Addr())
	}
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q %v", buf, err)
	}
	c.Close()
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	if _, err := n.Dial(context.Background(), l.Addr().String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after close: %v", err)
	}
	if _, err := n.Listen(l.Addr().String()); err != nil {
		t.Fatalf("the address is free again: %v", err)
	}
}

// A write does not wait for a read while the buffer has room (net.Pipe's
// does): two ends may write to each other at once.
func TestBufferedWrites(t *testing.T) {
	a, b := pair(t, 1024)
	if _, err := a.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
}

func TestReadDeadline(t *testing.T) {
	a, b := pair(t, 1024)
	a.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err := a.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("not a timeout: %v", err)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Fatalf("returned after %v", d)
	}
	// A passed deadline fails reads even with data waiting (the server
	// stops its readers this way); clearing it reads again.
	b.Write([]byte("x"))
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with a passed deadline: %v", err)
	}
	a.SetReadDeadline(time.Time{})
	if n, err := a.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read after clearing the deadline: %d %v", n, err)
	}
	// Setting a deadline wakes a reader already waiting.
	done := make(chan error, 1)
	go func() { _, err := a.Read(make([]byte, 1)); done <- err }()
	time.Sleep(10 * time.Millisecond)
	a.SetReadDeadline(time.Now())
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("woken read: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("reader not woken by SetReadDeadline")
	}
}

func TestWriteDeadline(t *testing.T) {
	a, b := pair(t, 100)
	a.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := a.Write(make([]byte, 250)) // nobody reads: 100 fit
	if !errors.Is(err, os.ErrDeadlineExceeded) || n != 100 {
		t.Fatalf("write: %d %v", n, err)
	}
	a.SetDeadline(time.Time{})
	go io.Copy(io.Discard, b)
	if _, err := a.Write(make([]byte, 250)); err != nil {
		t.Fatalf("write after clearing the deadline: %v", err)
	}
}

func TestClose(t *testing.T) {
	a, b := pair(t, 1024)
	a.Write([]byte("last words"))
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	// The peer reads what was written, then EOF; its writes fail.
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "last words" {
		t.Fatalf("peer read %q %v", got, err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write to a closed peer: %v", err)
	}
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if err := a.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("deadline after close: %v", err)
	}
}

// Close wakes a reader and a writer blocked on the connection, on both ends.
func TestCloseWakesBlocked(t *testing.T) {
	a, b := pair(t, 10)
	c, d := pair(t, 10)
	errs := make(chan error, 4)
	go func() { _, err := a.Read(make([]byte, 1)); errs <- err }()
	go func() { _, err := a.Write(make([]byte, 100)); errs <- err }()
	go func() { _, err := d.Write(make([]byte, 100)); errs <- err }() // nobody reads c
	go func() { _, err := b.Read(make([]byte, 100)); errs <- err }()  // gets a's 10 bytes
	time.Sleep(20 * time.Millisecond)
	if err := <-errs; err != nil { // b's read
		t.Fatalf("peer read: %v", err)
	}
	a.Close()
	c.Close()
	for range 3 {
		select {
		case err := <-errs:
			if err == nil {
				t.Fatal("blocked call ended without an error")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("blocked call not woken by Close")
		}
	}
}

// Concurrent writers never interleave within one Write; a large write
// goes through a small buffer in pieces and arrives whole.
func TestConcurrentAndLargeWrites(t *testing.T) {
	a, b := pair(t, 4096)
	const writers, each, size = 8, 50, 10000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range each {
				if _, err := a.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); a.Close() }()
	got, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each*size {
		t.Fatalf("read %d bytes, want %d", len(got), writers*each*size)
	}
	for i := 0; i < len(got); i += size {
		if !bytes.Equal(got[i:i+size], bytes.Repeat(got[i:i+1], size)) {
			t.Fatalf("writes interleaved at %d", i)
		}
	}

	// One write far larger than the buffer, read in random-sized pieces.
	c, d := pair(t, 1000)
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(rand.IntN(256))
	}
	go func() { c.Write(big); c.Close() }()
	var out []byte
	buf := make([]byte, 7000)
	for {
		n, err := d.Read(buf[:1+rand.IntN(len(buf)-1)])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out, big) {
		t.Fatal("large write arrived changed")
	}
}

func TestDialWaitsForBacklog(t *testing.T) {
	n := New()
	l, _ := n.Listen("full:1")
	defer l.Close()
	for range backlog {
		if _, err := n.Dial(context.Background(), "full:1"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := n.Dial(ctx, "full:1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial to a full backlog: %v", err)
	}
}
