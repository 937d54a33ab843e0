package ingest

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/vakt-dev/vakt/internal/configkit"
)

// Defaults of Config.
const (
	DefaultSite          = "default"
	DefaultBatchLines    = 1000
	DefaultBatchBytes    = 1 << 20
	DefaultMaxInFlight   = 64
	DefaultMaxAge        = 30 * 24 * time.Hour
	DefaultMaxFuture     = time.Hour
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultDemoRate      = 50
	DefaultDrainTimeout  = 10 * time.Second
	DefaultDemoClients   = 500

	// DemoSite is the site demo lines are published under.
	DemoSite = "demo"
)

// Config configures an Ingest: it is the `ingest` section of the
// configuration file, and each yaml tag is the key. Fields tagged "-" are
// decided by the command (Follow), or come from other sections (MaxAge
// from retention.requests, DrainTimeout from shutdown_timeout). Zero
// values select the defaults.
type Config struct {
	// Files are log file paths or glob patterns. An import expands them
	// once; Follow expands them again every FlushInterval, so files that
	// appear later (a new log, a rotated one) are picked up.
	Files []string `yaml:"files"`
	// Site is the site (virtual host) the lines belong to (default
	// "default"), and the default site of Sources.
	Site string `yaml:"site"`
	// Sources are further groups of files, each with its own site (and
	// format). Files and Site are a shorthand for one source.
	Sources []Source `yaml:"sources"`
	// Follow tails the files as `vakt run` does, until the context ends,
	// through rotation by rename and by copytruncate, with checkpoints in
	// the KV bucket bus.CheckpointBucket (see file_follow.go and file_checkpoint.go).
	// Without it, Run imports: it reads every file to its end, waits until
	// every batch is acknowledged and returns.
	Follow bool `yaml:"-"`
	// FromStart makes Follow read the files that exist when a source is
	// first followed from their beginning, instead of only lines appended
	// later. Files that appear afterwards are always read whole, and a
	// restart resumes every file at its checkpoint.
	FromStart bool `yaml:"from_start"`

	// BatchLines and BatchBytes bound one NATS message (defaults 1000 and
	// 1 MiB; BatchBytes is also capped by the server's max_payload).
	BatchLines int `yaml:"batch_lines"`
	BatchBytes int `yaml:"batch_bytes"`
	// MaxInFlight bounds the batches published but not yet acknowledged
	// (default 64). When it is reached, reading waits: that, with retrying
	// rejected publishes, is the backpressure from a full RAW stream.
	MaxInFlight int `yaml:"max_in_flight"`
	// WhenFull is what a batch the full RAW stream refuses gets: WhenFullWait
	// (the default) retries it, so reading slows down and the log is the
	// buffer; WhenFullDrop drops it at once, counted in Stats.Dropped and
	// vakt_dropped_total, for sources whose latency matters more than
	// completeness (a syslog sender cannot be slowed down).
	WhenFull string `yaml:"when_full"`
	// FlushInterval is how often Follow polls the files and the longest a
	// partial batch waits before it is published (default 200ms).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// DrainTimeout bounds how long Run keeps publishing buffered batches
	// after its context ends (default 10s).
	DrainTimeout time.Duration `yaml:"-"`

	// MaxAge rejects lines older than now-MaxAge as past_retention: they
	// would be stored only to expire at once. Keep it equal to the
	// retention of request rows (default 30 days).
	MaxAge time.Duration `yaml:"-"`
	// MaxFuture rejects lines stamped later than now+MaxFuture as
	// future_timestamp (default 1h; clocks and time zones go wrong).
	MaxFuture time.Duration `yaml:"max_future"`

	// Format is the log format of Files (see logformat.New: combined,
	// vhost_combined, main, nginx_json, caddy, or an nginx log_format
	// string); empty detects it per file and logs what it found.
	Format string `yaml:"format"`
	// SiteFrom is "config" (default: every line gets Site) or "host":
	// a line's request host ($host, %v, JSON host) is its site.
	SiteFrom string `yaml:"site_from"`
	// Syslog receives access-log lines over syslog (UDP and TCP) while
	// following; see SyslogConfig.
	Syslog SyslogConfig `yaml:"syslog"`

	// Demo adds a source of generated traffic (internal/loggen) with
	// current timestamps under site "demo", through the same parse and
	// publish path as files. It runs until the context ends.
	Demo bool `yaml:"demo"`
	// DemoRate is the demo's lines per second (default 50).
	DemoRate float64 `yaml:"demo_rate"`
	// DemoClients is the number of distinct demo clients (default 500).
	DemoClients int `yaml:"demo_clients"`
}

