package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/store"
)

// TestRetentionCommandAgreesWithTables (acceptance 5): after `vakt
// migrate`, the days `vakt retention` states for each table are the TTLs
// `SHOW CREATE TABLE` shows, both parsed here from the commands' output.
func TestRetentionCommandAgreesWithTables(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vakt.yaml")
	os.WriteFile(cfgFile, []byte("clickhouse:\n  listen: 127.0.0.1:0\nnats:\n  listen: 127.0.0.1:0\nhttp:\n  listen: \"\"\nretention:\n  requests: 12d\n  health_rollups: 200d\n"), 0o600)
	common := []string{"--config", cfgFile, "--data-dir", filepath.Join(dir, "data")}
	run := func(cmd string, args ...string) string {
		t.Helper()
		args = append(append([]string{cmd}, common...), args...) // flags before the SQL argument
		out, errOut, err := vakt(t, args...)
		if err != nil {
			t.Fatalf("vakt %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}

	out := run("migrate")
	for _, want := range []string{fmt.Sprintf("schema version %d", store.SchemaVersion()), "applied migration 1: requests table", "applied migration 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("vakt migrate output lacks %q:\n%s", want, out)
		}
	}
	if out := run("migrate"); !strings.Contains(out, "no migration to apply") || strings.Contains(out, "retention of") {
		t.Errorf("second vakt migrate:\n%s", out)
	}

	policy := run("retention")
	re := regexp.MustCompile(`(?m)^- (Request records|Hourly activity|Per-minute statistics)\b.* Kept for (\d+) days?\b`)
	words := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(policy, -1) {
		words[m[1]], _ = strconv.Atoi(m[2])
	}
	ttlRe := regexp.MustCompile(`\\nTTL \S+ \+ toIntervalDay\((\d+)\)\\n`) // TabSeparated escapes line ends
	for label, table := range map[string]string{"Request records": "requests", "Hourly activity": "client_activity_1h", "Per-minute statistics": "site_health_1m"} {
		create := run("sql", "--format", "tsv", "SHOW CREATE TABLE vakt."+table)
		m := ttlRe.FindStringSubmatch(create)
		if m == nil {
			t.Fatalf("no TTL in SHOW CREATE TABLE vakt.%s:\n%s", table, create)
		}
		ttl, _ := strconv.Atoi(m[1])
		if words[label] != ttl {
			t.Errorf("%s: vakt retention says %d days, SHOW CREATE TABLE vakt.%s says %d", label, words[label], table, ttl)
		}
	}
	if words["Request records"] != 12 || words["Hourly activity"] != 12 || words["Per-minute statistics"] != 200 {
		t.Errorf("policy %v, want the configured 12, 12 and 200 days:\n%s", words, policy)
	}

	// Roles: the embedded engine refuses, saying so and what to do.
	_, errOut, err := vakt(t, append([]string{"migrate", "--roles"}, common...)...)
	if err == nil || !strings.Contains(errOut, "no access management") || !strings.Contains(errOut, "--print-sql") {
		t.Errorf("vakt migrate --roles on the embedded engine: %v\n%s", err, errOut)
	}
}

// TestMigratePrintSQL: the SQL of a cluster installation, without a
// server.
func TestMigratePrintSQL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vakt.yaml")
	os.WriteFile(cfgFile, []byte("clickhouse:\n  addr: [ch-1:9000]\n  cluster: prod\n"), 0o600)
	out, errOut, err := vakt(t, "migrate", "--print-sql", "--roles", "--config", cfgFile)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, want := range []string{"CREATE TABLE IF NOT EXISTS `vakt`.`requests_local` ON CLUSTER `prod`", "ReplicatedMergeTree(", "ENGINE = Distributed(`prod`, `vakt`, `requests_local`, cityHash64(client_id))", "GRANT ON CLUSTER `prod` SELECT ON `vakt`.`site_health_1m` TO `vakt_ops`"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
