package app

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/store"
)

const (
	testReadonlyUser     = "grafana"
	testReadonlyPassword = "read-only-secret"
)

// keptDays parses the plain-words policy: the days each table line states.
func keptDays(t *testing.T, text string) map[string]int {
	t.Helper()
	labels := map[string]string{
		"Request records":                         store.RequestsTable,
		"Hourly activity per pseudonymous client": store.ClientsTable,
		"Per-minute statistics of each website":   store.HealthTable,
	}
	re := regexp.MustCompile(`(?m)^- (Request records|Hourly activity per pseudonymous client|Per-minute statistics of each website)\b.* Kept for (\d+) days?\b`)
	out := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[2])
		out[labels[m[1]]] = n
	}
	if len(out) != 3 {
		t.Fatalf("policy does not state the three tables' retention:\n%s", text)
	}
	return out
}

// tableTTLDays parses each table's TTL from SHOW CREATE TABLE, on its own
// (not with the store's parser).
func tableTTLDays(t *testing.T, db string) map[string]int {
	t.Helper()
	re := regexp.MustCompile(`\nTTL \S+ \+ toIntervalDay\((\d+)\)\n`)
	out := map[string]int{}
	for _, tbl := range []string{store.RequestsTable, store.ClientsTable, store.HealthTable} {
		var create string
		if err := owner.CH.QueryRow(t.Context(), "SHOW CREATE TABLE `"+db+"`.`"+tbl+"`").Scan(&create); err != nil {
			t.Fatal(err)
		}
		m := re.FindStringSubmatch(create)
		if m == nil {
			t.Fatalf("no TTL in days in:\n%s", create)
		}
		out[tbl], _ = strconv.Atoi(m[1])
	}
	return out
}

// TestRetentionAgreesWithTables (acceptance 5, in process; the command is
// tested in cmd/vakt): the policy in words and the tables' TTLs agree, also
// when a table was changed behind vakt's back, and the configuration is
// used when the tables do not exist.
func TestRetentionAgreesWithTables(t *testing.T) {
	cfg := testConfig(owner.dataDir)
	cfg.ClickHouse.Database = "t_retention"
	cfg.Retention.Requests = config.Duration(9 * 24 * time.Hour)
	cfg.Retention.HealthRollups = config.Duration(400 * 24 * time.Hour)
	if err := owner.CH.Exec(t.Context(), "DROP DATABASE IF EXISTS t_retention"); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := RetentionCommand(t.Context(), cfg, "text", quiet, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "from the configuration (the tables do not exist yet)") {
		t.Errorf("without tables the policy must say it is the configuration's:\n%s", out.String())
	}
	if got := keptDays(t, out.String()); got[store.RequestsTable] != 9 || got[store.ClientsTable] != 9 || got[store.HealthTable] != 400 {
		t.Errorf("configured policy %v", got)
	}

	out.Reset()
	if err := MigrateCommand(t.Context(), cfg, store.MigrateOptions{}, nil, quiet, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied migration 3") {
		t.Errorf("migrate output:\n%s", out.String())
	}
	// Behind vakt's back: the table now keeps 5 days whatever the config.
	if err := owner.CH.Exec(t.Context(), "ALTER TABLE t_retention.site_health_1m MODIFY TTL minute + INTERVAL 5 DAY"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := RetentionCommand(t.Context(), cfg, "text", quiet, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	words, tables := keptDays(t, text), tableTTLDays(t, "t_retention")
	for tbl, n := range tables {
		if words[tbl] != n {
			t.Errorf("%s: the policy says %d days, SHOW CREATE TABLE %d", tbl, words[tbl], n)
		}
	}
	if tables[store.HealthTable] != 5 || tables[store.RequestsTable] != 9 {
		t.Errorf("tables %v", tables)
	}
	if !strings.Contains(text, "read from the tables") || !strings.Contains(text, "Note: retention.health_rollups is set to 400 days (about 13 months), but t_retention.site_health_1m still keeps 5 days") {
		t.Errorf("policy:\n%s", text)
	}
	t.Logf("vakt retention:\n%s", text)
}

// TestReadonlyUser: the embedded endpoint's read-only account (configured
// in testConfig) can query and cannot write or change anything; a wrong
// password is refused.
func TestReadonlyUser(t *testing.T) {
	ctx := t.Context()
	if err := store.Migrate(ctx, owner.CH, store.SchemaConfig{Database: "t_readonly"}); err != nil {
		t.Fatal(err)
	}
	ro, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{owner.CHAddr}, Protocol: store.ProtocolHTTP, Username: testReadonlyUser, Password: testReadonlyPassword})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var n uint64
	if err := ro.QueryRow(ctx, "SELECT count() FROM t_readonly.requests").Scan(&n); err != nil {
		t.Fatalf("read-only user cannot SELECT: %v", err)
	}
	for _, stmt := range []string{
		"INSERT INTO t_readonly.requests (site) VALUES ('x')",
		"CREATE TABLE t_readonly.sneaky (x UInt8) ENGINE = Memory",
		"DROP TABLE t_readonly.requests",
		"ALTER TABLE t_readonly.requests MODIFY TTL toDateTime(ts) + INTERVAL 1000 DAY",
		"TRUNCATE TABLE t_readonly.requests",
	} {
		err := ro.Exec(ctx, stmt)
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 164 { // READONLY
			t.Errorf("%s: %v, want ClickHouse error 164 (READONLY)", stmt, err)
		}
	}
	if n, err := queryCount(t, "SELECT count() FROM system.tables WHERE database = 't_readonly' AND name = 'sneaky'"); err != nil || n != 0 {
		t.Errorf("the read-only user created a table: %d %v", n, err)
	}
	if _, err := store.Open(ctx, store.ClickHouseConfig{Addr: []string{owner.CHAddr}, Protocol: store.ProtocolHTTP, Username: testReadonlyUser, Password: "wrong"}); err == nil {
		t.Error("wrong password accepted")
	}
}

func queryCount(t *testing.T, q string) (uint64, error) {
	t.Helper()
	var n uint64
	err := owner.CH.QueryRow(t.Context(), q).Scan(&n)
	return n, err
}
