// Package config reads vakt's configuration: one YAML file, then
// environment variables, then flags, validated up front. Unknown keys are
// errors, and every problem names its key and the fix.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Zero values mean "use the default".
type Config struct {
	// DataDir holds the embedded engines' state and the runtime file.
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	NATS    NATS   `yaml:"nats"`
	// ClickHouse is where events are stored.
	ClickHouse   ClickHouse   `yaml:"clickhouse"`
	Streams      Streams      `yaml:"streams"`
	Ingest       Ingest       `yaml:"ingest"`
	Pseudonymize Pseudonymize `yaml:"pseudonymize"`
	Store        Store        `yaml:"store"`
	Retention    Retention    `yaml:"retention"`
	// HTTP serves /metrics, /healthz and /readyz.
	HTTP HTTP `yaml:"http"`
}

// Log configures vakt's own logs.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// NATS says where JetStream is. With no URL, vakt embeds nats-server.
type NATS struct {
	URL string `yaml:"url"`
	// Listen is the embedded server's client address.
	Listen string `yaml:"listen"`
	// Credentials for an external server.
	User            string `yaml:"user"`
	Password        string `yaml:"password"`
	PasswordFile    string `yaml:"password_file"`
	Token           string `yaml:"token"`
	TokenFile       string `yaml:"token_file"`
	CredentialsFile string `yaml:"credentials_file"`
	NKeySeedFile    string `yaml:"nkey_seed_file"`
	CAFile          string `yaml:"ca_file"`
	CertFile        string `yaml:"cert_file"`
	KeyFile         string `yaml:"key_file"`
}

