package main

import (
	"context"
	"errors"
	"flag"
	"net"

	"github.com/elliptics/elliptics/core/transport"
)

// tlsFlags are the --tls-* global flags: set, the client dials the nodes
// with TLS (docs/tls.md).
type tlsFlags struct {
	ca, cert, key, serverName string
	// dial is the TLS dial built by setup; nil is plain TCP.
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

func (t *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.ca, "tls-ca", "", "connect with TLS, verifying the nodes' certificates with the CA certificates of PEM `FILE`")
	fs.StringVar(&t.cert, "tls-cert", "", "connect with TLS, presenting the client certificate of PEM `FILE` (with --tls-key)")
	fs.StringVar(&t.key, "tls-key", "", "private key PEM `FILE` of --tls-cert")
	fs.StringVar(&t.serverName, "tls-server-name", "", "connect with TLS, verifying the nodes' certificates against `NAME`\n"+
		"instead of the host of their address")
}

// setup builds the dial of the flags, if any is given.
func (t *tlsFlags) setup() error {
	if t.ca == "" && t.cert == "" && t.key == "" && t.serverName == "" {
		return nil
	}
	if (t.cert == "") != (t.key == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	tr, err := transport.NewTLS(transport.TLSFiles{CertFile: t.cert, KeyFile: t.key, CAFile: t.ca, ServerName: t.serverName})
	if err != nil {
		return err
	}
	t.dial = tr.Dial
	return nil
}
