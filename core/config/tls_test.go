package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/server"
	"github.com/elliptics/elliptics/core/transport"
	"github.com/elliptics/elliptics/core/transport/tlstest"
)

type tlsFiles struct{ ca, cert, key, otherKey, dir string }

func writeTLSFiles(t *testing.T) tlsFiles {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "ca")
	cert, key := ca.Issue(t, "node", "127.0.0.1").Write(t, dir, "node")
	_, otherKey := ca.Issue(t, "other").Write(t, dir, "other")
	return tlsFiles{ca: ca.WriteCA(t, dir, "ca.crt"), cert: cert, key: key, otherKey: otherKey, dir: dir}
}

func TestTLSTable(t *testing.T) {
	f := writeTLSFiles(t)
	c, err := Parse([]byte(fmt.Sprintf(`
[node]
listen = ["127.0.0.1:0"]

[[backend]]
type = "mem"

[tls]
cert_file = %q
key_file = %q
ca_file = %q
client_auth = "require"
server_name = "node.example"
min_version = "1.3"
`, f.cert, f.key, f.ca)))
	require.NoError(t, err)
	require.Equal(t, TLS{CertFile: f.cert, KeyFile: f.key, CAFile: f.ca, ClientAuth: "require",
		ServerName: "node.example", MinVersion: "1.3"}, c.TLS)
	require.True(t, c.TLS.Enabled())
	tr, err := c.TLS.Transport()
	require.NoError(t, err)
	require.Equal(t, tls.RequireAndVerifyClientCert, tr.Server.ClientAuth)
	require.Equal(t, uint16(tls.VersionTLS13), tr.Server.MinVersion)
	require.Equal(t, uint16(tls.VersionTLS13), tr.Client.MinVersion)
	require.Equal(t, "node.example", tr.Client.ServerName)
	require.Len(t, tr.Client.Certificates, 1, "the node's certificate is its client certificate")

	data, err := c.Marshal()
	require.NoError(t, err)
	back, err := Parse(data)
	require.NoError(t, err)
	require.Equal(t, c.TLS, back.TLS)

	// Without [tls] the node stays on plain TCP.
	require.False(t, Default().TLS.Enabled())
	opts, err := func() (server.Options, error) {
		d := Default()
		d.Backends[0].Type = "mem"
		d.Node.DataDir = t.TempDir()
		return d.ServerOptions(nil)
	}()
	require.NoError(t, err)
	require.Nil(t, opts.Transport)
}

func TestTLSTableErrors(t *testing.T) {
	f := writeTLSFiles(t)
	missing := filepath.Join(f.dir, "missing.pem")
	for _, tc := range []struct {
		table string
		want  []string
	}{
		{fmt.Sprintf("cert_file = %q", f.cert), []string{"tls.key_file: needed with tls.cert_file"}},
		{fmt.Sprintf("key_file = %q", f.key), []string{"tls.cert_file: needed with tls.key_file"}},
		{fmt.Sprintf("ca_file = %q", f.ca), []string{"tls.ca_file: needs tls.cert_file and tls.key_file"}},
		{`client_auth = "require"`, []string{"tls.client_auth: needs tls.cert_file"}},
		{fmt.Sprintf("cert_file = %q\nkey_file = %q\nclient_auth = \"always\"\nmin_version = \"1.1\"", f.cert, f.key),
			[]string{`tls.client_auth: "always" is not one of none, request, require`, `tls.min_version: "1.1" is not one of 1.2, 1.3`}},
		{fmt.Sprintf("cert_file = %q\nkey_file = %q", missing, f.key), []string{"tls.cert_file: open " + missing + ": no such file"}},
		{fmt.Sprintf("cert_file = %q\nkey_file = %q", f.cert, missing), []string{"tls.key_file: open " + missing + ": no such file"}},
		{fmt.Sprintf("cert_file = %q\nkey_file = %q", f.cert, f.otherKey), []string{"tls.cert_file: certificate " + f.cert + " with key " + f.otherKey + ": tls: private key does not match public key"}},
		{fmt.Sprintf("cert_file = %q\nkey_file = %q", f.key, f.key), []string{"tls.cert_file: certificate " + f.key}},
		{fmt.Sprintf("cert_file = %q\nkey_file = %q\nca_file = %q", f.cert, f.key, f.key), []string{"tls.ca_file: " + f.key + ": no PEM certificate found"}},
		{fmt.Sprintf("cert_file = %q\nkey_file = %q\nca_file = %q", f.cert, f.key, missing), []string{"tls.ca_file: open " + missing}},
	} {
		_, err := Parse([]byte("[[backend]]\ntype = \"mem\"\n[tls]\n" + tc.table + "\n"))
		require.Error(t, err, tc.table)
		for _, w := range tc.want {
			require.Contains(t, err.Error(), w, tc.table)
		}
	}
}

// TestTLSServerOptions: two nodes from [tls] tables join each other over
// mutual TLS; a client with the CA and a certificate reaches them, one
// without a certificate is refused.
func TestTLSServerOptions(t *testing.T) {
	f := writeTLSFiles(t)
	start := func(group int, remotes string) *server.Server {
		c, err := Parse([]byte(fmt.Sprintf(`
[node]
listen = ["127.0.0.1:0"]
remotes = [%s]
data_dir = %q
ping_interval = "100ms"

[[backend]]
type = "mem"
group = %d

[tls]
cert_file = %q
key_file = %q
ca_file = %q
client_auth = "require"
`, remotes, t.TempDir(), group, f.cert, f.key, f.ca)))
		require.NoError(t, err)
		opts, err := c.ServerOptions(nil)
		require.NoError(t, err)
		require.IsType(t, &transport.TLS{}, opts.Transport)
		srv, err := server.New(opts)
		require.NoError(t, err)
		require.NoError(t, srv.Start())
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		return srv
	}
	a := start(1, "")
	b := start(2, fmt.Sprintf("%q", a.Addrs()[0].String()))

	c := Config{TLS: TLS{CertFile: f.cert, KeyFile: f.key, CAFile: f.ca}}
	dial, err := c.ClientDial()
	require.NoError(t, err)
	n := client.NewNode(client.Config{Dial: dial, WaitTimeout: 5 * time.Second})
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, n.AddRemotes(ctx, b.Addrs()[0].String()))
	require.NoError(t, n.WaitRoutes(ctx, func(tb *route.Table) bool { return tb.Len() == 2 }))
}

func TestHTTPTLS(t *testing.T) {
	f := writeTLSFiles(t)
	_, err := Parse([]byte("[[backend]]\ntype = \"mem\"\n[http]\naddr = \"127.0.0.1:0\"\ntls = true\n"))
	require.ErrorContains(t, err, "http.tls: needs the node's certificate")

	c, err := Parse([]byte(fmt.Sprintf("[[backend]]\ntype = \"mem\"\n[http]\naddr = \"127.0.0.1:0\"\ntls = true\n"+
		"[tls]\ncert_file = %q\nkey_file = %q\nmin_version = \"1.3\"\n", f.cert, f.key)))
	require.NoError(t, err)
	tc, err := c.HTTPConfig()
	require.NoError(t, err)
	require.Len(t, tc.Certificates, 1)
	require.Equal(t, uint16(tls.VersionTLS13), tc.MinVersion)

	c.HTTP.TLS = false
	tc, err = c.HTTPConfig()
	require.NoError(t, err)
	require.Nil(t, tc)
}
