package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/auth"
)

func TestSecurityTable(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "cluster.secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("cluster-secret-from-file\n"), 0o600))
	c, err := Parse([]byte(`
[node]
data_dir = "` + dir + `"
[[backend]]
type = "mem"
[security]
cluster_secret_file = "` + secretFile + `"
anonymous = ["read"]
[[security.keys]]
id = "app"
secret = "app-secret-0123456789"
permissions = ["read", "write"]
[[security.keys]]
id = "ops"
secret = "ops-secret-0123456789"
permissions = ["read", "write", "admin"]
`))
	require.NoError(t, err)
	opts, err := c.ServerOptions(nil)
	require.NoError(t, err)
	a := opts.Auth
	require.Equal(t, "cluster-secret-from-file", a.ClusterSecret)
	require.Equal(t, auth.Read, a.Anonymous)
	require.Equal(t, []auth.Key{
		{ID: "app", Secret: "app-secret-0123456789", Perms: auth.Read | auth.Write},
		{ID: "ops", Secret: "ops-secret-0123456789", Perms: auth.All},
	}, a.Keys)

	// Printed configurations do not show secrets.
	out, err := c.Marshal()
	require.NoError(t, err)
	require.NotContains(t, string(out), "app-secret")
	require.Contains(t, string(out), "<redacted>")

	// No table: no authentication.
	c, err = Parse([]byte("[[backend]]\ntype = \"mem\"\n"))
	require.NoError(t, err)
	opts, err = c.ServerOptions(nil)
	require.NoError(t, err)
	require.False(t, opts.Auth.Enabled())
}

func TestSecurityTableInvalid(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"[security]\ncluster_secret = \"short\"", "security.cluster_secret: must be at least 16 bytes"},
		{"[security]\ncluster_secret = \"cluster-secret-0123456789\"\ncluster_secret_file = \"/x\"", "not both"},
		{"[security]\ncluster_secret_file = \"/nonexistent/secret\"", "security.cluster_secret"},
		{"[security]\nanonymous = [\"root\"]", "security.anonymous"},
		{"[[security.keys]]\nid = \"a\"\nsecret = \"a-secret-0123456789\"\npermissions = [\"sudo\"]", "security.keys[0].permissions"},
		{"[[security.keys]]\nid = \"a\"\nsecret = \"short\"\npermissions = []", "security.keys[0].secret"},
		{"[[security.keys]]\nid = \"\"\nsecret = \"a-secret-0123456789\"\npermissions = []", "security.keys[0].id"},
		{"[[security.keys]]\nid = \"a\"\nsecret = \"a-secret-0123456789\"\npermissions = []\n[[security.keys]]\nid = \"a\"\nsecret = \"a-secret-0123456789\"\npermissions = []", "security.keys[1].id: \"a\" used twice"},
		{"[security]\nclustersecret = \"x\"", "clustersecret"},
	} {
		_, err := Parse([]byte(tc.doc))
		require.Error(t, err, tc.doc)
		require.True(t, strings.Contains(err.Error(), tc.want), "%s: %v", tc.doc, err)
	}
}
