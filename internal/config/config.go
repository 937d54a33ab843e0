// Package config reads vakt's configuration: one YAML file, then
// environment variables, then flags, validated up front. Unknown keys are
// errors, and every problem names its key and the fix.
//
// The stages own their sections (ingest.Config, pseudonymize.Config,
// store.Config: the structs the file decodes into, with their defaults and
// Problems); this package composes them with the cross-cutting sections.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vakt-dev/vakt/enforce"
	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject/selfserve"
)

// Config is the whole configuration. Zero values mean "use the default".
type Config struct {
	// DataDir holds the embedded engines' state and the runtime file.
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	NATS    NATS   `yaml:"nats"`
	// ClickHouse is where events are stored.
	ClickHouse   ClickHouse          `yaml:"clickhouse"`
	Streams      Streams             `yaml:"streams"`
	Ingest       ingest.Config       `yaml:"ingest"`
	Pseudonymize pseudonymize.Config `yaml:"pseudonymize"`
	Store        store.Config        `yaml:"store"`
	Retention    Retention           `yaml:"retention"`
	// HTTP serves the dashboard (/, /api/), /metrics, /healthz and /readyz.
	HTTP HTTP `yaml:"http"`
	// Rules are the threat detections of reports and alerts.
	Rules Rules `yaml:"rules"`
	// Alerts: `vakt run` evaluates the rules and publishes new offenders.
	Alerts Alerts `yaml:"alerts"`
	// Enforce is the decision endpoint web servers ask whether to serve a
	// client (enforce/); off unless enforce.listen is set.
	Enforce enforce.Config `yaml:"enforce"`
	// Subject is the visitors' self-service page (subject/); off unless
	// subject.listen is set.
	Subject selfserve.Config `yaml:"subject"`
	// ShutdownTimeout bounds how long a stopping vakt (SIGTERM, Ctrl-C)
	// keeps publishing and storing the batches it holds.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Log configures vakt's own logs.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// NATS says where JetStream is. With no URL, vakt embeds nats-server.
type NATS struct {
	URL string `yaml:"url"`
	// Listen is the embedded server's client address, for vakt commands
	// that do not own the data dir and for shippers; empty serves only the
	// in-process connections of the process that owns it.
	Listen string `yaml:"listen"`
	// StoreEncryption encrypts the embedded server's JetStream store (salts,
	// events in transit) with the key of StoreKeyFile or StoreKey.
	StoreEncryption bool `yaml:"store_encryption"`
	// StoreKeyFile holds that key, kept off the data dir; empty is
	// vakt/nats-store.key in the user's configuration directory
	// ($XDG_CONFIG_HOME or ~/.config). Generated when missing.
	StoreKeyFile string `yaml:"store_key_file"`
	// StoreKey, from VAKT_NATS_STORE_KEY only, replaces StoreKeyFile.
	StoreKey string `yaml:"-" env:"VAKT_NATS_STORE_KEY"`
	// SyncInterval is when the embedded server's file store calls fsync:
	// "always" (after every write) or a duration (README, "Durability").
	SyncInterval string `yaml:"sync_interval"`
	// AllowPlaintextRemote lets Listen be a non-loopback address although
	// the embedded server has no TLS (see listeners.go).
	AllowPlaintextRemote bool `yaml:"allow_plaintext_remote"`
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
	// InboxPrefix replaces _INBOX in reply subjects. Replies carry what a
	// request fetched (raw events, salts), so with per-stage users each
	// needs inboxes only it may subscribe to (configs/nats-accounts.conf).
	InboxPrefix string `yaml:"inbox_prefix"`
}

// ClickHouse says where events are stored. With no address, vakt embeds the
// ClickHouse engine and serves it on Listen.
type ClickHouse struct {
	Addr         []string `yaml:"addr"`
	Protocol     string   `yaml:"protocol"` // http (default) or native
	Database     string   `yaml:"database"`
	User         string   `yaml:"user"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	TLS          bool     `yaml:"tls"`
	// CAFile verifies the server's certificate (and turns TLS on);
	// CertFile and KeyFile are a client certificate.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// Listen is the embedded engine's HTTP endpoint (loopback by default).
	Listen string `yaml:"listen"`
	// LibPath locates libchdb.so for the embedded engine.
	LibPath string `yaml:"lib_path"`
	// Cluster, for a ClickHouse cluster, makes the schema ON CLUSTER with
	// Replicated tables under Distributed ones.
	Cluster string `yaml:"cluster"`
	// ReadonlyUser is an account of the embedded endpoint that may only
	// read (SELECT, SHOW, DESCRIBE), e.g. for Grafana; "reader" when empty.
	// Passwords left empty are generated into <data_dir>/credentials.
	ReadonlyUser         string `yaml:"readonly_user"`
	ReadonlyPassword     string `yaml:"readonly_password"`
	ReadonlyPasswordFile string `yaml:"readonly_password_file"`
	// Limits of the embedded endpoint: per-query memory (bytes), run time,
	// statements at once, open connections; 0 takes the default.
	MaxQueryMemory       int64    `yaml:"max_query_memory"`
	MaxExecutionTime     Duration `yaml:"max_execution_time"`
	MaxConcurrentQueries int      `yaml:"max_concurrent_queries"`
	MaxConnections       int      `yaml:"max_connections"`
	// AllowedHosts are Host names the embedded endpoint answers to besides
	// loopback names and its listen address (DNS rebinding defence).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowPlaintextRemote lets Listen be a non-loopback address although
	// the endpoint has no TLS (see listeners.go).
	AllowPlaintextRemote bool `yaml:"allow_plaintext_remote"`
}

// Streams bounds the JetStream streams between the stages.
type Streams = bus.StreamConfig

// IngestSource is a group of log files with their own site label.
type IngestSource = ingest.Source

// PseudonymizeSite is one site's scrubbing.
type PseudonymizeSite = pseudonymize.SitePolicy

// Retention is how long each kind of data lives.
type Retention struct {
	Requests Duration `yaml:"requests"`
	// ClientRollups is per-client hourly activity; 0 means as Requests.
	ClientRollups Duration `yaml:"client_rollups"`
	// HealthRollups is per-site per-minute health (no client ids).
	HealthRollups Duration `yaml:"health_rollups"`
}

// HTTP configures vakt's own HTTP server.
type HTTP struct {
	Listen string `yaml:"listen"`
	// Auth is "token" (the default: a bearer token or session cookie,
	// generated into <data>/credentials/http.token) or "none".
	Auth string `yaml:"auth"`
	// AllowedHosts are host names or addresses, besides loopback ones and
	// the listen address, that requests may name in their Host header (a
	// reverse proxy's name, the address Prometheus scrapes).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowPlaintextRemote lets Listen be a non-loopback address although
	// it has no TLS (see listeners.go).
	AllowPlaintextRemote bool `yaml:"allow_plaintext_remote"`
}

// Rules configures the threat detection rules (analyze/rules/README.md).
type Rules struct {
	// Dir holds rule files (*.yaml) that add to, override or disable the
	// built-in rules; empty: the built-in rules alone.
	Dir string `yaml:"dir"`
}

// Alerts configures the alert loop of `vakt run`: every Interval it runs
// each rule over its window and publishes each new offender once per window
// on vakt.alerts.<site>, and to WebhookURL if set.
type Alerts struct {
	Enabled        bool     `yaml:"enabled"`
	Interval       Duration `yaml:"interval"`
	WebhookURL     string   `yaml:"webhook_url"`
	WebhookTimeout Duration `yaml:"webhook_timeout"` // per attempt
	WebhookRetries int      `yaml:"webhook_retries"` // further attempts after a failure
}

// Defaults returns the documented defaults.
func Defaults() Config {
	return Config{
		DataDir:    "data",
		Log:        Log{Level: "info", Format: "text"},
		NATS:       NATS{Listen: "127.0.0.1:4222", StoreEncryption: true, SyncInterval: DefaultNATSSync},
		ClickHouse: ClickHouse{Database: store.DefaultDatabase, Listen: "127.0.0.1:8123"},
		Streams:    bus.DefaultStreamConfig(),

		Ingest:          ingest.Defaults(),
		Pseudonymize:    pseudonymize.Defaults(),
		Store:           store.Defaults(),
		Retention:       Retention{Requests: Duration(store.DefaultRequestsTTL), HealthRollups: Duration(store.DefaultHealthRollupsTTL)},
		HTTP:            HTTP{Listen: "127.0.0.1:9464", Auth: "token", AllowedHosts: []string{}},
		Alerts:          Alerts{Enabled: true, Interval: Duration(10 * time.Second), WebhookTimeout: Duration(5 * time.Second), WebhookRetries: 3},
		Enforce:         enforce.Defaults(),
		Subject:         selfserve.Defaults(),
		ShutdownTimeout: Duration(10 * time.Second),
	}
}

// Load reads path (if not empty) over the defaults, then applies the
// VAKT_* environment variables (env.go).
func Load(path string) (Config, error) {
	c := Defaults()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w (--config names a YAML file; configs/vakt.yaml lists every key)", err)
		}
		if ps := decode(b, &c); len(ps) > 0 {
			return c, &Error{Source: path, Problems: ps}
		}
	}
	if err := c.applyEnv(os.LookupEnv); err != nil {
		return c, err
	}
	return c, nil
}

// EmbeddedNATS reports whether vakt runs nats-server itself.
func (c *Config) EmbeddedNATS() bool { return c.NATS.URL == "" }

// EmbeddedClickHouse reports whether vakt runs the ClickHouse engine itself.
func (c *Config) EmbeddedClickHouse() bool { return len(c.ClickHouse.Addr) == 0 }

// ClickHouseDir is the embedded engine's data directory.
func (c *Config) ClickHouseDir() string { return filepath.Join(c.DataDir, "clickhouse") }

// NATSDir is the embedded nats-server's JetStream store.
func (c *Config) NATSDir() string { return filepath.Join(c.DataDir, "nats") }

// Validate returns every problem as an *Error, or nil.
func (c *Config) Validate() error {
	if ps := c.Problems(); len(ps) > 0 {
		return &Error{Problems: ps}
	}
	return nil
}

// absPath is filepath.Abs, or p when that fails.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// DefaultNATSSync is nats.sync_interval's default, chosen from the costs
// measured in BENCHMARKS.md ("Durability").
const DefaultNATSSync = "always"
