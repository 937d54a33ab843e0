package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/store"
)

// Problems lists every invalid setting; empty means valid. The stages'
// sections are checked by their own Problems.
func (c *Config) Problems() []Problem {
	var ps []Problem
	add := func(key, problem, fix string) { ps = append(ps, newProblem(key, problem, fix)) }
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
	if c.ShutdownTimeout <= 0 {
		add("shutdown_timeout", "must be positive", "use e.g. 10s")
	}
	ps = append(ps, c.natsProblems()...)
	ps = append(ps, c.clickHouseProblems()...)
	ps = append(ps, c.httpProblems()...)
	ps = append(ps, c.streamProblems()...)
	ps = append(ps, c.retentionProblems()...)
	ps = append(ps, c.Pseudonymize.Problems()...)
	ps = append(ps, c.Store.Problems()...)
	ps = append(ps, c.Ingest.Problems()...)
	ps = append(ps, c.listenerProblems()...)
	ps = append(ps, c.alertProblems()...)
	ps = append(ps, c.Enforce.Problems()...)
	ps = append(ps, c.Subject.Problems()...)
	return ps
}

func newProblem(key, problem, fix string) Problem {
	return Problem{Key: key, Problem: problem, Fix: fix}
}

// checkListen reports an address that is not host:port.
func checkListen(ps *[]Problem, key, v string) {
	if _, _, err := net.SplitHostPort(v); err != nil {
		*ps = append(*ps, newProblem(key, fmt.Sprintf("%q is not host:port", v), "use e.g. 127.0.0.1:8123"))
	}
}

// checkHosts reports entries of a Host allow-list that are not bare names.
func checkHosts(ps *[]Problem, key string, hosts []string) {
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			*ps = append(*ps, newProblem(key, fmt.Sprintf("%q is not a host name or address", h), "list host names or addresses without scheme or path, e.g. vakt.example.org"))
		}
	}
}

func (c *Config) natsProblems() []Problem {
	var ps []Problem
	add := func(key, problem, fix string) { ps = append(ps, newProblem(key, problem, fix)) }
	if !c.EmbeddedNATS() {
		// A cluster's nodes, comma-separated: vakt connects to any and fails over.
		for _, u := range strings.Split(c.NATS.URL, ",") {
			if u = strings.TrimSpace(u); !strings.Contains(u, "://") {
				add("nats.url", fmt.Sprintf("%q has no scheme", u), "use nats://host:4222 (or tls://), comma-separated for a cluster's nodes, or leave it empty for the embedded server")
			}
		}
	}
	if p := c.NATS.InboxPrefix; p != "" && (strings.ContainsAny(p, "*> \t\r\n") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..")) {
		add("nats.inbox_prefix", fmt.Sprintf("%q is not a subject prefix", p), "use subject tokens without wildcards, e.g. _INBOX_ingest")
	}
	if c.EmbeddedNATS() && c.NATS.Listen != "" {
		checkListen(&ps, "nats.listen", c.NATS.Listen)
	}
	if _, err := bus.ParseSync(c.NATS.SyncInterval); err != nil {
		add("nats.sync_interval", err.Error(), `use "always" (an fsync after every write: nothing acknowledged is lost in a power loss) or a duration such as 1s`)
	}
	if c.EmbeddedNATS() && c.NATS.StoreEncryption && c.NATS.StoreKeyFile != "" && c.DataDir != "" {
		if rel, err := filepath.Rel(absPath(c.DataDir), absPath(c.NATS.StoreKeyFile)); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			add("nats.store_key_file", fmt.Sprintf("%s is inside data_dir: the key would sit next to what it encrypts", c.NATS.StoreKeyFile),
				"keep it off the data dir, e.g. /etc/vakt/nats-store.key, or leave it empty for ~/.config/vakt/nats-store.key")
		}
	}
	return ps
}

