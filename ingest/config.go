package ingest

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
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

	// DemoSite is the site demo lines are published under.
	DemoSite = "demo"
)

// Config configures an Ingest. Zero values select the defaults.
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
	// the KV bucket bus.CheckpointBucket (see tail.go and checkpoint.go).
	// Without it, Run imports: it reads every file to its end, waits until
	// every batch is acknowledged and returns.
	Follow bool `yaml:"follow"`
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
	DrainTimeout time.Duration `yaml:"drain_timeout"`

	// MaxAge rejects lines older than now-MaxAge as past_retention: they
	// would be stored only to expire at once. Keep it equal to the
	// retention of request rows (default 30 days).
	MaxAge time.Duration `yaml:"max_age"`
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

// Validate checks c without touching the file system. Zero values are
// valid (they select defaults); errors name the key and say what to do.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ingest: %s: "+format, append([]any{key}, args...)...))
	}
	if len(c.Files) == 0 && len(c.Sources) == 0 && !c.Demo && !c.Syslog.Enabled() {
		bad("files", "no log files given; list paths or glob patterns, or enable demo")
	}
	errs = append(errs, c.validateSources()...)
	errs = append(errs, c.Syslog.validate()...)
	if err := checkFormat(c.Format); err != nil {
		bad("format", "%v", err)
	}
	switch c.WhenFull {
	case "", WhenFullWait, WhenFullDrop:
	default:
		bad("when_full", "%q: use wait (slow down; nothing is lost) or drop (drop and count what a full RAW stream refuses)", c.WhenFull)
	}
	switch c.SiteFrom {
	case "", SiteFromConfig, SiteFromHost:
	default:
		bad("site_from", "%q: files take their site from config (the default) or host (the request's host)", c.SiteFrom)
	}
	for _, f := range c.Files {
		switch {
		case f == "":
			bad("files", "empty path; remove the entry")
		default:
			if _, err := filepath.Match(f, ""); err != nil {
				bad("files", "pattern %q: %v; fix or escape the glob characters", f, err)
			}
		}
	}
	if c.FromStart && !c.Follow {
		bad("from_start", "only applies with follow; an import always reads whole files")
	}
	nonNeg := func(key string, v int64, unit string) {
		if v < 0 {
			bad(key, "must be positive %s, or 0 for the default (got %d)", unit, v)
		}
	}
	nonNeg("batch_lines", int64(c.BatchLines), "lines")
	nonNeg("batch_bytes", int64(c.BatchBytes), "bytes")
	nonNeg("max_in_flight", int64(c.MaxInFlight), "batches")
	if c.BatchLines > 1_000_000 {
		bad("batch_lines", "%d is too large; use at most 1000000 (default %d)", c.BatchLines, DefaultBatchLines)
	}
	if c.BatchBytes > 0 && c.BatchBytes < 4096 {
		bad("batch_bytes", "%d is too small for one line; use at least 4096 (default %d)", c.BatchBytes, DefaultBatchBytes)
	}
	durations := []struct {
		key string
		v   time.Duration
	}{
		{"flush_interval", c.FlushInterval}, {"drain_timeout", c.DrainTimeout},
		{"max_age", c.MaxAge}, {"max_future", c.MaxFuture},
	}
	for _, d := range durations {
		if d.v < 0 {
			bad(d.key, "must be a positive duration such as 1h, or 0 for the default (got %v)", d.v)
		}
	}
	if c.FlushInterval > 0 && c.FlushInterval < 10*time.Millisecond {
		bad("flush_interval", "%v polls too often; use at least 10ms (default %v)", c.FlushInterval, DefaultFlushInterval)
	}
	if c.DemoRate < 0 || c.DemoRate > 1e6 {
		bad("demo_rate", "must be between 0 and 1000000 lines per second, 0 for the default %d (got %v)", DefaultDemoRate, c.DemoRate)
	}
	nonNeg("demo_clients", int64(c.DemoClients), "clients")
	return errors.Join(errs...)
}

// withDefaults returns c with zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.Site == "" {
		c.Site = DefaultSite
	}
	if c.BatchLines == 0 {
		c.BatchLines = DefaultBatchLines
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
	if c.DemoRate == 0 {
		c.DemoRate = DefaultDemoRate
	}
	if c.DemoClients == 0 {
		c.DemoClients = 500
	}
	return c
}
