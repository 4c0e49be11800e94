package httpapi

import (
	"net/http"
	"testing"
)

// TestNewServerLimits: the API's server bounds slow and large request
// headers and idle connections (bodies are bounded per chunk instead).
func TestNewServerLimits(t *testing.T) {
	s := NewServer(http.NotFoundHandler(), nil)
	if s.ReadHeaderTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Fatalf("server without header/idle limits: %+v", s)
	}
}
