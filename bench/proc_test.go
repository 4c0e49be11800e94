package bench

import (
	"testing"
)

func TestParseReady(t *testing.T) {
	for _, tc := range []struct {
		line, addr string
		ok         bool
	}{
		{"ellipticsd listening on 127.0.0.1:40123", "127.0.0.1:40123", true},
		{"ellipticsd listening on 127.0.0.1:1,[::1]:2", "127.0.0.1:1", true},
		{"ellipticsd listening on 127.0.0.1:1 \r", "127.0.0.1:1", true},
		{"ellipticsd listening on ", "", false},
		{"something else", "", false},
	} {
		addr, ok := ParseReady(tc.line, "ellipticsd listening on ")
		if addr != tc.addr || ok != tc.ok {
			t.Errorf("parseReady(%q) = %q, %v; want %q, %v", tc.line, addr, ok, tc.addr, tc.ok)
		}
	}
}
