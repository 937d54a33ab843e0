package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1": true, "127.9.8.7:1": true, "[::1]:1": true, "localhost:1": true, "LocalHost:1": true,
		"[::ffff:127.0.0.1]:1": true,
		":1":                   false, "0.0.0.0:1": false, "[::]:1": false, "192.0.2.1:1": false, "[2001:db8::1]:1": false,
		"myhost:1": false, "localhost.example.org:1": false, "127.0.0.1": false, "": false,
	} {
		if got := LoopbackAddr(addr); got != want {
			t.Errorf("LoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestListenerProblems: each refused listener yields exactly one problem,
// naming its key and the fix; each allowed one none.
func TestListenerProblems(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string // "" when allowed
	}{
		{"nats any", func(c *Config) { c.NATS.Listen = "0.0.0.0:4222" }, "nats.listen"},
		{"nats empty host", func(c *Config) { c.NATS.Listen = ":4222" }, "nats.listen"},
		{"nats ipv6 any", func(c *Config) { c.NATS.Listen = "[::]:4222" }, "nats.listen"},
		{"nats address", func(c *Config) { c.NATS.Listen = "192.0.2.1:4222" }, "nats.listen"},
		{"nats name", func(c *Config) { c.NATS.Listen = "natshost:4222" }, "nats.listen"},
		{"nats allowed", func(c *Config) { c.NATS.Listen, c.NATS.AllowPlaintextRemote = "0.0.0.0:4222", true }, ""},
		{"nats loopback", func(c *Config) { c.NATS.Listen = "127.0.0.2:4222" }, ""},
		{"nats ipv6 loopback", func(c *Config) { c.NATS.Listen = "[::1]:4222" }, ""},
		{"nats localhost", func(c *Config) { c.NATS.Listen = "localhost:4222" }, ""},
		{"nats in-process only", func(c *Config) { c.NATS.Listen = "" }, ""},
		{"nats external", func(c *Config) { c.NATS.URL, c.NATS.Listen = "tls://nats:4222", "0.0.0.0:4222" }, ""},
		{"clickhouse any", func(c *Config) { c.ClickHouse.Listen = "0.0.0.0:8123" }, "clickhouse.listen"},
		{"clickhouse empty host", func(c *Config) { c.ClickHouse.Listen = ":8123" }, "clickhouse.listen"},
		{"clickhouse allowed", func(c *Config) { c.ClickHouse.Listen, c.ClickHouse.AllowPlaintextRemote = "[::]:8123", true }, ""},
		{"clickhouse external", func(c *Config) { c.ClickHouse.Addr, c.ClickHouse.Listen = []string{"ch:9000"}, "0.0.0.0:8123" }, ""},
		{"http any", func(c *Config) { c.HTTP.Listen = "0.0.0.0:9464" }, "http.listen"},
		{"http allowed", func(c *Config) { c.HTTP.Listen, c.HTTP.AllowPlaintextRemote = ":9464", true }, ""},
		{"http no auth", func(c *Config) { c.HTTP.Listen, c.HTTP.Auth = "0.0.0.0:9464", "none" }, "http.auth"},
		{"http no auth even allowed", func(c *Config) {
			c.HTTP.Listen, c.HTTP.Auth, c.HTTP.AllowPlaintextRemote = "192.0.2.1:9464", "none", true
		}, "http.auth"},
		{"http no auth on loopback", func(c *Config) { c.HTTP.Auth = "none" }, ""},
		{"http off", func(c *Config) { c.HTTP.Listen, c.HTTP.Auth = "", "none" }, ""},
		{"syslog tcp any", func(c *Config) { c.Ingest.Syslog.TCP = "0.0.0.0:5514" }, "ingest.syslog.tcp"},
		{"syslog udp empty host", func(c *Config) { c.Ingest.Syslog.UDP = ":5514" }, "ingest.syslog.udp"},
		{"syslog allowed", func(c *Config) {
			c.Ingest.Syslog.TCP, c.Ingest.Syslog.UDP, c.Ingest.Syslog.AllowRemote = "0.0.0.0:5514", "[::]:5514", true
		}, ""},
		{"syslog loopback", func(c *Config) { c.Ingest.Syslog.TCP, c.Ingest.Syslog.UDP = "127.0.0.1:5514", "[::1]:5514" }, ""},
		{"syslog idle timeout", func(c *Config) { c.Ingest.Syslog.IdleTimeout = 0 }, "ingest.syslog.idle_timeout"},
		{"syslog idle timeout tiny", func(c *Config) { c.Ingest.Syslog.IdleTimeout = time.Millisecond }, "ingest.syslog.idle_timeout"},
		{"syslog max connections", func(c *Config) { c.Ingest.Syslog.MaxConnections = 0 }, "ingest.syslog.max_connections"},
		{"syslog per address", func(c *Config) { c.Ingest.Syslog.MaxConnectionsPerAddress = -1 }, "ingest.syslog.max_connections_per_address"},
		{"malformed is one problem", func(c *Config) { c.NATS.Listen = "0.0.0.0" }, "nats.listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mutate(&c)
			ps := c.Problems()
			if tc.key == "" {
				if len(ps) != 0 {
					t.Fatalf("allowed, yet: %v", ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Key != tc.key || ps[0].Fix == "" {
				t.Fatalf("problems %v, want one for %s", ps, tc.key)
			}
			if p := ps[0]; strings.Contains(p.Problem, "loopback") && !strings.Contains(p.Fix, "127.0.0.1") {
				t.Errorf("fix does not say how: %v", p)
			}
		})
	}
}
