package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/config"
	"github.com/elliptics/elliptics/core/httpapi"
	"github.com/elliptics/elliptics/core/s3"
)

// firstJoinTimeout bounds the join attempt made before the API serves; later
// attempts run in the background.
const firstJoinTimeout = 5 * time.Second

// httpAPI is the object API's listener ([http] addr) and the client it
// reaches the cluster with.
type httpAPI struct {
	node     *client.Node
	srv      *http.Server
	ln       net.Listener
	served   chan struct{}
	stopJoin context.CancelFunc
}

// startHTTPAPI listens on cfg.HTTP.Addr and serves the API through a client
// of the nodes at remotes. The built-in API is a client of its own node
// like any other (the node's peer connections never dial the node itself),
// so a request for a key of another node goes straight there. The client
// joins in the background, retrying: a frontend may start before the
// cluster, and answers 503 until it has joined. local (nil for a frontend)
// is the node the API runs inside: it reads the keys it owns without the
// connection to itself.
func startHTTPAPI(cfg config.Config, remotes []string, local httpapi.LocalReader, logger *zap.Logger) (*httpAPI, error) {
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return nil, fmt.Errorf("http api: listen on %s: %w", cfg.HTTP.Addr, err)
	}
	log := logger.Named("http")
	dial, err := cfg.ClientDial() // [tls]: the cluster is reached with TLS
	if err != nil {
		ln.Close()
		return nil, err
	}
	// With [security], the API proves the cluster secret like the node's
	// own peer connections: it is part of the node (docs/security.md).
	sec, err := cfg.Security.AuthOptions()
	if err != nil {
		ln.Close()
		return nil, err
	}
	tc, err := cfg.HTTPConfig() // http.tls: HTTPS
	if err != nil {
		ln.Close()
		return nil, err
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	if sec.Enabled() {
		log.Warn("the HTTP API (/v1/) does not authenticate its requests: serve it only to trusted networks", zap.String("addr", cfg.HTTP.Addr))
	}
	node := client.NewNode(client.Config{Name: "ellipticsd http api", Logger: log.Named("client"),
		WaitTimeout: cfg.Node.RequestTimeout.Duration, MaxPayload: uint64(cfg.Node.MaxPayload), Dial: dial,
		Auth: client.AuthConfig{ClusterSecret: sec.ClusterSecret}})
	// Requests outside /v1/ go to the S3 handler, when enabled.
	opts := cfg.HTTP.HandlerOptions(log)
	opts.Local = local
	if cfg.S3.Enabled {
		so, err := cfg.S3.Options(log.Named("s3").Sugar().Infof)
		if err != nil {
			ln.Close()
			return nil, err
		}
		opts.Fallback = s3.New(client.NewSession(node), so)
	}
	h := httpapi.New(client.NewSession(node), opts)
	a := &httpAPI{node: node, srv: httpapi.NewServer(h, zap.NewStdLog(log)), ln: ln, served: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopJoin = cancel
	// A first attempt before serving: a reachable cluster (the node itself
	// for the built-in API) is known before the first request.
	jctx, jcancel := context.WithTimeout(ctx, firstJoinTimeout)
	err = node.AddRemotes(jctx, remotes...)
	jcancel()
	if err == nil {
		log.Info("http api joined the cluster", zap.Strings("remotes", remotes))
	} else {
		go a.join(ctx, remotes, log)
	}
	go func() {
		defer close(a.served)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http api stopped", zap.Error(err))
		}
	}()
	log.Info("http api listening", zap.String("address", ln.Addr().String()), zap.Strings("remotes", remotes))
	return a, nil
}

// join connects the API's client to remotes, retrying until one answers.
func (a *httpAPI) join(ctx context.Context, remotes []string, log *zap.Logger) {
	delay := 100 * time.Millisecond
	for {
		jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.node.AddRemotes(jctx, remotes...)
		cancel()
		if err == nil {
			log.Info("http api joined the cluster", zap.Strings("remotes", remotes))
			return
		}
		log.Warn("http api: no remote reachable yet, retrying", zap.Strings("remotes", remotes),
			zap.Error(err), zap.Duration("retry_in", delay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// Addr is the address the API listens on.
func (a *httpAPI) Addr() net.Addr { return a.ln.Addr() }

// stop lets requests in flight finish until ctx ends, then closes their
// connections and the client.
func (a *httpAPI) stop(ctx context.Context) {
	a.stopJoin()
	if err := a.srv.Shutdown(ctx); err != nil {
		_ = a.srv.Close()
	}
	<-a.served
	_ = a.node.Close()
}

// selfAddrs are the addresses the built-in API dials its own node at: the
// listeners, with an unspecified host ("0.0.0.0", "::") made loopback.
func selfAddrs(addrs []net.Addr) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a.String())
		if err != nil {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
			if ip.To4() == nil {
				host = "::1"
			}
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out
}

// httpScheme is the scheme of the API's URL.
func httpScheme(cfg config.Config) string {
	if cfg.HTTP.TLS {
		return "https"
	}
	return "http"
}