// WhenFull policies.
const (
	WhenFullWait = "wait"
	WhenFullDrop = "drop"
)

// Defaults returns the documented defaults: the one place they are set.
func Defaults() Config {
	return Config{
		Site:          DefaultSite,
		BatchLines:    DefaultBatchLines,
		BatchBytes:    DefaultBatchBytes,
		MaxInFlight:   DefaultMaxInFlight,
		WhenFull:      WhenFullWait,
		FlushInterval: DefaultFlushInterval,
		DrainTimeout:  DefaultDrainTimeout,
		MaxAge:        DefaultMaxAge,
		MaxFuture:     DefaultMaxFuture,
		Syslog:        SyslogConfig{IdleTimeout: DefaultSyslogIdleTimeout, MaxConnections: DefaultSyslogMaxConnections},
		DemoRate:      DefaultDemoRate,
		DemoClients:   DefaultDemoClients,
	}
}

// WithDefaults returns c with zero values replaced by the defaults.
func (c Config) WithDefaults() Config {
	configkit.FillZero(&c, Defaults())
	return c
}

// HasSource reports whether c reads anything: files, sources, the demo or
// syslog.
func (c Config) HasSource() bool {
	return len(c.Files) > 0 || len(c.Sources) > 0 || c.Demo || c.Syslog.Enabled()
}

// Validate checks c, with its defaults applied, without touching the file
// system: the keys' Problems, then what a run needs (something to read,
// follow for from_start). Errors name the key and say what to do.
func (c Config) Validate() error {
	errs := []error{c.WithDefaults().Problems().Err("ingest")}
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ingest: %s: "+format, append([]any{key}, args...)...))
	}
	if !c.HasSource() {
		bad("files", "no log files given; list paths or glob patterns, or enable demo")
	}
	if c.FromStart && !c.Follow {
		bad("from_start", "only applies with follow; an import always reads whole files")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"drain_timeout", c.DrainTimeout}, {"max_age", c.MaxAge}} {
		if d.v < 0 {
			bad(d.key, "must be a positive duration such as 1h, or 0 for the default (got %v)", d.v)
		}
	}
	return errors.Join(errs...)
}

// Problems lists every invalid key of the ingest section, as written (a
// zero is not replaced by its default here).
func (c Config) Problems() configkit.Problems {
	var ps configkit.Problems
	ps = append(ps, fileProblems("ingest.files", c.Files)...)
	if c.Site == "" {
		ps.Add("ingest.site", "is empty", "name the site of the files' events, e.g. default")
	}
	ps = append(ps, c.sourceProblems()...)
	if err := checkFormat(c.Format); err != nil {
		ps.Add("ingest.format", err.Error(), "use combined, vhost_combined, main, nginx_json, caddy or an nginx log_format string, or leave it empty to detect it")
	}
	switch c.SiteFrom {
	case "", SiteFromConfig, SiteFromHost:
	default:
		ps.Add("ingest.site_from", fmt.Sprintf("%q is not a source of site names", c.SiteFrom), "files take their site from config (the default) or host (the request's host)")
	}
	switch c.WhenFull {
	case WhenFullWait, WhenFullDrop:
	default:
		ps.Add("ingest.when_full", fmt.Sprintf("%q is not a policy", c.WhenFull), "use wait (slow down; the log is the buffer) or drop (drop and count, as vakt_dropped_total, what a full RAW stream refuses)")
	}
	ps = append(ps, c.batchProblems()...)
	ps = append(ps, c.Syslog.problems()...)
	if c.DemoRate <= 0 || c.DemoRate > 1e6 {
		ps.Add("ingest.demo_rate", fmt.Sprintf("%v lines per second", c.DemoRate), fmt.Sprintf("use 1 to 1000000 lines per second (default %d)", DefaultDemoRate))
	}
	if c.DemoClients < 1 {
		ps.Add("ingest.demo_clients", fmt.Sprintf("%d clients", c.DemoClients), "use a positive number, e.g. 500 (the default)")
	}
	return ps
}

