package s3

import (
	"fmt"
	"time"
)

// Config is the [s3] section a daemon's configuration can embed
// (a field S3 Config with the tag toml:"s3"); Options turns it into
// handler options.
//
//	[s3]
//	enabled = true
//	region = "us-east-1"
//	base_domain = "s3.example.com"   # virtual-host-style requests
//	max_object_size = 5368709120
//	max_requests = 128
//	[[s3.credentials]]
//	access_key = "AKID..."
//	secret_key = "..."
type Config struct {
	Enabled       bool         `toml:"enabled"`
	Region        string       `toml:"region"`
	BaseDomain    string       `toml:"base_domain"`
	Credentials   []Credential `toml:"credentials"`
	MaxObjectSize int64        `toml:"max_object_size"`
	MaxXMLBody    int64        `toml:"max_xml_body"`
	MaxParts      int          `toml:"max_parts"`
	MinPartSize   int64        `toml:"min_part_size"`
	MaxUploads    int          `toml:"max_uploads"`
	MaxRequests   int          `toml:"max_requests"`
	PageSize      int          `toml:"page_size"`
	Chunk         int          `toml:"chunk"`
}

// Credential is one access key and its secret.
type Credential struct {
	AccessKey string `toml:"access_key"`
	SecretKey string `toml:"secret_key"`
}

// Options checks the section and returns the handler's options (logf may
// be nil).
func (c Config) Options(logf func(string, ...any)) (Options, error) {
	o := Options{Region: c.Region, BaseDomain: c.BaseDomain, MaxObjectSize: c.MaxObjectSize,
		MaxXMLBody: c.MaxXMLBody, MaxParts: c.MaxParts, MinPartSize: c.MinPartSize, MaxUploads: c.MaxUploads,
		MaxRequests: c.MaxRequests, PageSize: c.PageSize, Chunk: c.Chunk, Logf: logf, Now: time.Now,
		Credentials: map[string]string{}}
	if len(c.Credentials) == 0 {
		return o, fmt.Errorf("s3: no [[s3.credentials]]: every request must be signed by one")
	}
	for i, cr := range c.Credentials {
		if cr.AccessKey == "" || cr.SecretKey == "" {
			return o, fmt.Errorf("s3: credentials %d: access_key and secret_key are both needed", i+1)
		}
		if _, dup := o.Credentials[cr.AccessKey]; dup {
			return o, fmt.Errorf("s3: access key %q is given twice", cr.AccessKey)
		}
		o.Credentials[cr.AccessKey] = cr.SecretKey
	}
	for name, v := range map[string]int64{"max_object_size": c.MaxObjectSize, "max_xml_body": c.MaxXMLBody,
		"max_parts": int64(c.MaxParts), "min_part_size": c.MinPartSize, "max_uploads": int64(c.MaxUploads),
		"max_requests": int64(c.MaxRequests), "page_size": int64(c.PageSize), "chunk": int64(c.Chunk)} {
		if v < 0 {
			return o, fmt.Errorf("s3: %s is negative (%d)", name, v)
		}
	}
	if c.MaxParts > 10000 {
		return o, fmt.Errorf("s3: max_parts %d is above S3's 10000", c.MaxParts)
	}
	return o, nil
}
