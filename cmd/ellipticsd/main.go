// Command ellipticsd runs an elliptics storage node.
//
//	ellipticsd                          # 127.0.0.1:1025, one blob backend of group 1 in ./var/backend-0
//	ellipticsd --config node.toml       # see docs/node.example.toml
//	ellipticsd --listen 127.0.0.1:0     # any free port
//	ellipticsd --http-api :8080         # and the object API over HTTP (docs/http.md)
//	ellipticsd --frontend --remote node1:1025 --http-api :8080
//	                                    # a stateless HTTP frontend, no backends
//
// Once listening it prints "ellipticsd listening on ADDR[,ADDR...]" to
// standard output (a frontend: its HTTP address); logs go to standard error. SIGINT or SIGTERM stops the
// node: in-flight requests finish (up to node.shutdown_timeout; a second
// signal cuts the wait short), then connections and backends are closed.
// SIGHUP is logged and otherwise ignored.
//
// Exit status: 0 after a clean stop, 1 on a runtime failure (listening,
// opening a backend, an unclean stop), 2 on a bad flag or configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/elliptics/elliptics/core/config"
	"github.com/elliptics/elliptics/core/httpapi"
	"github.com/elliptics/elliptics/core/script"
	"github.com/elliptics/elliptics/core/server"
)

// scriptWorkerArg makes ellipticsd a script worker (script.WorkerMain).
const scriptWorkerArg = "script-worker"

// Exit statuses.
const (
	exitOK      = 0
	exitRuntime = 1
	exitConfig  = 2
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, sigs))
}

// run is the whole daemon; it returns the exit status.
func run(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	if len(args) == 1 && args[0] == scriptWorkerArg {
		// A script worker of a node with [script] isolation = "process":
		// it serves calls on its standard input and output.
		if err := script.WorkerMain(os.Stdin, os.Stdout); err != nil {
			return fail(stderr, exitRuntime, err)
		}
		return exitOK
	}
	f, err := parseFlags(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	if err != nil {
		return fail(stderr, exitConfig, fmt.Errorf("%w (see ellipticsd -h)", err))
	}
	if f.version {
		fmt.Fprintln(stdout, versionString())
		return exitOK
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return fail(stderr, exitConfig, err)
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return fail(stderr, exitConfig, fmt.Errorf("cpu profile: %w", err))
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			pf.Close()
			return fail(stderr, exitConfig, fmt.Errorf("cpu profile: %w", err))
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	if f.printConfig {
		out, err := cfg.Marshal()
		if err != nil {
			return fail(stderr, exitRuntime, err)
		}
		fmt.Fprintf(stdout, "# effective configuration of %s\n%s", versionString(), out)
		return exitOK
	}
	logger := newLogger(cfg.Node, stderr)
	defer logger.Sync() //nolint:errcheck // nothing to do if stderr cannot sync
	logger.Info("ellipticsd starting", zap.String("version", version), zap.String("config", configName(f)),
		zap.Int("pid", os.Getpid()), zap.Int("backends", len(cfg.Backends)))
	serveFn := serve
	if f.frontend {
		serveFn = serveFrontend
	}
	if err := serveFn(cfg, logger, stdout, sigs); err != nil {
		logger.Error("ellipticsd failed", zap.Error(err))
		return fail(stderr, exitRuntime, err)
	}
	return exitOK
}

// fail prints err as the daemon's one-line error and returns code.
func fail(stderr io.Writer, code int, err error) int {
	fmt.Fprintf(stderr, "ellipticsd: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	return code
}

// serve runs the node until SIGINT or SIGTERM.
func serve(cfg config.Config, logger *zap.Logger, stdout io.Writer, sigs <-chan os.Signal) error {
	opts, err := cfg.ServerOptions(logger)
	if err != nil {
		return err
	}
	opts.Monitor.Version = version
	if cfg.Script.Isolation == "process" {
		exe, err := os.Executable()
		if err != nil {
			closeBackends(opts)
			return fmt.Errorf("script workers: find ellipticsd: %w", err)
		}
		opts.Script.Workers = []string{exe, scriptWorkerArg}
	}
	srv, err := server.New(opts)
	if err != nil {
		closeBackends(opts)
		return err
	}
	if err := srv.Start(); err != nil {
		closeBackends(opts)
		return err
	}
	// The API is up before the node says it listens: whoever waits for
	// that line may use the API at once.
	var api *httpAPI
	if cfg.HTTP.Addr != "" {
		if api, err = startHTTPAPI(cfg, selfAddrs(srv.Addrs()), srv, logger); err != nil {
			_ = srv.Shutdown(context.Background())
			return err
		}
	}
	addrs := make([]string, 0, len(srv.Addrs()))
	for _, a := range srv.Addrs() {
		addrs = append(addrs, a.String())
	}
	fmt.Fprintf(stdout, "ellipticsd listening on %s\n", strings.Join(addrs, ","))
	if a := srv.HTTPAddr(); a != nil {
		fmt.Fprintf(stdout, "ellipticsd monitor on http://%s/metrics\n", a)
		fmt.Fprintf(stdout, "ellipticsd status page on http://%s/\n", a)
	}
	if api != nil {
		fmt.Fprintf(stdout, "ellipticsd http api on %s://%s%s\n", httpScheme(cfg), api.Addr(), httpapi.Prefix)
	}

	ctx, cancel := stopContext(cfg, sigs, logger)
	defer cancel()
	if api != nil {
		api.stop(ctx)
	}
	return srv.Shutdown(ctx)
}

// serveFrontend runs a stateless HTTP frontend: the object API on
// http.addr, served from the cluster at node.remotes, until SIGINT or
// SIGTERM.
func serveFrontend(cfg config.Config, logger *zap.Logger, stdout io.Writer, sigs <-chan os.Signal) error {
	api, err := startHTTPAPI(cfg, cfg.Node.Remotes, nil, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ellipticsd listening on %s\n", api.Addr())
	fmt.Fprintf(stdout, "ellipticsd http api on %s://%s%s\n", httpScheme(cfg), api.Addr(), httpapi.Prefix)
	ctx, cancel := stopContext(cfg, sigs, logger)
	defer cancel()
	api.stop(ctx)
	return nil
}

// stopContext waits for the first SIGINT or SIGTERM and returns the
// context of the shutdown: node.shutdown_timeout, cut short by a second
// signal.
func stopContext(cfg config.Config, sigs <-chan os.Signal, logger *zap.Logger) (context.Context, context.CancelFunc) {
	sig := waitForStop(sigs, logger)
	logger.Info("stopping", zap.String("signal", sig.String()),
		zap.Duration("shutdown_timeout", cfg.Node.ShutdownTimeout.Duration))
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Node.ShutdownTimeout.Duration)
	go func() {
		// A second SIGINT or SIGTERM stops waiting for in-flight requests.
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s != syscall.SIGHUP {
					logger.Warn("second signal: not waiting for in-flight requests", zap.String("signal", s.String()))
					cancel()
					return
				}
			}
		}
	}()
	return ctx, cancel
}

// waitForStop returns the first SIGINT or SIGTERM, logging SIGHUPs.
func waitForStop(sigs <-chan os.Signal, logger *zap.Logger) os.Signal {
	for s := range sigs {
		if s == syscall.SIGHUP {
			logger.Info("SIGHUP ignored: configuration reload is not supported yet")
			continue
		}
		return s
	}
	return syscall.SIGTERM // the channel was closed
}

func closeBackends(opts server.Options) {
	for _, b := range opts.Backends {
		if b.Backend != nil {
			_ = b.Backend.Close()
		}
	}
}
