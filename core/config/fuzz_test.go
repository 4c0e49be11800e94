package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad parses arbitrary config files: any input gives a Config or an
// error, never a panic, and a config that parses survives Marshal and Parse.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.toml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("[node]\nmax_payload = \"1GiB\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("marshal of a valid config: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("re-parse of a marshalled valid config: %v\n%s", err, out)
		}
	})
}