func (c *Config) clickHouseProblems() []Problem {
	var ps []Problem
	add := func(key, problem, fix string) { ps = append(ps, newProblem(key, problem, fix)) }
	ch := c.ClickHouse
	if c.EmbeddedClickHouse() {
		checkListen(&ps, "clickhouse.listen", ch.Listen)
	}
	switch ch.Protocol {
	case "", "native", "http":
	default:
		add("clickhouse.protocol", fmt.Sprintf("%q is not a protocol", ch.Protocol), "use native or http")
	}
	if ch.Database == "" {
		add("clickhouse.database", "is empty", "use vakt (the default) or another database name")
	}
	if ch.Cluster != "" && c.EmbeddedClickHouse() {
		add("clickhouse.cluster", "is set for the embedded engine", "set clickhouse.addr to the cluster's servers, or leave clickhouse.cluster empty")
	}
	if ro := ch.ReadonlyUser; ro != "" {
		switch {
		case !c.EmbeddedClickHouse():
			add("clickhouse.readonly_user", "applies only to the embedded endpoint", "on a ClickHouse server create the user there and grant it a role of `vakt migrate --roles`, or leave it empty")
		case ro == ch.User || (ch.User == "" && ro == "vakt"):
			add("clickhouse.readonly_user", fmt.Sprintf("%q is vakt's own user", ro), "use another name, e.g. grafana")
		}
	} else if c.EmbeddedClickHouse() && ch.User == "reader" {
		add("clickhouse.user", `"reader" is the read-only account's default name`, "use another name, or set clickhouse.readonly_user to another one")
	}
	for _, l := range []struct {
		key, dflt string
		v         int64
	}{
		{"clickhouse.max_query_memory", "2147483648 (2 GiB)", ch.MaxQueryMemory},
		{"clickhouse.max_execution_time", "5m", int64(ch.MaxExecutionTime)},
		{"clickhouse.max_concurrent_queries", "4", int64(ch.MaxConcurrentQueries)},
		{"clickhouse.max_connections", "128", int64(ch.MaxConnections)},
	} {
		if l.v < 0 {
			add(l.key, "is negative", "use a positive value, or 0 for the embedded endpoint's default, "+l.dflt)
		}
	}
	checkHosts(&ps, "clickhouse.allowed_hosts", ch.AllowedHosts)
	return ps
}

func (c *Config) httpProblems() []Problem {
	var ps []Problem
	if c.HTTP.Listen != "" {
		checkListen(&ps, "http.listen", c.HTTP.Listen)
	}
	switch c.HTTP.Auth {
	case "token", "none":
	default:
		ps = append(ps, newProblem("http.auth", fmt.Sprintf("%q is not an authentication mode", c.HTTP.Auth), "use token (the default) or none"))
	}
	checkHosts(&ps, "http.allowed_hosts", c.HTTP.AllowedHosts)
	return ps
}

func positive[D Duration | time.Duration](ps *[]Problem, key string, d D, fix string) {
	if d <= 0 {
		*ps = append(*ps, newProblem(key, "must be positive", fix))
	}
}

func (c *Config) streamProblems() []Problem {
	var ps []Problem
	s := c.Streams
	positive(&ps, "streams.raw_max_age", s.RawMaxAge, "use a few minutes, e.g. 15m: raw IPs must not linger")
	positive(&ps, "streams.events_max_age", s.EventsMaxAge, "use e.g. 7d")
	positive(&ps, "streams.duplicate_window", s.DuplicateWindow, "use e.g. 10m")
	positive(&ps, "streams.ack_wait", s.AckWait, "use e.g. 1m: longer than the slowest store insert")
	if s.RawMaxBytes <= 0 {
		ps = append(ps, newProblem("streams.raw_max_bytes", "must be positive", "use e.g. 33554432 (32 MiB): it bounds the memory raw events take"))
	}
	if s.EventsMaxBytes <= 0 {
		ps = append(ps, newProblem("streams.events_max_bytes", "must be positive", "use e.g. 4294967296 (4 GiB)"))
	}
	if s.Replicas != 1 && s.Replicas != 3 && s.Replicas != 5 {
		ps = append(ps, newProblem("streams.replicas", strconv.Itoa(s.Replicas)+" replicas", "use 1 (single server) or 3 or 5 (cluster)"))
	}
	return ps
}

func (c *Config) retentionProblems() []Problem {
	var ps []Problem
	r := c.Retention
	for _, t := range []struct {
		key string
		d   Duration
	}{{"retention.requests", r.Requests}, {"retention.client_rollups", r.ClientRollups}, {"retention.health_rollups", r.HealthRollups}} {
		if t.key == "retention.client_rollups" && t.d == 0 {
			continue // 0: as retention.requests
		}
		if p, bad := store.TTLProblem(t.key, t.d.D()); bad {
			ps = append(ps, p)
		}
	}
	return ps
}

func (c *Config) alertProblems() []Problem {
	var ps []Problem
	a := c.Alerts
	if a.Enabled {
		positive(&ps, "alerts.interval", a.Interval, "use e.g. 10s")
		positive(&ps, "alerts.webhook_timeout", a.WebhookTimeout, "use e.g. 5s")
	}
	if u, err := url.Parse(a.WebhookURL); a.WebhookURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		ps = append(ps, newProblem("alerts.webhook_url", "is not an http(s) URL", "use e.g. https://hooks.example.com/vakt, or leave it empty"))
	}
	if a.WebhookRetries < 0 || a.WebhookRetries > 10 {
		ps = append(ps, newProblem("alerts.webhook_retries", strconv.Itoa(a.WebhookRetries)+" retries", "use 0 to 10"))
	}
	return ps
}
