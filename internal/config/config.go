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
	"net/url"
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
	// HTTP serves the dashboard (/, /api/), /metrics, /healthz and /readyz.
	HTTP HTTP `yaml:"http"`
	// Rules are the threat detections of reports and alerts.
	Rules Rules `yaml:"rules"`
	// Alerts: `vakt run` evaluates the rules and publishes new offenders.
	Alerts Alerts `yaml:"alerts"`
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
	StoreKey string `yaml:"-"`
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
	Protocol     string   `yaml:"protocol"` // native (default for Addr) or http
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
type Streams struct {
	RawMaxAge       Duration `yaml:"raw_max_age"`
	RawMaxBytes     int64    `yaml:"raw_max_bytes"`
	EventsMaxAge    Duration `yaml:"events_max_age"`
	EventsMaxBytes  int64    `yaml:"events_max_bytes"`
	DuplicateWindow Duration `yaml:"duplicate_window"`
	Replicas        int      `yaml:"replicas"`
	// AckWait is how long a pseudonymiser or store replica may hold a
	// message before JetStream gives it to another: after a replica dies,
	// its messages move on after at most this long.
	AckWait Duration `yaml:"ack_wait"`
}

// Ingest configures the log sources of `vakt run` and `vakt ingest`.
type Ingest struct {
	Files []string `yaml:"files"`
	Site  string   `yaml:"site"`
	// Sources are more groups of files, each with its own site (and
	// format); files and site above are one more.
	Sources   []IngestSource `yaml:"sources"`
	FromStart bool           `yaml:"from_start"`
	// Format of files: combined, vhost_combined, main, nginx_json, caddy,
	// or an nginx log_format string; empty detects it.
	Format string `yaml:"format"`
	// SiteFrom is config (every line gets site) or host (a line's request
	// host, $host / %v / JSON host, names its site); empty is config.
	SiteFrom string `yaml:"site_from"`
	// WhenFull is wait (a full RAW stream slows reading down; nothing is
	// lost) or drop (batches it refuses are dropped and counted).
	WhenFull string `yaml:"when_full"`
	// Syslog receives access logs over syslog (nginx: access_log
	// syslog:server=127.0.0.1:5514,tag=mysite combined).
	Syslog IngestSyslog `yaml:"syslog"`
	// Demo feeds generated traffic, for trying vakt out.
	Demo     bool    `yaml:"demo"`
	DemoRate float64 `yaml:"demo_rate"`
}

// IngestSyslog configures the syslog receiver of `vakt run` / `vakt ingest`.
type IngestSyslog struct {
	UDP      string `yaml:"udp"`       // listen address, e.g. 127.0.0.1:5514; empty: off
	TCP      string `yaml:"tcp"`       // listen address (RFC 6587 framing); empty: off
	Format   string `yaml:"format"`    // format of the message bodies; empty: detected
	SiteFrom string `yaml:"site_from"` // tag (default), hostname, host or config
	Site     string `yaml:"site"`      // fallback site; empty: ingest.site
	// AllowRemote lets UDP or TCP be a non-loopback address: syslog has
	// no authentication, so anyone who reaches the port can inject lines.
	AllowRemote bool `yaml:"allow_remote"`
	// IdleTimeout closes a TCP connection with no whole message for this
	// long; MaxConnections caps them (at the cap the longest-idle one
	// makes room); MaxConnectionsPerAddress caps one sender's (0: off).
	IdleTimeout              Duration `yaml:"idle_timeout"`
	MaxConnections           int      `yaml:"max_connections"`
	MaxConnectionsPerAddress int      `yaml:"max_connections_per_address"`
}

// Enabled reports whether a syslog transport is configured.
func (s IngestSyslog) Enabled() bool { return s.UDP != "" || s.TCP != "" }

// IngestSource is a group of log files with their own site label.
type IngestSource struct {
	Files  []string `yaml:"files"`
	Site   string   `yaml:"site"`   // empty: ingest.site
	Format string   `yaml:"format"` // empty: the files' format is detected
}

