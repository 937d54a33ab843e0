// Command vakt is a privacy-aware web access-log pipeline: ingest →
// pseudonymise → store, over NATS JetStream into ClickHouse. This package
// only parses the command line and hands over to internal/app; each command
// registers itself from its own file (cmd_*.go), and cli.go builds the
// command tree (cobra, pflag) from the registry.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one vakt subcommand.
type command struct {
	name    string
	args    string // synopsis of the arguments, for the usage text
	summary string
	// long, if set, is the longer explanation --help shows above the
	// usage (default: the summary).
	long string
	// example is shown by --help: command lines, each with a comment
	// line ("# what it does") above it.
	example string
	// flags registers the command's own flags; the common ones are added.
	flags func(fs *flag.FlagSet, o *options)
	run   func(ctx context.Context, env *env) error
	// reportsConfig commands get an invalid configuration (in env.loadErr)
	// instead of failing before they run.
	reportsConfig bool
	// subcommand commands take a word first ("vakt salts status --format
	// json"); it reaches run as env.args[0]. The words listed at the start
	// of args ("status|rotate ...") become sub-commands of their own (for
	// help and completion); any other word still reaches run.
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

// errUsageShown is a command-line mistake whose usage text was printed
// already: exit status 2 and nothing more.
var errUsageShown = fmt.Errorf("%w: shown", errUsage)

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(longFlagsWithOneDash(root, args))
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return 0
	case errors.As(err, new(exitCoder)):
		// An answer with its own status, already written to stdout.
		var ec exitCoder
		errors.As(err, &ec)
		fmt.Fprintln(stderr, "vakt:", err)
		return ec.ExitCode()
	case errors.Is(err, errUsageShown):
		return 2
	case errors.Is(err, errUsage):
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		if !strings.HasPrefix(msg, "vakt ") {
			msg = "vakt: " + msg
		}
		fmt.Fprintln(stderr, msg)
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
	fs.StringVar(&c.configFile, "config", "", "configuration `FILE` (YAML, see configs/vakt.yaml)")
	fs.StringVar(&c.dataDir, "data-dir", "", "`DIR` holding the embedded engines' state (default ./data)")
	fs.StringVar(&c.natsURL, "nats-url", "", "external NATS `URL`; empty runs nats-server embedded")
	fs.StringVar(&c.clickhouseAddr, "clickhouse-addr", "", "external ClickHouse `host:port`, comma-separated; empty embeds the engine")
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
func (s *stringList) Type() string       { return "GLOB" }

// start runs cmd with the configuration the common flags and the
// command's options make.
func start(ctx context.Context, cmd *command, c *common, opts *options, args []string, stdout, stderr io.Writer) error {
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
	return cmd.run(ctx, &env{cfg: cfg, opts: opts, args: args, log: newLogger(cfg, stderr), stdout: stdout, stderr: stderr, loadErr: loadErr})
}
