package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/server"
)

// Security is the [security] table: authentication (docs/security.md).
// Absent or empty: none, every connection may do everything. With a
// cluster secret or any key, a connection must authenticate (AUTH) before
// anything that anonymous does not allow; only nodes that know the
// cluster secret may join.
type Security struct {
	// ClusterSecret is shared by the nodes of the cluster (at least 16
	// bytes); ClusterSecretFile names a file holding it instead (trailing
	// newlines are ignored). One of them, or neither.
	ClusterSecret     string `toml:"cluster_secret,omitempty"`
	ClusterSecretFile string `toml:"cluster_secret_file,omitempty"`
	// Anonymous is what connections may do before authenticating: a list
	// of "read", "write", "admin". Default [] (nothing).
	Anonymous []string `toml:"anonymous,omitempty"`
	// Keys are the client keys ([[security.keys]]).
	Keys []SecurityKey `toml:"keys,omitempty"`
}

// SecurityKey is one [[security.keys]] table.
type SecurityKey struct {
	// ID names the key (unique; sent in the clear).
	ID string `toml:"id"`
	// Secret is the key's secret (at least 16 bytes), or SecretFile the
	// file holding it.
	Secret     string `toml:"secret,omitempty"`
	SecretFile string `toml:"secret_file,omitempty"`
	// Permissions: "read" (LOOKUP, READ, ranges, iterators, watches,
	// statistics, routes), "write" (WRITE, REMOVE, bulk writes, EXEC),
	// "admin" (BACKEND_CONTROL, RECOVERY, SEND, extensions).
	Permissions []string `toml:"permissions"`
}

// readSecret returns the secret given inline or in a file.
func readSecret(inline, file string) (string, error) {
	switch {
	case inline != "" && file != "":
		return "", fmt.Errorf("set the secret or its file, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return inline, nil
}

// options resolves the table into server.AuthOptions, reporting every
// problem to p (nil p: return the first as an error).
func (s *Security) options(p *problems) server.AuthOptions {
	var o server.AuthOptions
	secret, err := readSecret(s.ClusterSecret, s.ClusterSecretFile)
	switch {
	case err != nil:
		p.add("security.cluster_secret", "%v", err)
	case secret != "" && len(secret) < auth.MinSecretLen:
		p.add("security.cluster_secret", "must be at least %d bytes, got %d", auth.MinSecretLen, len(secret))
	}
	o.ClusterSecret = secret
	if o.Anonymous, err = auth.ParsePerms(s.Anonymous); err != nil {
		p.add("security.anonymous", "%v", err)
	}
	seen := map[string]bool{}
	for i, k := range s.Keys {
		field := fmt.Sprintf("security.keys[%d]", i)
		if k.ID == "" {
			p.add(field+".id", "must not be empty")
		} else if len(k.ID) > auth.MaxKeyIDLen {
			p.add(field+".id", "must be at most %d bytes", auth.MaxKeyIDLen)
		} else if seen[k.ID] {
			p.add(field+".id", "%q used twice", k.ID)
		}
		seen[k.ID] = true
		ks, err := readSecret(k.Secret, k.SecretFile)
		switch {
		case err != nil:
			p.add(field+".secret", "%v", err)
		case len(ks) < auth.MinSecretLen:
			p.add(field+".secret", "must be at least %d bytes, got %d", auth.MinSecretLen, len(ks))
		}
		perms, err := auth.ParsePerms(k.Permissions)
		if err != nil {
			p.add(field+".permissions", "%v", err)
		}
		o.Keys = append(o.Keys, auth.Key{ID: k.ID, Secret: ks, Perms: perms})
	}
	return o
}

// redacted is s with its secrets replaced, for printing.
func (s Security) redacted() Security {
	if s.ClusterSecret != "" {
		s.ClusterSecret = "<redacted>"
	}
	keys := make([]SecurityKey, len(s.Keys))
	for i, k := range s.Keys {
		if k.Secret != "" {
			k.Secret = "<redacted>"
		}
		keys[i] = k
	}
	if s.Keys != nil {
		s.Keys = keys
	}
	return s
}

// AuthOptions returns the table as server.AuthOptions (secrets read from
// their files), or its problems.
func (s *Security) AuthOptions() (server.AuthOptions, error) {
	var p problems
	o := s.options(&p)
	return o, p.err()
}
