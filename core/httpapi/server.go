package httpapi

import (
	"log"
	"net/http"
	"time"
)

// Timeouts of the listener NewServer builds. There is no whole-request
// read or write timeout: a multi-GiB body takes as long as it takes, and
// the handler bounds each chunk instead (Options.IdleTimeout).
const (
	// ReadHeaderTimeout bounds the request line and headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout bounds a kept-alive connection between requests.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes bounds the request headers (a key of DefaultMaxKey
	// bytes, escaped, fits).
	MaxHeaderBytes = 64 << 10
)

// NewServer returns an http.Server for h with the timeouts above; errLog
// (may be nil) gets the server's own errors.
func NewServer(h http.Handler, errLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          errLog,
	}
}
