package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckReportsEveryProblemOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		keys       []string // one line per problem, in any order
	}{
		{"valid", "retention:\n  requests: 7d\n", nil},
		{"unknown keys", "store:\n  batchrows: 10\nlogging: {level: info}\n", []string{"store.batchrows", "logging"}},
		{"wrong types", "store:\n  batch_rows: many\n  flush_interval: soon\nstreams:\n  replicas: two\n", []string{"store.batch_rows", "store.flush_interval", "streams.replicas"}},
		{"bad values", "log:\n  format: xml\nnats:\n  url: localhost:4222\npseudonymize:\n  query_policy: hash\nretention:\n  requests: 36h\ningest:\n  when_full: block\n",
			[]string{"log.format", "nats.url", "pseudonymize.query_policy", "retention.requests", "ingest.when_full"}},
		{"missing files", "nats:\n  url: nats://n:4222\n  credentials_file: /nonexistent/x.creds\n  cert_file: /nonexistent/c.pem\nclickhouse:\n  addr: [ch:9000]\n  password_file: /nonexistent/pw\n",
			[]string{"nats.credentials_file", "nats.cert_file", "nats.cert_file", "clickhouse.password_file"}},
		{"syntax", "store: [unclosed\n", []string{"(file)"}},
		// Non-loopback listeners: no TLS (or, for syslog, no authentication)
		// unless allowed; the dashboard without authentication never.
		{"remote listeners", "nats:\n  listen: 0.0.0.0:4222\nclickhouse:\n  listen: :8123\nhttp:\n  listen: '[::]:9464'\n  auth: none\ningest:\n  syslog:\n    tcp: 0.0.0.0:5514\n    udp: 192.0.2.1:5514\n",
			[]string{"nats.listen", "clickhouse.listen", "http.auth", "ingest.syslog.tcp", "ingest.syslog.udp"}},
		{"remote listeners without tls", "http:\n  listen: 0.0.0.0:9464\n", []string{"http.listen"}},
		{"remote listeners allowed", "nats:\n  listen: 0.0.0.0:4222\n  allow_plaintext_remote: true\nclickhouse:\n  listen: :8123\n  allow_plaintext_remote: true\nhttp:\n  listen: '[::]:9464'\n  allow_plaintext_remote: true\ningest:\n  syslog:\n    tcp: 0.0.0.0:5514\n    allow_remote: true\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "vakt.yaml")
			os.WriteFile(f, []byte(tc.yaml), 0o600)
			stdout, stderr, err := vakt(t, "check", "--config", f, "--data-dir", filepath.Join(dir, "data"))
			if len(tc.keys) == 0 {
				if err != nil || !strings.Contains(stdout, "configuration ok") {
					t.Fatalf("valid config rejected: %v\n%s%s", err, stdout, stderr)
				}
				return
			}
			if err == nil {
				t.Fatalf("broken config accepted:\n%s", stdout)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(lines) != len(tc.keys) {
				t.Fatalf("%d lines for %d problems:\n%s", len(lines), len(tc.keys), stdout)
			}
			for _, key := range tc.keys {
				found := false
				for i, l := range lines {
					// "key: problem; fix"
					if strings.HasPrefix(l, key+": ") && strings.Contains(l, "; ") {
						lines[i] = ""
						found = true
						break
					}
				}
				if !found {
					t.Errorf("no line for %s in:\n%s", key, stdout)
				}
			}
		})
	}
}
