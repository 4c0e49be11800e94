package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// Credentials of nodes that authenticate (docs/security.md).
const (
	envKeyID     = "ELLIPTICS_KEY_ID"
	envKeySecret = "ELLIPTICS_KEY_SECRET"
)

// authFlags are --key-id and --key-secret-file.
type authFlags struct {
	keyID      string
	secretFile string
	resolved   client.AuthConfig
}

func (a *authFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.keyID, "key-id", "", "client key `ID` for nodes that authenticate (default $"+envKeyID+")")
	fs.StringVar(&a.secretFile, "key-secret-file", "", "`FILE` holding the secret of --key-id (default: the secret in $"+envKeySecret+")")
}

// resolve reads the key's secret once the flags are parsed.
func (c *cli) resolveAuth() error {
	a := &c.g.auth
	id := a.keyID
	if id == "" {
		id, _ = c.lookupEnv(envKeyID)
	}
	var secret string
	switch {
	case a.secretFile != "":
		b, err := os.ReadFile(a.secretFile)
		if err != nil {
			return usageErrorf("--key-secret-file: %v", err)
		}
		secret = strings.TrimRight(string(b), "\r\n")
	default:
		secret, _ = c.lookupEnv(envKeySecret)
	}
	switch {
	case id == "" && a.secretFile != "":
		return usageErrorf("--key-secret-file needs --key-id")
	case id != "" && secret == "":
		return usageErrorf("--key-id %s needs its secret: --key-secret-file FILE or $%s", id, envKeySecret)
	}
	if id != "" {
		a.resolved = client.AuthConfig{KeyID: id, KeySecret: secret}
	}
	return nil
}

// notPermitted rewrites a refused connection as a plain "not permitted".
func notPermitted(addrs []string, err error) error {
	if !errors.Is(err, status.ErrNotPermitted) {
		return nil
	}
	why := strings.TrimPrefix(err.Error(), "no remote reachable: ")
	return &cliError{code: exitFailed, msg: fmt.Sprintf("not permitted by %s (give --key-id and --key-secret-file of a key it knows): %s",
		strings.Join(addrs, ", "), why)}
}