// batchProblems checks the keys that size and pace publishing.
func (c Config) batchProblems() configkit.Problems {
	var ps configkit.Problems
	if c.BatchLines < 1 || c.BatchLines > 1_000_000 {
		ps.Add("ingest.batch_lines", fmt.Sprintf("%d lines", c.BatchLines), fmt.Sprintf("use 1 to 1000000 (default %d)", DefaultBatchLines))
	}
	if c.BatchBytes < 4096 {
		ps.Add("ingest.batch_bytes", fmt.Sprintf("%d is too small for one line", c.BatchBytes), fmt.Sprintf("use at least 4096 (default %d)", DefaultBatchBytes))
	}
	if c.MaxInFlight < 1 {
		ps.Add("ingest.max_in_flight", fmt.Sprintf("%d batches", c.MaxInFlight), fmt.Sprintf("use a positive number of batches (default %d)", DefaultMaxInFlight))
	}
	if c.FlushInterval < 10*time.Millisecond {
		ps.Add("ingest.flush_interval", fmt.Sprintf("%v polls too often", c.FlushInterval), fmt.Sprintf("use at least 10ms (default %v)", DefaultFlushInterval))
	}
	if c.MaxFuture <= 0 {
		ps.Add("ingest.max_future", fmt.Sprintf("%v must be positive", c.MaxFuture), "use a duration such as 1h (the default)")
	}
	return ps
}

// fileProblems checks a list of paths or glob patterns.
func fileProblems(key string, files []string) configkit.Problems {
	var ps configkit.Problems
	for _, f := range files {
		if f == "" {
			ps.Add(key, "has an empty path", "remove the entry")
		} else if _, err := filepath.Match(f, ""); err != nil {
			ps.Add(key, fmt.Sprintf("pattern %q: %v", f, err), "fix or escape the glob characters")
		}
	}
	return ps
}

// sourceProblems checks every source's files and format.
func (c Config) sourceProblems() configkit.Problems {
	var ps configkit.Problems
	for k, s := range c.Sources {
		key := fmt.Sprintf("ingest.sources[%d]", k)
		if len(s.Files) == 0 {
			ps.Add(key+".files", "is empty", "list log files or glob patterns, or remove the source")
		}
		ps = append(ps, fileProblems(key+".files", s.Files)...)
		if err := checkFormat(s.Format); err != nil {
			ps.Add(key+".format", err.Error(), "use a format of ingest.format, or leave it empty to detect it")
		}
	}
	return ps
}

// problems checks the ingest.syslog keys. Syslog has no authentication,
// so a listener off loopback must be meant (allow_remote).
func (c SyslogConfig) problems() configkit.Problems {
	var ps configkit.Problems
	for _, a := range []struct{ key, v string }{{"ingest.syslog.udp", c.UDP}, {"ingest.syslog.tcp", c.TCP}} {
		switch {
		case a.v == "":
		case !hostPort(a.v):
			ps.Add(a.key, fmt.Sprintf("%q is not host:port", a.v), "use e.g. 127.0.0.1:5514")
		case !c.AllowRemote && !configkit.LoopbackAddr(a.v):
			ps.Add(a.key, fmt.Sprintf("%q is not a loopback address and syslog senders are not authenticated: anyone who reaches the port can inject log lines", a.v),
				"listen on 127.0.0.1, or set ingest.syslog.allow_remote: true and firewall the port to your web servers")
		}
	}
	switch c.SiteFrom {
	case "", SiteFromTag, SiteFromHostname, SiteFromHost, SiteFromConfig:
	default:
		ps.Add("ingest.syslog.site_from", fmt.Sprintf("%q is not a source of site names", c.SiteFrom), "use tag, hostname, host or config")
	}
	if err := checkFormat(c.Format); err != nil {
		ps.Add("ingest.syslog.format", err.Error(), "use a format of ingest.format, or leave it empty to detect it")
	}
	if c.IdleTimeout <= 0 {
		ps.Add("ingest.syslog.idle_timeout", "must be positive", "use e.g. 2m: a TCP sender silent that long is disconnected (rsyslog reconnects)")
	} else if c.IdleTimeout < time.Second {
		ps.Add("ingest.syslog.idle_timeout", fmt.Sprintf("%s is under a second", c.IdleTimeout), "use e.g. 2m")
	}
	if c.MaxConnections <= 0 {
		ps.Add("ingest.syslog.max_connections", "must be positive", "use e.g. 512")
	}
	if c.MaxConnectionsPerAddress < 0 {
		ps.Add("ingest.syslog.max_connections_per_address", "must not be negative", "use 0 (no cap) or e.g. 64")
	}
	return ps
}

func hostPort(v string) bool {
	_, _, err := net.SplitHostPort(v)
	return err == nil
}
