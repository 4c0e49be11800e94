package config

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/elliptics/elliptics/core/transport"
)

// ClientAuthModes and TLSVersions are the accepted values of
// tls.client_auth and tls.min_version.
var (
	ClientAuthModes = []string{"none", "request", "require"}
	TLSVersions     = []string{"1.2", "1.3"}
)

// TLS is the [tls] table: with cert_file and key_file set, the node
// listens with TLS and dials the other nodes with TLS, presenting its own
// certificate as client certificate (docs/tls.md). Without them the node
// speaks plain TCP and every other key must be left out.
type TLS struct {
	// CertFile is the node's PEM certificate (chain first); its names or
	// IP addresses must match the addresses the others dial, and its
	// extended key usage allow both server and client authentication.
	// Default "" (no TLS).
	CertFile string `toml:"cert_file"`
	// KeyFile is the certificate's PEM private key. Both or neither.
	KeyFile string `toml:"key_file"`
	// CAFile holds the PEM certificates of the authorities that sign the
	// other nodes' certificates and, with client_auth, the clients'.
	// Default "": the system's pool.
	CAFile string `toml:"ca_file"`
	// ClientAuth is what the node asks of those that connect: "none" (no
	// client certificate), "request" (verify one when given) or "require"
	// (refuse clients without a certificate signed by ca_file). Default
	// "none".
	ClientAuth string `toml:"client_auth"`
	// ServerName, if set, is the name the other nodes' certificates are
	// verified against, instead of the host of their address. Default "".
	ServerName string `toml:"server_name"`
	// MinVersion is the oldest TLS version accepted, "1.2" or "1.3".
	// Default "1.2".
	MinVersion string `toml:"min_version"`
}

// Enabled says the node speaks TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// validate adds the problems of the [tls] table to p; it reads the files.
func (t *TLS) validate(p *problems, httpTLS bool) {
	if t.ClientAuth != "" && !slices.Contains(ClientAuthModes, t.ClientAuth) {
		p.add("tls.client_auth", "%q is not one of %s", t.ClientAuth, strings.Join(ClientAuthModes, ", "))
	}
	if t.MinVersion != "" && !slices.Contains(TLSVersions, t.MinVersion) {
		p.add("tls.min_version", "%q is not one of %s", t.MinVersion, strings.Join(TLSVersions, ", "))
	}
	if !t.Enabled() {
		if httpTLS {
			p.add("http.tls", "needs the node's certificate: [tls] cert_file and key_file")
		}
		for _, k := range []struct{ key, val string }{{"ca_file", t.CAFile}, {"client_auth", t.ClientAuth},
			{"server_name", t.ServerName}, {"min_version", t.MinVersion}} {
			if k.val != "" {
				p.add("tls."+k.key, "needs tls.cert_file and tls.key_file (the node's certificate)")
			}
		}
		return
	}
	switch {
	case t.CertFile == "":
		p.add("tls.cert_file", "needed with tls.key_file")
	case t.KeyFile == "":
		p.add("tls.key_file", "needed with tls.cert_file")
	default:
		if err := readable(t.CertFile); err != nil {
			p.add("tls.cert_file", "%v", err)
		} else if err := readable(t.KeyFile); err != nil {
			p.add("tls.key_file", "%v", err)
		} else if _, err := transport.LoadKeyPair(t.CertFile, t.KeyFile); err != nil {
			p.add("tls.cert_file", "%s", strings.TrimPrefix(err.Error(), "tls: "))
		}
	}
	if t.CAFile != "" {
		if _, err := transport.LoadCertPool(t.CAFile); err != nil {
			p.add("tls.ca_file", "%s", strings.TrimPrefix(err.Error(), "tls: "))
		}
	}
}

func readable(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	return f.Close()
}

// Transport returns the TLS transport of the table (nil when TLS is off).
func (t *TLS) Transport() (*transport.TLS, error) {
	if !t.Enabled() {
		return nil, nil
	}
	auth := map[string]tls.ClientAuthType{"": tls.NoClientCert, "none": tls.NoClientCert,
		"request": tls.VerifyClientCertIfGiven, "require": tls.RequireAndVerifyClientCert}[t.ClientAuth]
	version := uint16(tls.VersionTLS12)
	if t.MinVersion == "1.3" {
		version = tls.VersionTLS13
	}
	return transport.NewTLS(transport.TLSFiles{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile,
		ClientAuth: auth, ServerName: t.ServerName, MinVersion: version})
}

// ClientDial returns how clients of the node's own making (the HTTP API's)
// dial the cluster: with TLS and the node's certificate when [tls] is set,
// else nil (plain TCP).
func (c *Config) ClientDial() (func(ctx context.Context, addr string) (net.Conn, error), error) {
	tr, err := c.TLS.Transport()
	if err != nil || tr == nil {
		return nil, err
	}
	return tr.Dial, nil
}

// HTTPConfig returns the TLS configuration of the [http] API when http.tls
// is set (the node's certificate, TLS 1.2 or min_version; no client
// certificates), else nil.
func (c *Config) HTTPConfig() (*tls.Config, error) {
	if !c.HTTP.TLS {
		return nil, nil
	}
	tr, err := c.TLS.Transport()
	if err != nil {
		return nil, err
	}
	if tr == nil || tr.Server == nil {
		return nil, errors.New("http.tls: needs [tls] cert_file and key_file")
	}
	return &tls.Config{Certificates: tr.Server.Certificates, MinVersion: tr.Server.MinVersion,
		NextProtos: []string{"http/1.1"}}, nil
}