// Pseudonymize configures salts and scrubbing.
type Pseudonymize struct {
	Epoch       Duration `yaml:"epoch"`
	Grace       Duration `yaml:"grace"`
	Workers     int      `yaml:"workers"`
	QueryPolicy string   `yaml:"query_policy"` // redact, keep or drop
	// Sites overrides scrubbing per site label.
	Sites map[string]PseudonymizeSite `yaml:"sites"`
	// TrustedProxies (CIDRs or addresses) may name the client in X-Forwarded-For.
	TrustedProxies []string `yaml:"trusted_proxies"`
	GeoIP          GeoIP    `yaml:"geoip"`
}

// PseudonymizeSite is one site's scrubbing.
type PseudonymizeSite struct {
	QueryPolicy string   `yaml:"query_policy"` // empty: pseudonymize.query_policy
	Hosts       []string `yaml:"hosts"`        // other host names whose referrers are internal
}

// GeoIP locates MaxMind-format databases for country and ASN enrichment.
type GeoIP struct {
	CountryDB string   `yaml:"country_db"`
	ASNDB     string   `yaml:"asn_db"`
	Reload    Duration `yaml:"reload"`
}

// Store configures batching into ClickHouse.
type Store struct {
	BatchRows     int      `yaml:"batch_rows"`
	BatchBytes    int      `yaml:"batch_bytes"`
	FlushInterval Duration `yaml:"flush_interval"`
	Workers       int      `yaml:"workers"`
}

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

