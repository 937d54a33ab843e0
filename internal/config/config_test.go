package config

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestShippedConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) < 4 {
		t.Fatalf("expected the example configs, found %v", files)
	}
	for _, f := range files {
		c, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func TestExampleConfigDocumentsTheDefaults(t *testing.T) {
	// The file documents the defaults of a process without GOMEMLIMIT
	// (store.batch_bytes follows a limit when one is set).
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	c, err := Load("../../configs/vakt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	// The example lists empty credentials and an empty address list.
	if c.ClickHouse.Addr == nil {
		c.ClickHouse.Addr = []string{}
	}
	d.ClickHouse.Addr = []string{}
	d.Ingest.Files = []string{}
	d.Ingest.Sources = []IngestSource{}
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("configs/vakt.yaml differs from Defaults():\n file %+v\n code %+v", c, d)
	}
}

func TestUnknownKeyIsAnError(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte("retention:\n  request: 30d\n"), 0o600)
	_, err := Load(f)
	if err == nil || !strings.Contains(err.Error(), "request") {
		t.Fatalf("unknown key not reported: %v", err)
	}
}

func TestProblemsNameKeyAndFix(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
	}{
		{"level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"nats url", func(c *Config) { c.NATS.URL = "localhost:4222" }, "nats.url"},
		{"nats url of a cluster node", func(c *Config) { c.NATS.URL = "nats://n1:4222,n2:4222" }, "nats.url"},
		{"listen", func(c *Config) { c.ClickHouse.Listen = "8123" }, "clickhouse.listen"},
		{"protocol", func(c *Config) { c.ClickHouse.Addr = []string{"ch:9000"}; c.ClickHouse.Protocol = "grpc" }, "clickhouse.protocol"},
		{"retention days", func(c *Config) { c.Retention.Requests = Duration(36 * time.Hour) }, "retention.requests"},
		{"client rollups days", func(c *Config) { c.Retention.ClientRollups = Duration(36 * time.Hour) }, "retention.client_rollups"},
		{"health rollups", func(c *Config) { c.Retention.HealthRollups = 0 }, "retention.health_rollups"},
		{"batch bytes", func(c *Config) { c.Store.BatchBytes = 10 }, "store.batch_bytes"},
		{"cluster embedded", func(c *Config) { c.ClickHouse.Cluster = "c1" }, "clickhouse.cluster"},
		{"readonly external", func(c *Config) {
			c.ClickHouse.Addr = []string{"ch:9000"}
			c.ClickHouse.ReadonlyUser, c.ClickHouse.ReadonlyPassword = "grafana", "pw"
		}, "clickhouse.readonly_user"},
		{"own user is the reader's default", func(c *Config) { c.ClickHouse.User = "reader" }, "clickhouse.user"},
		{"readonly is vakt", func(c *Config) { c.ClickHouse.ReadonlyUser, c.ClickHouse.ReadonlyPassword = "vakt", "pw" }, "clickhouse.readonly_user"},
		{"clickhouse allowed host", func(c *Config) { c.ClickHouse.AllowedHosts = []string{"http://x/"} }, "clickhouse.allowed_hosts"},
		{"raw age", func(c *Config) { c.Streams.RawMaxAge = 0 }, "streams.raw_max_age"},
		{"policy", func(c *Config) { c.Pseudonymize.QueryPolicy = "hash" }, "pseudonymize.query_policy"},
		{"batch", func(c *Config) { c.Store.BatchRows = -1 }, "store.batch_rows"},
		{"replicas", func(c *Config) { c.Streams.Replicas = 2 }, "streams.replicas"},
		{"source files", func(c *Config) { c.Ingest.Sources = []IngestSource{{Site: "shop"}} }, "ingest.sources[0].files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mutate(&c)
			ps := c.Problems()
			if len(ps) != 1 || ps[0].Key != tc.key || ps[0].Fix == "" {
				t.Fatalf("problems %v, want one for %s with a fix", ps, tc.key)
			}
		})
	}
	c := Defaults()
	if ps := c.Problems(); len(ps) != 0 {
		t.Fatalf("defaults invalid: %v", ps)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	c := Defaults()
	env := map[string]string{"VAKT_NATS_URL": "nats://n:4222", "VAKT_CLICKHOUSE_ADDR": "a:9000, b:9000", "VAKT_RETENTION_REQUESTS": "7d",
		"VAKT_RETENTION_CLIENT_ROLLUPS": "14d", "VAKT_RETENTION_HEALTH_ROLLUPS": "400d"}
	if err := c.applyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.NATS.URL != "nats://n:4222" || !reflect.DeepEqual(c.ClickHouse.Addr, []string{"a:9000", "b:9000"}) || c.Retention.Requests.D() != 7*24*time.Hour ||
		c.Retention.ClientRollups.D() != 14*24*time.Hour || c.Retention.HealthRollups.D() != 400*24*time.Hour {
		t.Fatalf("%+v", c)
	}
	bad := map[string]string{"VAKT_RETENTION_REQUESTS": "a month"}
	err := c.applyEnv(func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "VAKT_RETENTION_REQUESTS") {
		t.Fatalf("bad env not named: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"15m", 15 * time.Minute, true},
		{"24h", 24 * time.Hour, true},
		{"d", 0, false},
		{"-1d", 0, false},
		{"month", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got.D() != tc.want) {
			t.Errorf("ParseDuration(%q) = %v, %v", tc.in, got, err)
		}
	}
	if s := Duration(30 * 24 * time.Hour).String(); s != "30d" {
		t.Errorf("String() = %q", s)
	}
}

func TestFileProblemsNameEveryKey(t *testing.T) {
	f := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(f, []byte(`log:
  level: info
  colour: red
store:
  batch_rows: many
  flush_interval: soon
retention:
  requests: 30d
nats:
  urls: [nats://a:4222]
`), 0o600)
	_, err := Load(f)
	ps := ProblemsOf(err)
	want := map[string]string{
		"log.colour":           "unknown key",
		"store.batch_rows":     "is not a whole number",
		"store.flush_interval": "is not a duration",
		"nats.urls":            "unknown key",
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for _, p := range ps {
		w, ok := want[p.Key]
		if !ok || !strings.Contains(p.Problem, w) || p.Fix == "" {
			t.Errorf("unexpected problem %+v", p)
		}
	}
	if !strings.Contains(err.Error(), f) {
		t.Errorf("error does not name the file: %v", err)
	}
}
