package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/route"
	"github.com/elliptics/elliptics/core/stats"
	"github.com/elliptics/elliptics/core/statuspage"
)

// Timeouts of the monitor's HTTP server: a scrape is small, so a client
// that takes longer is stuck or hostile, and must not hold a goroutine.
const (
	httpReadTimeout  = 10 * time.Second
	httpWriteTimeout = 30 * time.Second
	httpIdleTimeout  = 60 * time.Second
	// httpMaxHeaderBytes bounds a monitor request's headers (scrapers and
	// browsers send a few hundred bytes).
	httpMaxHeaderBytes = 16 << 10
)

// listenHTTP opens the listener of the node's statistics on
// Options.Monitor.HTTPAddr (monitorHandler: /metrics, the MONITOR_STAT
// JSON, the status page), so that a taken port fails Start; serveHTTP serves it once the
// node is up. It listens on TCP even when the node's transport is another
// one: scrapers speak TCP.
func (s *Server) listenHTTP() error {
	addr := s.opts.Monitor.HTTPAddr
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: monitor: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.monitorHandler(),
		ReadHeaderTimeout: httpReadTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	s.http, s.httpLn = srv, ln
	return nil
}

// monitorHandler serves stats.Handler (/metrics, the MONITOR_STAT JSON),
// the status page (statuspage: /status/...) and, with Monitor.Pprof,
// net/http/pprof (/debug/pprof/). GET / is the page for a
// browser (statuspage.WantsHTML) and the JSON for everyone else.
func (s *Server) monitorHandler() http.Handler {
	page := statuspage.New(statuspage.Config{
		Self:  s.address,
		Table: s.statusTable,
		Local: s.MonitorStat,
		Peers: func() *client.Node { return s.cluster.peers },
		// A node that does not answer within the timeout is shown as
		// unreachable; the page polls every 2 s.
		Timeout: min(s.opts.RequestTimeout, statuspage.DefaultTimeout),
	})
	js := stats.Handler(s.MonitorStat)
	mux := http.NewServeMux()
	page.Register(mux)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if statuspage.WantsHTML(r) {
			page.ServeIndex(w, r)
			return
		}
		js.ServeHTTP(w, r)
	})
	mux.Handle("/", js)
	if s.opts.Monitor.Pprof {
		// /debug/pprof/profile?seconds=N must end within httpWriteTimeout.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// statusTable is the node's route table once the cluster machinery runs
// (the monitor's listener opens before it), nil before.
func (s *Server) statusTable() *route.Table {
	if s.cluster.peers == nil {
		return nil
	}
	return s.Table()
}

// serveHTTP starts serving the listener of listenHTTP, if any. It runs
// after the node's cluster state is set up, which the statistics read.
func (s *Server) serveHTTP() {
	s.mu.Lock()
	srv, ln := s.http, s.httpLn
	s.mu.Unlock()
	if srv == nil {
		return
	}
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("monitor HTTP server stopped", zap.Error(err))
		}
	}()
	s.log.Info("monitor listening", zap.String("address", ln.Addr().String()))
}

// HTTPAddr is the address the monitor's HTTP server listens on, nil if
// it has none.
func (s *Server) HTTPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// stopHTTP stops the monitor's HTTP server: requests in flight get until
// ctx ends (at most the shutdown timeout), then their connections are
// closed.
func (s *Server) stopHTTP(ctx context.Context) {
	s.mu.Lock()
	srv, ln := s.http, s.httpLn
	s.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	// After Shutdown, so a running Serve ends with ErrServerClosed rather
	// than an error about its listener; this closes it if Serve never ran.
	_ = ln.Close()
}
