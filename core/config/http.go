package config

import (
	"math"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/httpapi"
)

// Defaults and limits of the [http] table.
const (
	DefaultHTTPMaxBody     = Size(httpapi.DefaultMaxBody)
	DefaultHTTPMaxKey      = httpapi.DefaultMaxKey
	DefaultHTTPChunk       = Size(client.DefaultChunk)
	DefaultHTTPIdleTimeout = httpapi.DefaultIdleTimeout
	// MinHTTPChunk and MaxHTTPChunk bound chunk: smaller chunks cost a
	// request each for little data; bigger ones cost memory per request
	// and must fit in a frame.
	MinHTTPChunk = Size(4 * KiB)
	MaxHTTPChunk = Size(64 * MiB)
	// MaxHTTPMaxKey bounds max_key (the request headers must hold it).
	MaxHTTPMaxKey = 16 * KiB
)

// HTTP is the [http] table: the object API over plain HTTP (docs/http.md),
// served on a port of its own.
type HTTP struct {
	// Addr is the "host:port" of the API; port 0 picks a free port.
	// Default "" (off). The API has no authentication: bind it to a
	// private address or put a proxy that checks access in front.
	Addr string `toml:"addr"`
	// Groups are the replica groups of requests that name none with
	// ?groups=. Default [] (every group of the route table at the time of
	// the request).
	Groups []int64 `toml:"groups"`
	// MaxBody bounds a PUT body. Default "5GiB".
	MaxBody Size `toml:"max_body"`
	// MaxKey bounds the namespace and the key, each, in bytes, 1..16384.
	// Default 4096.
	MaxKey int `toml:"max_key"`
	// Chunk is the bytes per request of streamed bodies (about the memory
	// each transfer takes), 4KiB..64MiB and below node.max_payload.
	// Default "4MiB".
	Chunk Size `toml:"chunk"`
	// IdleTimeout bounds each chunk of a body read from or written to a
	// client: a stuck client is dropped, a slow steady one is not.
	// Default "1m".
	IdleTimeout Duration `toml:"idle_timeout"`
	// SpoolDir holds the temporary files of PUTs of unknown length (chunked
	// transfer encoding) bigger than a chunk. Default "" (the system's
	// temporary directory).
	SpoolDir string `toml:"spool_dir"`
	// TLS serves the API over HTTPS with the node's [tls] certificate
	// (needs [tls]; clients' certificates are not asked for). Default
	// false.
	TLS bool `toml:"tls"`
}

func defaultHTTP() HTTP {
	return HTTP{Groups: []int64{}, MaxBody: DefaultHTTPMaxBody, MaxKey: DefaultHTTPMaxKey, Chunk: DefaultHTTPChunk,
		IdleTimeout: Duration{DefaultHTTPIdleTimeout}}
}

// validate adds the problems of the [http] table to p.
func (h *HTTP) validate(p *problems, maxPayload Size) {
	if h.Addr != "" {
		if err := checkAddr(h.Addr, true); err != nil {
			p.add("http.addr", "%v", err)
		}
	}
	for i, g := range h.Groups {
		if g < 1 || g > math.MaxUint32 {
			p.add("http.groups", "group [%d] must be in 1..%d, got %d", i, uint32(math.MaxUint32), g)
		}
	}
	if h.MaxBody < 1 {
		p.add("http.max_body", "must be > 0, got %v", h.MaxBody)
	}
	if h.MaxKey < 1 || h.MaxKey > MaxHTTPMaxKey {
		p.add("http.max_key", "must be in 1..%d, got %d", MaxHTTPMaxKey, h.MaxKey)
	}
	switch {
	case h.Chunk < MinHTTPChunk || h.Chunk > MaxHTTPChunk:
		p.add("http.chunk", "must be between %v and %v, got %v", MinHTTPChunk, MaxHTTPChunk, h.Chunk)
	case h.Addr != "" && h.Chunk+64*KiB > maxPayload:
		// A chunk travels in one frame with its headers (checked only
		// when the API is on: the other keys are harmless when unused).
		p.add("http.chunk", "%v does not fit in a frame of node.max_payload %v", h.Chunk, maxPayload)
	}
	if h.IdleTimeout.Duration <= 0 {
		p.add("http.idle_timeout", "must be > 0, got %v", h.IdleTimeout)
	}
}

// HandlerOptions returns the options of the API's handler.
func (h *HTTP) HandlerOptions(logger *zap.Logger) httpapi.Options {
	o := httpapi.Options{MaxKey: h.MaxKey, MaxBody: int64(h.MaxBody), Chunk: int(h.Chunk),
		IdleTimeout: h.IdleTimeout.Duration, SpoolDir: h.SpoolDir, Logger: logger}
	for _, g := range h.Groups {
		o.Groups = append(o.Groups, uint32(g))
	}
	return o
}