// ClickHouse says where events are stored. With no address, vakt embeds the
// ClickHouse engine and serves it on Listen.
type ClickHouse struct {
	Addr         []string `yaml:"addr"`
	Protocol     string   `yaml:"protocol"` // native (default for Addr) or http
	Database     string   `yaml:"database"`
	User         string   `yaml:"user"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	TLS          bool     `yaml:"tls"`
	// Listen is the embedded engine's HTTP endpoint (loopback by default).
	Listen string `yaml:"listen"`
	// LibPath locates libchdb.so for the embedded engine.
	LibPath string `yaml:"lib_path"`
}

// Streams bounds the JetStream streams between the stages.
type Streams struct {
	RawMaxAge       Duration `yaml:"raw_max_age"`
	RawMaxBytes     int64    `yaml:"raw_max_bytes"`
	EventsMaxAge    Duration `yaml:"events_max_age"`
	EventsMaxBytes  int64    `yaml:"events_max_bytes"`
	DuplicateWindow Duration `yaml:"duplicate_window"`
	Replicas        int      `yaml:"replicas"`
}

// Ingest configures the log sources of `vakt run` and `vakt ingest`.
type Ingest struct {
	Files     []string `yaml:"files"`
	Site      string   `yaml:"site"`
	FromStart bool     `yaml:"from_start"`
	// Demo feeds generated traffic, for trying vakt out.
	Demo     bool    `yaml:"demo"`
	DemoRate float64 `yaml:"demo_rate"`
}

// Pseudonymize configures salts and scrubbing.
type Pseudonymize struct {
	Epoch       Duration `yaml:"epoch"`
	Grace       Duration `yaml:"grace"`
	Workers     int      `yaml:"workers"`
	QueryPolicy string   `yaml:"query_policy"` // redact, keep or drop
}

// Store configures batching into ClickHouse.
type Store struct {
	BatchRows     int      `yaml:"batch_rows"`
	FlushInterval Duration `yaml:"flush_interval"`
	Workers       int      `yaml:"workers"`
}

// Retention is how long each kind of data lives.
type Retention struct {
	Requests Duration `yaml:"requests"`
}

// HTTP configures vakt's own HTTP server.
type HTTP struct {
	Listen string `yaml:"listen"`
}

// Defaults returns the documented defaults.
func Defaults() Config {
	return Config{
		DataDir:    "data",
		Log:        Log{Level: "info", Format: "text"},
		NATS:       NATS{Listen: "127.0.0.1:4222"},
		ClickHouse: ClickHouse{Database: "vakt", Listen: "127.0.0.1:8123"},
		Streams: Streams{
			RawMaxAge:       Duration(15 * time.Minute),
			RawMaxBytes:     512 << 20,
			EventsMaxAge:    Duration(7 * 24 * time.Hour),
			EventsMaxBytes:  4 << 30,
			DuplicateWindow: Duration(10 * time.Minute),
			Replicas:        1,
		},
		Ingest:       Ingest{Site: "default", DemoRate: 50},
		Pseudonymize: Pseudonymize{Epoch: Duration(24 * time.Hour), Grace: Duration(48 * time.Hour), Workers: 2, QueryPolicy: "redact"},
		Store:        Store{BatchRows: 50_000, FlushInterval: Duration(time.Second), Workers: 1},
		Retention:    Retention{Requests: Duration(30 * 24 * time.Hour)},
		HTTP:         HTTP{Listen: "127.0.0.1:9464"},
	}
}

// Load reads path (if not empty) over the defaults, then applies the
// VAKT_* environment variables.
func Load(path string) (Config, error) {
	c := Defaults()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, &Error{Source: path, Problems: yamlProblems(b, err)}
		}
	}
	if err := c.applyEnv(os.LookupEnv); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) error {
	str := func(key string, dst *string) {
		if v, ok := lookup(key); ok {
			*dst = v
		}
	}
	str("VAKT_DATA_DIR", &c.DataDir)
	str("VAKT_LOG_LEVEL", &c.Log.Level)
	str("VAKT_NATS_URL", &c.NATS.URL)
	str("VAKT_NATS_USER", &c.NATS.User)
	str("VAKT_NATS_PASSWORD", &c.NATS.Password)
	str("VAKT_NATS_TOKEN", &c.NATS.Token)
	str("VAKT_NATS_CREDENTIALS_FILE", &c.NATS.CredentialsFile)
	str("VAKT_CLICKHOUSE_PROTOCOL", &c.ClickHouse.Protocol)
	str("VAKT_CLICKHOUSE_USER", &c.ClickHouse.User)
	str("VAKT_CLICKHOUSE_PASSWORD", &c.ClickHouse.Password)
	if v, ok := lookup("VAKT_CLICKHOUSE_ADDR"); ok {
		c.ClickHouse.Addr = splitList(v)
	}
	if v, ok := lookup("VAKT_RETENTION_REQUESTS"); ok {
		d, err := ParseDuration(v)
		if err != nil {
			return fmt.Errorf("VAKT_RETENTION_REQUESTS: %w", err)
		}
		c.Retention.Requests = d
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// EmbeddedNATS reports whether vakt runs nats-server itself.
func (c *Config) EmbeddedNATS() bool { return c.NATS.URL == "" }

// EmbeddedClickHouse reports whether vakt runs the ClickHouse engine itself.
func (c *Config) EmbeddedClickHouse() bool { return len(c.ClickHouse.Addr) == 0 }

// ClickHouseDir is the embedded engine's data directory.
func (c *Config) ClickHouseDir() string { return filepath.Join(c.DataDir, "clickhouse") }

// NATSDir is the embedded nats-server's JetStream store.
func (c *Config) NATSDir() string { return filepath.Join(c.DataDir, "nats") }

// Problems lists every invalid setting; empty means valid.
func (c *Config) Problems() []Problem {
	var ps []Problem
	add := func(key, problem, fix string) { ps = append(ps, Problem{key, problem, fix}) }
	if c.DataDir == "" && (c.EmbeddedNATS() || c.EmbeddedClickHouse()) {
		add("data_dir", "is empty", "set a directory for the embedded engines' state, e.g. data_dir: /var/lib/vakt")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", fmt.Sprintf("%q is not a level", c.Log.Level), "use debug, info, warn or error")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add("log.format", fmt.Sprintf("%q is not a format", c.Log.Format), "use text or json")
	}
	if !c.EmbeddedNATS() && !strings.Contains(c.NATS.URL, "://") {
		add("nats.url", fmt.Sprintf("%q has no scheme", c.NATS.URL), "use nats://host:4222 (or tls://), or leave it empty for the embedded server")
	}
	checkListen := func(key, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			add(key, fmt.Sprintf("%q is not host:port", v), "use e.g. 127.0.0.1:8123")
		}
	}
	if c.EmbeddedNATS() {
		checkListen("nats.listen", c.NATS.Listen)
	}
	if c.EmbeddedClickHouse() {
		checkListen("clickhouse.listen", c.ClickHouse.Listen)
	} else {
		switch c.ClickHouse.Protocol {
		case "", "native", "http":
		default:
			add("clickhouse.protocol", fmt.Sprintf("%q is not a protocol", c.ClickHouse.Protocol), "use native or http")
		}
	}
	if c.ClickHouse.Database == "" {
		add("clickhouse.database", "is empty", "use vakt (the default) or another database name")
	}
	if c.HTTP.Listen != "" {
		checkListen("http.listen", c.HTTP.Listen)
	}
	positive := func(key string, d Duration, fix string) {
		if d <= 0 {
			add(key, "must be positive", fix)
		}
	}
	positive("streams.raw_max_age", c.Streams.RawMaxAge, "use a few minutes, e.g. 15m: raw IPs must not linger")
	positive("streams.events_max_age", c.Streams.EventsMaxAge, "use e.g. 7d")
	positive("streams.duplicate_window", c.Streams.DuplicateWindow, "use e.g. 10m")
	positive("pseudonymize.epoch", c.Pseudonymize.Epoch, "use e.g. 24h")
	if c.Pseudonymize.Grace < 0 {
		add("pseudonymize.grace", "must not be negative", "use e.g. 48h")
	}
	positive("retention.requests", c.Retention.Requests, "use e.g. 30d")
	if r := c.Retention.Requests.D(); r > 0 && r%(24*time.Hour) != 0 {
		add("retention.requests", fmt.Sprintf("%s is not whole days", c.Retention.Requests), "partitions are daily and expire whole, so use whole days, e.g. 30d")
	}
	positive("store.flush_interval", c.Store.FlushInterval, "use e.g. 1s")
	if c.Store.BatchRows <= 0 {
		add("store.batch_rows", "must be positive", "use e.g. 50000")
	}
	if c.Pseudonymize.Workers <= 0 {
		add("pseudonymize.workers", "must be positive", "use e.g. 2")
	}
	switch c.Pseudonymize.QueryPolicy {
	case "redact", "keep", "drop":
	default:
		add("pseudonymize.query_policy", fmt.Sprintf("%q is not a policy", c.Pseudonymize.QueryPolicy), "use redact (keep keys, drop values), keep or drop")
	}
	if c.Ingest.Demo && c.Ingest.DemoRate <= 0 {
		add("ingest.demo_rate", "must be positive", "use lines per second, e.g. 50")
	}
	if c.Streams.Replicas != 1 && c.Streams.Replicas != 3 && c.Streams.Replicas != 5 {
		add("streams.replicas", strconv.Itoa(c.Streams.Replicas)+" replicas", "use 1 (single server) or 3 or 5 (cluster)")
	}
	return ps
}

// Validate returns every problem as an *Error, or nil.
func (c *Config) Validate() error {
	if ps := c.Problems(); len(ps) > 0 {
		return &Error{Problems: ps}
	}
	return nil
}
