// Command vakt is a privacy-aware web access-log pipeline: ingest →
// pseudonymise → store, over NATS JetStream into ClickHouse. This file only
// parses flags and hands over to internal/app.
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
	"strings"
	"syscall"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/config"
)

const usage = `vakt: privacy-aware web access-log pipeline

Usage:
  vakt run          [flags]            run every stage (embedded NATS and ClickHouse by default)
  vakt import       [flags] FILE...    push whole log files through the pipeline, then exit
  vakt sql          [flags] "SQL"      run SQL on the store
  vakt ingest       [flags]            run the ingest stage alone
  vakt pseudonymize [flags]            run the pseudonymise stage alone
  vakt store        [flags]            run the store stage alone
  vakt version

Common flags (also: a YAML file with --config, and VAKT_* environment variables):
  --config FILE          configuration file (see configs/vakt.yaml)
  --data-dir DIR         state of the embedded engines (default ./data)
  --nats-url URL         external NATS; empty runs nats-server embedded
  --clickhouse-addr H:P  external ClickHouse (native protocol); empty runs the engine embedded
  --log-level LEVEL      debug, info, warn or error

Run "vakt COMMAND -h" for a command's own flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, args[0], args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
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
	return cfg, cfg.Validate()
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

func dispatch(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vakt "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	var (
		files  stringList
		site   string
		demo   bool
		format string
	)
	switch cmd {
	case "run", "ingest":
		fs.Var(&files, "file", "log file or glob to follow (repeatable)")
		fs.StringVar(&site, "site", "", "site label for the files' events")
		fs.BoolVar(&demo, "demo", false, "feed generated demo traffic")
	case "import":
		fs.StringVar(&site, "site", "", "site label for the files' events")
	case "sql":
		fs.StringVar(&format, "format", app.FormatTable, "output: table, json (one object per line), csv or tsv (TabSeparated, no header)")
	case "pseudonymize", "store":
	case "version":
		fmt.Fprintln(stdout, "vakt", version)
		return nil
	default:
		return fmt.Errorf("%w: unknown command %q (run vakt help)", errUsage, cmd)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if len(files) > 0 {
		cfg.Ingest.Files = files
	}
	if site != "" {
		cfg.Ingest.Site = site
	}
	if demo {
		cfg.Ingest.Demo = true
	}
	log := newLogger(cfg, stderr)

	switch cmd {
	case "run":
		return app.Run(ctx, cfg, log, stdout)
	case "ingest", "pseudonymize", "store":
		return app.RunStage(ctx, cfg, cmd, log)
	case "import":
		if fs.NArg() == 0 {
			return fmt.Errorf("%w: vakt import needs at least one FILE", errUsage)
		}
		sum, err := app.Import(ctx, cfg, fs.Args(), log)
		sum.Print(stdout)
		return err
	case "sql":
		if fs.NArg() != 1 {
			return fmt.Errorf("%w: vakt sql needs exactly one SQL argument (quote it)", errUsage)
		}
		return app.SQLCommand(ctx, cfg, fs.Arg(0), format, log, stdout)
	}
	return nil
}
