package s3

import (
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/stretchr/testify/require"
)

func TestConfigOptions(t *testing.T) {
	var c struct {
		S3 Config `toml:"s3"`
	}
	require.NoError(t, toml.Unmarshal([]byte(`
[s3]
enabled = true
base_domain = "s3.example.com"
max_requests = 16
[[s3.credentials]]
access_key = "AK1"
secret_key = "SK1"
[[s3.credentials]]
access_key = "AK2"
secret_key = "SK2"
`), &c))
	require.True(t, c.S3.Enabled)
	o, err := c.S3.Options(nil)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"AK1": "SK1", "AK2": "SK2"}, o.Credentials)
	require.Equal(t, 16, o.MaxRequests)
	require.Equal(t, "s3.example.com", o.BaseDomain)

	_, err = Config{}.Options(nil)
	require.ErrorContains(t, err, "credentials")
	_, err = Config{Credentials: []Credential{{AccessKey: "a", SecretKey: "b"}, {AccessKey: "a", SecretKey: "c"}}}.Options(nil)
	require.ErrorContains(t, err, "twice")
	_, err = Config{Credentials: []Credential{{AccessKey: "a", SecretKey: "b"}}, MaxParts: 20000}.Options(nil)
	require.ErrorContains(t, err, "max_parts")
}
