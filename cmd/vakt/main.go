// Command vakt is a privacy-aware web access-log pipeline: ingest →
// pseudonymise → store, over NATS JetStream into ClickHouse. This package
// only parses flags and hands over to internal/app; each command registers
// itself from its own file (cmd_*.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/vakt-dev/vakt/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one vakt subcommand.
type command struct {
	name    string
	args    string // synopsis of the arguments, for the usage text
	summary string
	// flags registers the command's own flags; the common ones are added.
	flags func(fs *flag.FlagSet, o *options)
	run   func(ctx context.Context, env *env) error
	// reportsConfig commands get an invalid configuration (in env.loadErr)
	// instead of failing before they run.
	reportsConfig bool
	// subcommand commands take a word first ("vakt salts status --format
	// json"); it reaches run as env.args[0], and flags may follow it.
	subcommand bool
}

// options holds every command-specific flag value.
type options struct {
	files  stringList
	site   string
	demo   bool
	format string
	// progress is --progress: auto, always or never.
	progress string
	extra    map[string]any // flags of commands that keep their own values
}

// env is what a command runs with.
type env struct {
	cfg            config.Config
	opts           *options
	args           []string
	log            *slog.Logger
	stdout, stderr io.Writer
	loadErr        error // the configuration's problems, for reportsConfig commands
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitCoder is an outcome with its own exit status.
type exitCoder interface{ ExitCode() int }

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprint(w, "vakt: privacy-aware web access-log pipeline\n\nUsage:\n")
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range commands {
			if !yield(n) {
				return
			}
		}
	}) {
		c := commands[name]
		fmt.Fprintf(w, "  vakt %-34s %s\n", c.name+" "+c.args, c.summary)
	}
	fmt.Fprint(w, `
Common flags (also: a YAML file with --config, and VAKT_* environment variables):
  --config FILE          configuration file (see configs/vakt.yaml)
  --data-dir DIR         state of the embedded engines (default ./data)
  --nats-url URL         external NATS; empty runs nats-server embedded
  --clickhouse-addr H:P  external ClickHouse (HTTP by default); empty embeds the engine
  --log-level LEVEL      debug, info, warn or error

Run "vakt COMMAND -h" for a command's own flags.
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, args[0], args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(exitCoder)):
		// An answer with its own status (vakt subject's Art. 11(2)
		// statement), already written to stdout.
		var ec exitCoder
		errors.As(err, &ec)
		fmt.Fprintln(stderr, "vakt:", err)
		return ec.ExitCode()
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "vakt:", strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	default:
		fmt.Fprintln(stderr, "vakt:", err)
		return 1
	}
}

// common holds the flags every command takes.
type common struct {
	configFile, dataDir, natsURL, clickhouseAddr, logLevel, logFormat string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "configuration file (YAML)")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory of the embedded engines (default ./data)")
	fs.StringVar(&c.natsURL, "nats-url", "", "external NATS URL; empty runs nats-server embedded")
	fs.StringVar(&c.clickhouseAddr, "clickhouse-addr", "", "external ClickHouse host:port, comma-separated; empty embeds the engine")
	fs.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "", "text or json")
}

// load builds the configuration: file, then environment, then flags.
func (c *common) load() (config.Config, error) {
	cfg, err := config.Load(c.configFile)
	if err != nil {
		return cfg, err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.DataDir, c.dataDir)
	set(&cfg.NATS.URL, c.natsURL)
	set(&cfg.Log.Level, c.logLevel)
	set(&cfg.Log.Format, c.logFormat)
	if c.clickhouseAddr != "" {
		cfg.ClickHouse.Addr = strings.Split(c.clickhouseAddr, ",")
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func dispatch(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cmd, ok := commands[name]
	if !ok {
		return fmt.Errorf("%w: unknown command %q (run vakt help)", errUsage, name)
	}
	fs := flag.NewFlagSet("vakt "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	opts := &options{extra: map[string]any{}}
	if cmd.flags != nil {
		cmd.flags(fs, opts)
	}
	var sub []string
	if cmd.subcommand && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[:1], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg, loadErr := c.load()
	if loadErr != nil && !cmd.reportsConfig {
		return loadErr
	}
	if len(opts.files) > 0 {
		cfg.Ingest.Files = opts.files
	}
	if opts.site != "" {
		cfg.Ingest.Site = opts.site
	}
	if opts.demo {
		cfg.Ingest.Demo = true
	}
	if !cmd.reportsConfig {
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	return cmd.run(ctx, &env{cfg: cfg, opts: opts, args: append(sub, fs.Args()...), log: newLogger(cfg, stderr), stdout: stdout, stderr: stderr, loadErr: loadErr})
}
