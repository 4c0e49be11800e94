package transport_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/transport"
	"github.com/elliptics/elliptics/core/transport/tlstest"
)

// pki is a CA with a server certificate for 127.0.0.1 and a client one.
type pki struct {
	ca             *tlstest.CA
	server, client *tlstest.Leaf
}

func newPKI(t *testing.T) pki {
	ca := tlstest.NewCA(t, "test ca")
	return pki{ca: ca, server: ca.Issue(t, "node", "127.0.0.1", "localhost"), client: ca.Issue(t, "client")}
}

func (p pki) listen(t *testing.T, auth tls.ClientAuthType, timeout time.Duration) (net.Listener, *transport.TLS) {
	t.Helper()
	tr := &transport.TLS{
		Server: &tls.Config{Certificates: []tls.Certificate{p.server.TLS}, ClientCAs: p.ca.Pool(), ClientAuth: auth,
			MinVersion: tls.VersionTLS12},
		HandshakeTimeout: timeout,
	}
	ln, err := tr.Listen("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln, tr
}

// echo serves ln: every connection gets back what it sends; the errors of
// the connections (handshake failures among them) go to errs.
func echo(ln net.Listener, errs chan<- error) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			_, err := io.Copy(nc, nc)
			if errs != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
	}
}

func (p pki) dialer(withCert bool) *transport.TLS {
	cfg := &tls.Config{RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.client.TLS}
	}
	return &transport.TLS{Client: cfg}
}

func roundTrip(t *testing.T, nc net.Conn) error {
	t.Helper()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("hello")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(nc, buf); err != nil {
		return err
	}
	require.Equal(t, "hello", string(buf))
	return nil
}

func TestTLSRoundTrip(t *testing.T) {
	p := newPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		ln, _ := p.listen(t, tls.NoClientCert, 0)
		go echo(ln, nil)
		d := p.dialer(false)
		d.Client.MaxVersion = v
		nc, err := d.Dial(context.Background(), ln.Addr().String())
		require.NoError(t, err)
		require.IsType(t, &tls.Conn{}, nc)
		require.NoError(t, roundTrip(t, nc))
		require.Equal(t, v, nc.(*tls.Conn).ConnectionState().Version)
		nc.Close()
	}
}

func TestTLSUnknownAuthority(t *testing.T) {
	p := newPKI(t)
	ln, _ := p.listen(t, tls.NoClientCert, 0)
	go echo(ln, nil)
	// The system pool does not know the test CA.
	d := &transport.TLS{Client: &tls.Config{MinVersion: tls.VersionTLS12}}
	_, err := d.Dial(context.Background(), ln.Addr().String())
	require.Error(t, err)
	require.Contains(t, err.Error(), "tls handshake with "+ln.Addr().String())
	require.Contains(t, err.Error(), "certificate signed by unknown authority")

	// A certificate of another name does not pass either.
	d = p.dialer(false)
	d.Client.ServerName = "elsewhere.example"
	_, err = d.Dial(context.Background(), ln.Addr().String())
	require.ErrorContains(t, err, "elsewhere.example")
}

func TestTLSMutualRequired(t *testing.T) {
	p := newPKI(t)
	ln, _ := p.listen(t, tls.RequireAndVerifyClientCert, 0)
	go echo(ln, nil)

	nc, err := p.dialer(true).Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, roundTrip(t, nc))
	nc.Close()

	// Without a certificate: TLS 1.3 completes the client's side of the
	// handshake before the server checks, so the refusal may come with
	// the first read.
	start := time.Now()
	nc, err = p.dialer(false).Dial(context.Background(), ln.Addr().String())
	if err == nil {
		err = roundTrip(t, nc)
		nc.Close()
	}
	require.Error(t, err)
	require.Contains(t, err.Error(), "certificate")
	require.Less(t, time.Since(start), 3*time.Second)

	// A certificate from another CA is refused too.
	other := tlstest.NewCA(t, "other ca").Issue(t, "intruder")
	d := p.dialer(false)
	d.Client.Certificates = []tls.Certificate{other.TLS}
	nc, err = d.Dial(context.Background(), ln.Addr().String())
	if err == nil {
		err = roundTrip(t, nc)
		nc.Close()
	}
	require.Error(t, err)
}

func TestTLSListenerRefusesPlainClient(t *testing.T) {
	p := newPKI(t)
	ln, _ := p.listen(t, tls.NoClientCert, 300*time.Millisecond)
	errs := make(chan error, 4)
	go echo(ln, errs)

	// A client that speaks no TLS: the server ends the connection.
	nc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = nc.Write(bytes.Repeat([]byte{0x53}, 64))
	require.NoError(t, err)
	_, err = io.ReadAll(nc) // until the server closes (EOF, or a reset if it left bytes unread)
	notTimeout(t, err)
	require.ErrorContains(t, <-errs, "tls handshake with")

	// A client that connects and says nothing is cut off after the
	// handshake timeout: it holds no goroutine longer.
	nc2, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer nc2.Close()
	start := time.Now()
	_ = nc2.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(nc2)
	notTimeout(t, err)
	require.Less(t, time.Since(start), 3*time.Second)
	require.ErrorContains(t, <-errs, "context deadline exceeded")
}

func TestTLSListenNeedsCertificate(t *testing.T) {
	_, err := (&transport.TLS{}).Listen("127.0.0.1:0")
	require.ErrorContains(t, err, "no certificate")
}

