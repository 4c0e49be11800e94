package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/elliptics/elliptics/core/config"
	"github.com/elliptics/elliptics/core/proto"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module's build information.
var version = "dev"

func init() {
	if version != "dev" {
		return
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
}

func versionString() string {
	return fmt.Sprintf("ellipticsd %s (protocol %d.%d, %s)", version, proto.VersionMajor, proto.VersionMinor, runtime.Version())
}

var errHelp = flag.ErrHelp

// flags are the parsed command line.
type flags struct {
	configPath  string
	listen      listFlag
	group       int64
	logLevel    string
	dataDir     string
	httpAddr    string
	httpAPI     string
	remotes     listFlag
	frontend    bool
	version     bool
	printConfig bool
	cpuProfile  string
	// set holds the names of the flags given, so that an override applies
	// only when asked for (even to an empty value).
	set map[string]bool
}

func newFlagSet(f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet("ellipticsd", flag.ContinueOnError)
	fs.StringVar(&f.configPath, "config", "", "read the node configuration from this TOML `file` (default: built-in defaults)")
	fs.Var(&f.listen, "listen", "listen on `host:port` instead of node.listen (repeatable or comma-separated; port 0 picks a free port)")
	fs.Int64Var(&f.group, "group", 0, "put the node's backend in replica group `N` (only with a single backend)")
	fs.StringVar(&f.logLevel, "log-level", "", "log `level`: debug, info, warn or error (overrides node.log_level)")
	fs.StringVar(&f.dataDir, "data-dir", "", "root `directory` of the backends' data (overrides node.data_dir)")
	fs.StringVar(&f.httpAddr, "http", "", "serve /metrics, the statistics JSON and the status page on `host:port` (overrides monitor.http_addr; \"\" turns it off)")
	fs.StringVar(&f.httpAPI, "http-api", "", "serve the object API over HTTP (docs/http.md) on `host:port` (overrides http.addr; \"\" turns it off)")
	fs.Var(&f.remotes, "remote", "join the cluster through the node at `host:port` (overrides node.remotes; repeatable or comma-separated)")
	fs.BoolVar(&f.frontend, "frontend", false, "run a stateless HTTP frontend: no backends, the object API (--http-api) served from the cluster at --remote")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.BoolVar(&f.printConfig, "print-config", false, "print the effective configuration as TOML and exit")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `file` (go tool pprof)")
	return fs
}

// parseFlags parses the command line; it returns errHelp for -h.
func parseFlags(args []string) (*flags, error) {
	f := &flags{set: map[string]bool{}}
	fs := newFlagSet(f)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return f, nil
}

func usage() string {
	var b strings.Builder
	b.WriteString("Usage: ellipticsd [flags]\n\nRuns an elliptics storage node. Without --config it listens on " +
		config.DefaultListen + "\nwith one blob backend of group 1 in ./var/backend-0.\n\nFlags:\n")
	fs := newFlagSet(&flags{})
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

// configName describes where the configuration came from, for logs.
func configName(f *flags) string {
	if f.configPath == "" {
		return "built-in defaults"
	}
	return f.configPath
}

// loadConfig reads the configuration file (or takes the defaults), applies
// the command-line overrides and validates the result.
func loadConfig(f *flags) (config.Config, error) {
	cfg := config.Default()
	if f.configPath != "" {
		var err error
		if cfg, err = config.Load(f.configPath); err != nil {
			return config.Config{}, err
		}
	}
	if err := applyFlags(&cfg, f); err != nil {
		return config.Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		if f.overrides() {
			err = fmt.Errorf("%w (after command-line overrides)", err)
		}
		return config.Config{}, err
	}
	return cfg, nil
}

// overrides reports whether any flag overrides a configuration key.
func (f *flags) overrides() bool {
	return f.set["listen"] || f.set["group"] || f.set["log-level"] || f.set["data-dir"] || f.set["http"] ||
		f.set["http-api"] || f.set["remote"]
}

// applyFlags overrides the configuration with the flags given.
func applyFlags(cfg *config.Config, f *flags) error {
	if f.set["listen"] {
		cfg.Node.Listen = append([]string(nil), f.listen...)
	}
	if f.set["group"] {
		if len(cfg.Backends) != 1 {
			return fmt.Errorf("--group: the configuration has %d backends; set each one's group in the configuration file", len(cfg.Backends))
		}
		cfg.Backends[0].Group = f.group
	}
	if f.set["log-level"] {
		cfg.Node.LogLevel = f.logLevel
	}
	if f.set["data-dir"] {
		cfg.Node.DataDir = f.dataDir
	}
	if f.set["http"] {
		cfg.Monitor.HTTPAddr = f.httpAddr
	}
	if f.set["http-api"] {
		cfg.HTTP.Addr = f.httpAPI
	}
	if f.set["remote"] {
		cfg.Node.Remotes = append([]string(nil), f.remotes...)
	}
	if f.frontend {
		if cfg.HTTP.Addr == "" {
			return errors.New("--frontend needs the API's address: --http-api host:port (or http.addr)")
		}
		if len(cfg.Node.Remotes) == 0 {
			return errors.New("--frontend needs a node of the cluster: --remote host:port (or node.remotes)")
		}
	}
	return nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return errors.New("empty address in " + strconv.Quote(s))
		}
		*l = append(*l, part)
	}
	return nil
}