// Rules configures the threat detection rules (rules/README.md).
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
		NATS:       NATS{Listen: "127.0.0.1:4222", StoreEncryption: true},
		ClickHouse: ClickHouse{Database: "vakt", Listen: "127.0.0.1:8123"},
		Streams: Streams{
			RawMaxAge:       Duration(15 * time.Minute),
			RawMaxBytes:     64 << 20,
			EventsMaxAge:    Duration(7 * 24 * time.Hour),
			EventsMaxBytes:  4 << 30,
			DuplicateWindow: Duration(10 * time.Minute),
			Replicas:        1,
			AckWait:         Duration(time.Minute),
		},
		Ingest:          Ingest{Site: "default", DemoRate: 50, WhenFull: "wait", Syslog: IngestSyslog{IdleTimeout: Duration(2 * time.Minute), MaxConnections: 512}},
		Pseudonymize:    Pseudonymize{Epoch: Duration(24 * time.Hour), Grace: Duration(48 * time.Hour), Workers: 2, QueryPolicy: "redact", Sites: map[string]PseudonymizeSite{}, TrustedProxies: []string{}, GeoIP: GeoIP{Reload: Duration(time.Minute)}},
		Store:           Store{BatchRows: 50_000, BatchBytes: 32 << 20, FlushInterval: Duration(time.Second), Workers: 1},
		Retention:       Retention{Requests: Duration(30 * 24 * time.Hour), HealthRollups: Duration(396 * 24 * time.Hour)},
		HTTP:            HTTP{Listen: "127.0.0.1:9464", Auth: "token", AllowedHosts: []string{}},
		Alerts:          Alerts{Enabled: true, Interval: Duration(10 * time.Second), WebhookTimeout: Duration(5 * time.Second), WebhookRetries: 3},
		ShutdownTimeout: Duration(10 * time.Second),
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
	str("VAKT_NATS_INBOX_PREFIX", &c.NATS.InboxPrefix)
	str("VAKT_NATS_STORE_KEY", &c.NATS.StoreKey)
	str("VAKT_CLICKHOUSE_PROTOCOL", &c.ClickHouse.Protocol)
	str("VAKT_CLICKHOUSE_USER", &c.ClickHouse.User)
	str("VAKT_CLICKHOUSE_PASSWORD", &c.ClickHouse.Password)
	str("VAKT_CLICKHOUSE_PASSWORD_FILE", &c.ClickHouse.PasswordFile)
	str("VAKT_CLICKHOUSE_CA_FILE", &c.ClickHouse.CAFile)
	str("VAKT_ALERTS_WEBHOOK_URL", &c.Alerts.WebhookURL)
	if v, ok := lookup("VAKT_CLICKHOUSE_ADDR"); ok {
		c.ClickHouse.Addr = splitList(v)
	}
	for _, r := range []struct {
		env string
		dst *Duration
	}{
		{"VAKT_RETENTION_REQUESTS", &c.Retention.Requests},
		{"VAKT_RETENTION_CLIENT_ROLLUPS", &c.Retention.ClientRollups},
		{"VAKT_RETENTION_HEALTH_ROLLUPS", &c.Retention.HealthRollups},
	} {
		if v, ok := lookup(r.env); ok {
			d, err := ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %w", r.env, err)
			}
			*r.dst = d
		}
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
	if p := c.NATS.InboxPrefix; p != "" && (strings.ContainsAny(p, "*> \t\r\n") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..")) {
		add("nats.inbox_prefix", fmt.Sprintf("%q is not a subject prefix", p), "use subject tokens without wildcards, e.g. _INBOX_ingest")
	}
	checkListen := func(key, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			add(key, fmt.Sprintf("%q is not host:port", v), "use e.g. 127.0.0.1:8123")
		}
	}
	if c.EmbeddedNATS() && c.NATS.Listen != "" {
		checkListen("nats.listen", c.NATS.Listen)
	}
	if c.EmbeddedNATS() && c.NATS.StoreEncryption && c.NATS.StoreKeyFile != "" && c.DataDir != "" {
		if rel, err := filepath.Rel(absPath(c.DataDir), absPath(c.NATS.StoreKeyFile)); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			add("nats.store_key_file", fmt.Sprintf("%s is inside data_dir: the key would sit next to what it encrypts", c.NATS.StoreKeyFile),
				"keep it off the data dir, e.g. /etc/vakt/nats-store.key, or leave it empty for ~/.config/vakt/nats-store.key")
		}
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
	switch c.HTTP.Auth {
	case "token", "none":
	default:
		add("http.auth", fmt.Sprintf("%q is not an authentication mode", c.HTTP.Auth), "use token (the default) or none")
	}
	for _, h := range c.HTTP.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			add("http.allowed_hosts", fmt.Sprintf("%q is not a host name or address", h), "list host names or addresses without scheme or path, e.g. vakt.example.org")
		}
	}
	positive := func(key string, d Duration, fix string) {
		if d <= 0 {
			add(key, "must be positive", fix)
		}
	}
	positive("streams.raw_max_age", c.Streams.RawMaxAge, "use a few minutes, e.g. 15m: raw IPs must not linger")
	positive("streams.events_max_age", c.Streams.EventsMaxAge, "use e.g. 7d")
	positive("streams.duplicate_window", c.Streams.DuplicateWindow, "use e.g. 10m")
	positive("streams.ack_wait", c.Streams.AckWait, "use e.g. 1m: longer than the slowest store insert")
	positive("shutdown_timeout", c.ShutdownTimeout, "use e.g. 10s")
	positive("pseudonymize.epoch", c.Pseudonymize.Epoch, "use e.g. 24h")
	if c.Pseudonymize.Grace < 0 {
		add("pseudonymize.grace", "must not be negative", "use e.g. 48h")
	}
	positive("retention.requests", c.Retention.Requests, "use e.g. 30d")
	positive("retention.health_rollups", c.Retention.HealthRollups, "use e.g. 396d (13 months)")
	if c.Retention.ClientRollups < 0 {
		add("retention.client_rollups", "must not be negative", "use e.g. 30d, or 0 for the same as retention.requests")
	}
	for _, r := range []struct {
		key string
		d   Duration
	}{{"retention.requests", c.Retention.Requests}, {"retention.client_rollups", c.Retention.ClientRollups}, {"retention.health_rollups", c.Retention.HealthRollups}} {
		if r.d > 0 && r.d.D()%(24*time.Hour) != 0 {
			add(r.key, fmt.Sprintf("%s is not whole days", r.d), "partitions are daily and expire whole, so use whole days, e.g. 30d")
		}
	}
	if c.Store.BatchBytes < 1<<10 {
		add("store.batch_bytes", "is below 1024", "use e.g. 33554432 (32 MiB)")
	}
	if c.ClickHouse.Cluster != "" && c.EmbeddedClickHouse() {
		add("clickhouse.cluster", "is set for the embedded engine", "set clickhouse.addr to the cluster's servers, or leave clickhouse.cluster empty")
	}
	if ro := c.ClickHouse.ReadonlyUser; ro != "" {
		switch {
		case !c.EmbeddedClickHouse():
			add("clickhouse.readonly_user", "applies only to the embedded endpoint", "on a ClickHouse server create the user there and grant it a role of `vakt migrate --roles`, or leave it empty")
		case ro == c.ClickHouse.User || (c.ClickHouse.User == "" && ro == "vakt"):
			add("clickhouse.readonly_user", fmt.Sprintf("%q is vakt's own user", ro), "use another name, e.g. grafana")
		}
	} else if c.EmbeddedClickHouse() && c.ClickHouse.User == "reader" {
		add("clickhouse.user", `"reader" is the read-only account's default name`, "use another name, or set clickhouse.readonly_user to another one")
	}
	if c.ClickHouse.MaxQueryMemory < 0 || c.ClickHouse.MaxExecutionTime < 0 || c.ClickHouse.MaxConcurrentQueries < 0 || c.ClickHouse.MaxConnections < 0 {
		add("clickhouse.max_*", "a limit of the embedded endpoint is negative", "use a positive value, or 0 for the default (max_query_memory 2 GiB, max_execution_time 5m, max_concurrent_queries 4, max_connections 128)")
	}
	for _, h := range c.ClickHouse.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			add("clickhouse.allowed_hosts", fmt.Sprintf("%q is not a host name or address", h), "list host names or addresses without scheme or path, e.g. vakt.example.org")
		}
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
	ps = append(ps, c.pseudonymizeProblems()...)
	if c.Ingest.Demo && c.Ingest.DemoRate <= 0 {
		add("ingest.demo_rate", "must be positive", "use lines per second, e.g. 50")
	}
	switch c.Ingest.WhenFull {
	case "", "wait", "drop":
	default:
		add("ingest.when_full", fmt.Sprintf("%q is not a policy", c.Ingest.WhenFull), "use wait (slow down; the log is the buffer) or drop (drop and count, as vakt_dropped_total, what a full RAW stream refuses)")
	}
	ps = append(ps, c.listenerProblems()...)
	for k, src := range c.Ingest.Sources {
		if len(src.Files) == 0 {
			add(fmt.Sprintf("ingest.sources[%d].files", k), "is empty", "list log files or glob patterns, or remove the source")
		}
	}
	if c.Alerts.Enabled {
		positive("alerts.interval", c.Alerts.Interval, "use e.g. 10s")
		positive("alerts.webhook_timeout", c.Alerts.WebhookTimeout, "use e.g. 5s")
	}
	if u, err := url.Parse(c.Alerts.WebhookURL); c.Alerts.WebhookURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		add("alerts.webhook_url", "is not an http(s) URL", "use e.g. https://hooks.example.com/vakt, or leave it empty")
	}
	if c.Alerts.WebhookRetries < 0 || c.Alerts.WebhookRetries > 10 {
		add("alerts.webhook_retries", strconv.Itoa(c.Alerts.WebhookRetries)+" retries", "use 0 to 10")
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

// absPath is filepath.Abs, or p when that fails.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
