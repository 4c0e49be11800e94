package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// DefaultHandshakeTimeout bounds the TLS handshake of an accepted
// connection (TLS.HandshakeTimeout).
const DefaultHandshakeTimeout = 10 * time.Second

// TLS is TCP wrapped in crypto/tls. Listen needs Server (with a
// certificate); Dial needs Client. Build both from files with NewTLS.
//
// Accepted connections handshake lazily, on their first Read or Write,
// which the server does in the connection's own goroutine (its read loop),
// never in the accept loop: a client that connects and stalls holds only
// its own connection, and only for HandshakeTimeout, after which the
// connection is closed. The conns Accept returns are *TLSConn (a *tls.Conn
// with that bounded handshake); ConnectionState gives the peer's
// certificates once the handshake is done.
type TLS struct {
	// TCP dials and its options (keep-alive) apply under TLS.
	TCP TCP
	// Server is the configuration of accepted connections.
	Server *tls.Config
	// Client is the configuration of dialed connections. An empty
	// ServerName is taken from the host of the dialed address.
	Client *tls.Config
	// HandshakeTimeout bounds the handshake of an accepted connection
	// (DefaultHandshakeTimeout when 0). A dialed connection's handshake is
	// bounded by the dial's context.
	HandshakeTimeout time.Duration
}

// TLSFiles names the files and settings NewTLS reads.
type TLSFiles struct {
	// CertFile and KeyFile are the PEM certificate (chain) and private key
	// of this side: needed to listen, and sent as the client certificate
	// when dialing (mutual TLS). Both or neither.
	CertFile, KeyFile string
	// CAFile holds the PEM certificates of the authorities that sign the
	// other side's certificates: servers' when dialing, clients' when
	// ClientAuth asks for one. Empty: the system's pool.
	CAFile string
	// ClientAuth is what a listener asks of clients: tls.NoClientCert,
	// tls.VerifyClientCertIfGiven or tls.RequireAndVerifyClientCert.
	ClientAuth tls.ClientAuthType
	// ServerName, if set, is the name dialed servers' certificates are
	// verified against, instead of the host of the address.
	ServerName string
	// MinVersion is the oldest TLS version accepted (tls.VersionTLS12
	// when 0).
	MinVersion uint16
}

// NewTLS reads the files of f and returns the transport. Errors name the
// file that failed.
func NewTLS(f TLSFiles) (*TLS, error) {
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, errors.New("tls: a certificate needs its key and a key its certificate: give both files or neither")
	}
	minVersion := f.MinVersion
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	var certs []tls.Certificate
	if f.CertFile != "" {
		cert, err := LoadKeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, err
		}
		certs = []tls.Certificate{cert}
	}
	var pool *x509.CertPool
	if f.CAFile != "" {
		var err error
		if pool, err = LoadCertPool(f.CAFile); err != nil {
			return nil, err
		}
	}
	t := &TLS{
		Client: &tls.Config{Certificates: certs, RootCAs: pool, ServerName: f.ServerName, MinVersion: minVersion},
	}
	if len(certs) > 0 {
		t.Server = &tls.Config{Certificates: certs, ClientCAs: pool, ClientAuth: f.ClientAuth, MinVersion: minVersion}
	}
	return t, nil
}

// LoadKeyPair reads a PEM certificate and its private key and checks that
// they match.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	for _, name := range []string{certFile, keyFile} {
		if _, err := os.Stat(name); err != nil {
			return tls.Certificate{}, fmt.Errorf("tls: %w", err)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

// LoadCertPool reads the PEM certificates of a file into a pool.
func LoadCertPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("tls: %s: no PEM certificate found", file)
	}
	return pool, nil
}

// Listen listens on a TCP address; accepted connections speak TLS.
func (t *TLS) Listen(addr string) (net.Listener, error) {
	if t.Server == nil || len(t.Server.Certificates) == 0 && t.Server.GetCertificate == nil {
		return nil, errors.New("tls: no certificate to listen with")
	}
	ln, err := t.TCP.Listen(addr)
	if err != nil {
		return nil, err
	}
	timeout := t.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	return &tlsListener{Listener: ln, cfg: t.Server, timeout: timeout}, nil
}

// Dial connects to a TCP address and completes the TLS handshake, both
// bounded by ctx.
func (t *TLS) Dial(ctx context.Context, addr string) (net.Conn, error) {
	nc, err := t.TCP.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	cfg := t.Client
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	return tc, nil
}

type tlsListener struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration
}

func (l *tlsListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// The server tunes *net.TCPConn itself, which it no longer sees.
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(30 * time.Second)
	}
	return &TLSConn{Conn: tls.Server(nc, l.cfg), timeout: l.timeout}, nil
}

// TLSConn is an accepted TLS connection: its first Read or Write completes
// the handshake within the listener's handshake timeout, or closes the
// connection and fails.
type TLSConn struct {
	*tls.Conn
	timeout time.Duration
	done    atomic.Bool
}

func (c *TLSConn) handshake() error {
	if c.done.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	// On timeout crypto/tls closes the connection, so no goroutine stays.
	if err := c.Conn.HandshakeContext(ctx); err != nil {
		_ = c.Conn.NetConn().Close()
		return fmt.Errorf("tls handshake with %s: %w", c.RemoteAddr(), err)
	}
	c.done.Store(true)
	return nil
}

// Read completes the handshake, then reads.
func (c *TLSConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

// Write completes the handshake, then writes.
func (c *TLSConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