func TestNewTLSFiles(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	caFile := p.ca.WriteCA(t, dir, "ca.crt")
	cert, key := p.server.Write(t, dir, "node")
	ccert, ckey := p.client.Write(t, dir, "client")

	srv, err := transport.NewTLS(transport.TLSFiles{CertFile: cert, KeyFile: key, CAFile: caFile,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13})
	require.NoError(t, err)
	ln, err := srv.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go echo(ln, nil)
	cl, err := transport.NewTLS(transport.TLSFiles{CertFile: ccert, KeyFile: ckey, CAFile: caFile})
	require.NoError(t, err)
	nc, err := cl.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, roundTrip(t, nc))
	require.Equal(t, uint16(tls.VersionTLS13), nc.(*tls.Conn).ConnectionState().Version)
	nc.Close()

	_, err = transport.NewTLS(transport.TLSFiles{CertFile: cert})
	require.ErrorContains(t, err, "both files or neither")
	_, err = transport.NewTLS(transport.TLSFiles{CertFile: cert, KeyFile: ckey})
	require.ErrorContains(t, err, "private key does not match public key")
	_, err = transport.NewTLS(transport.TLSFiles{CAFile: key})
	require.ErrorContains(t, err, "no PEM certificate")
	_, err = transport.NewTLS(transport.TLSFiles{CAFile: dir + "/missing.crt"})
	require.ErrorContains(t, err, "missing.crt")
}

// TestTLSServerFrames runs a node over TLS (mutual) and a client of it:
// frames of every size, sent concurrently, arrive intact. A *tls.Conn is
// not a syscall.Conn, so the frame writer queues every frame for its
// writer goroutine instead of writing inline.
func TestTLSServerFrames(t *testing.T) {
	p := newPKI(t)
	tr := &transport.TLS{
		Server: &tls.Config{Certificates: []tls.Certificate{p.server.TLS}, ClientCAs: p.ca.Pool(),
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		Client: &tls.Config{Certificates: []tls.Certificate{p.server.TLS}, RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12},
	}
	s, err := server.New(server.Options{Listen: []string{"127.0.0.1:0"}, Transport: tr,
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}}})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	defer s.Shutdown(context.Background()) //nolint:errcheck

	n := client.NewNode(client.Config{Dial: p.dialer(true).Dial, WaitTimeout: 10 * time.Second})
	defer n.Close()
	ctx := context.Background()
	require.NoError(t, n.AddRemotes(ctx, s.Addrs()[0].String()))
	sess := client.NewSession(n)
	sess.SetGroups(1)

	sizes := []int{0, 1, 100, 4 << 10, 16<<10 + 7, 300 << 10}
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, size := range sizes {
				key := client.NewKey(fmt.Sprintf("k-%d-%d", w, i))
				data := bytes.Repeat([]byte{byte(w*16 + i)}, size)
				if _, err := sess.Write(ctx, key, data); err != nil {
					errc <- err
					return
				}
				e, err := sess.Read(ctx, key, 0, 0)
				if err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(e.Data, data) {
					errc <- fmt.Errorf("key %s: %d bytes back, want %d", key, len(e.Data), size)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}

	// A client without a certificate is refused.
	n2 := client.NewNode(client.Config{Dial: p.dialer(false).Dial, WaitTimeout: 3 * time.Second, DialTimeout: 3 * time.Second})
	defer n2.Close()
	start := time.Now()
	err = n2.AddRemotes(ctx, s.Addrs()[0].String())
	require.Error(t, err)
	require.Contains(t, err.Error(), "certificate")
	require.Less(t, time.Since(start), 5*time.Second)

	// A plain client gets an error, not a hang.
	n3 := client.NewNode(client.Config{WaitTimeout: 3 * time.Second, DialTimeout: 3 * time.Second})
	defer n3.Close()
	start = time.Now()
	require.Error(t, n3.AddRemotes(ctx, s.Addrs()[0].String()))
	require.Less(t, time.Since(start), 5*time.Second)
}

// notTimeout checks that a read ended because the server closed the
// connection, not because the client's own deadline passed.
func notTimeout(t *testing.T, err error) {
	t.Helper()
	var ne net.Error
	if errors.As(err, &ne) {
		require.False(t, ne.Timeout(), "the server never closed the connection: %v", err)
	}
}

// TestTLSShutdownDuringHandshake: a node stops at once even while a client
// sits in the middle of its handshake (the handshake runs in the
// connection's read loop, which Shutdown stops).
func TestTLSShutdownDuringHandshake(t *testing.T) {
	p := newPKI(t)
	tr := &transport.TLS{Server: &tls.Config{Certificates: []tls.Certificate{p.server.TLS}, MinVersion: tls.VersionTLS12}}
	s, err := server.New(server.Options{Listen: []string{"127.0.0.1:0"}, Transport: tr,
		Backends: []server.BackendSpec{{ID: 0, Group: 1, Backend: mem.New()}}})
	require.NoError(t, err)
	require.NoError(t, s.Start())
	nc, err := net.Dial("tcp", s.Addrs()[0].String())
	require.NoError(t, err)
	defer nc.Close()
	time.Sleep(50 * time.Millisecond) // accepted, handshaking
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	require.Less(t, time.Since(start), 2*time.Second)
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(nc)
	notTimeout(t, err)
}
