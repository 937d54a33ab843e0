package store

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("SQL differs from %s (run go test ./store -run Golden -update if intended):\n%s", path, got)
	}
}

// goldenConfigs are the two variants of the schema: one node, and a
// cluster with Replicated and Distributed tables.
var goldenConfigs = []struct {
	name string
	cfg  SchemaConfig
}{
	{"single", SchemaConfig{Database: "vakt"}},
	{"cluster", SchemaConfig{Database: "vakt", Cluster: "vakt_cluster"}},
}

// schemaAndRetentionSQL is a fresh installation's SQL, then the ALTERs a
// change of every retention setting makes.
func schemaAndRetentionSQL(t *testing.T, cfg SchemaConfig) string {
	t.Helper()
	ddl, err := SchemaSQL(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(ddl)
	b.WriteString("\n-- retention.requests: 7d, retention.client_rollups: 7d, retention.health_rollups: 90d\n\n")
	s := newSchema(cfg)
	for _, tt := range ttlTables {
		ttl := 7 * day
		if tt.name == HealthTable {
			ttl = 90 * day
		}
		b.WriteString(s.modifyTTL(tt, ttl) + ";\n")
	}
	return b.String()
}

// TestSchemaSQLGolden pins the DDL of both variants: a change to the
// tables must be a deliberate one (go test ./store -run Golden -update),
// reviewed, and, for a released schema, a new migration.
func TestSchemaSQLGolden(t *testing.T) {
	for _, tc := range goldenConfigs {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, "schema_"+tc.name+".sql", schemaAndRetentionSQL(t, tc.cfg))
		})
	}
}

func TestRoleSQLGolden(t *testing.T) {
	for _, tc := range goldenConfigs {
		t.Run(tc.name, func(t *testing.T) {
			stmts, err := RoleSQL(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "roles_"+tc.name+".sql", strings.Join(stmts, ";\n")+";\n")
		})
	}
}

// TestRoleGrants: the writer only inserts, ops see nothing with a client id
// and security never gets write access.
func TestRoleGrants(t *testing.T) {
	for _, tc := range goldenConfigs {
		stmts, err := RoleSQL(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, s := range stmts {
			if !strings.HasPrefix(s, "GRANT") {
				continue
			}
			role := s[strings.LastIndex(s, " TO ")+4:]
			got[role] = append(got[role], s)
		}
		for _, g := range got["`"+RoleWriter+"`"] {
			if !strings.Contains(g, " INSERT ON ") {
				t.Errorf("%s: writer grant is not INSERT only: %s", tc.name, g)
			}
		}
		for _, g := range got["`"+RoleSecurity+"`"] {
			if !strings.Contains(g, " SELECT ON ") {
				t.Errorf("%s: security grant is not SELECT: %s", tc.name, g)
			}
		}
		ops := got["`"+RoleOps+"`"]
		if len(ops) == 0 {
			t.Fatalf("%s: ops has no grant", tc.name)
		}
		for _, g := range ops {
			if !strings.Contains(g, " SELECT ON `vakt`.`"+HealthTable) {
				t.Errorf("%s: ops grant outside the health rollup: %s", tc.name, g)
			}
		}
	}
	for _, c := range healthColumns {
		if strings.Contains(c.name, "client") || strings.Contains(c.name, "network") {
			t.Errorf("health rollup column %s would show ops a client", c.name)
		}
	}
}

func TestRequestsDDLShape(t *testing.T) {
	ddl := newSchema(SchemaConfig{Database: "other_db", RequestsTTL: 45 * day}).requestsDDL()[0]
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS `other_db`.`requests`",
		"`ts` DateTime64(3, 'UTC') COMMENT 'request time, UTC' CODEC(T64, ZSTD(1))",
		"`request_time` Nullable(Float32)",
		"PARTITION BY toDate(ts)",
		"PRIMARY KEY (site, toStartOfHour(ts), client_id)",
		"ORDER BY (site, toStartOfHour(ts), client_id, ts)",
		"TTL toDateTime(ts) + INTERVAL 45 DAY",
		"ttl_only_drop_parts = 1",
		"non_replicated_deduplication_window = 1000",
	} {
		if !strings.Contains(ddl, want) {
			t.Errorf("DDL lacks %q", want)
		}
	}
	// Every column of the DDL is in the INSERT, in the same order.
	ins := insertSQL("other_db")
	last := -1
	for _, c := range insertColumns {
		i := strings.Index(ins, "`"+c.name+"`")
		if i <= last {
			t.Errorf("column %s missing or out of order in %s", c.name, ins)
		}
		last = i
	}
}

// TestMigrationsAppendOnly: versions are 1, 2, 3... in order, so that
// "applied" is a set of known steps.
func TestMigrationsAppendOnly(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 || m.name == "" || len(m.up(newSchema(SchemaConfig{}))) == 0 {
			t.Errorf("migration %d: version %d name %q", i, m.version, m.name)
		}
	}
	if SchemaVersion() != len(migrations) {
		t.Errorf("SchemaVersion %d", SchemaVersion())
	}
}

func TestParseTTL(t *testing.T) {
	tests := []struct {
		name   string
		create string
		expr   string
		want   time.Duration
		ok     bool
	}{
		{"normalised days", "CREATE TABLE vakt.requests (`ts` DateTime64(3, 'UTC')) ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (site) TTL toDateTime(ts) + toIntervalDay(30) SETTINGS ttl_only_drop_parts = 1, index_granularity = 8192", "toDateTime(ts)", 30 * day, true},
		{"as written", "ENGINE = MergeTree TTL toDateTime(ts) + INTERVAL 7 DAY\nSETTINGS ttl_only_drop_parts = 1", "toDateTime(ts)", 7 * day, true},
		{"rollup column", "ORDER BY (site, minute)\nTTL minute + toIntervalDay(396)\nSETTINGS ttl_only_drop_parts = 1", "minute", 396 * day, true},
		{"other column", "ORDER BY (site, minute)\nTTL minute + toIntervalDay(396)\nSETTINGS ttl_only_drop_parts = 1", "last_seen", 0, false},
		{"hours", "TTL toDateTime(ts) + toIntervalHour(48) SETTINGS x = 1", "toDateTime(ts)", 48 * time.Hour, true},
		{"weeks", "TTL toDateTime(ts) + toIntervalWeek(2) SETTINGS x = 1", "toDateTime(ts)", 14 * day, true},
		{"months have no fixed length", "TTL toDateTime(ts) + toIntervalMonth(1) SETTINGS x = 1", "toDateTime(ts)", 0, false},
		{"no TTL", "ENGINE = MergeTree ORDER BY ts SETTINGS index_granularity = 8192", "toDateTime(ts)", 0, false},
		{"extra TTL clause", "TTL toDateTime(ts) + toIntervalDay(30), toDateTime(ts) + toIntervalDay(1) DELETE WHERE status = 200 SETTINGS x = 1", "toDateTime(ts)", 0, false},
		{"end of statement", "TTL toDateTime(ts) + toIntervalDay(3)", "toDateTime(ts)", 3 * day, true},
		{"column TTL is not the table TTL", "`path` String TTL toDateTime(ts) + toIntervalDay(1), x UInt8) ENGINE = MergeTree ORDER BY ts SETTINGS a = 1", "toDateTime(ts)", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseTTL(tt.create, tt.expr)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseTTL = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSchemaConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     SchemaConfig
		wantErr string // substring; empty means valid
	}{
		{"defaults", SchemaConfig{}, ""},
		{"one day", SchemaConfig{RequestsTTL: day}, ""},
		{"whole days", SchemaConfig{Database: "logs_2", RequestsTTL: 90 * day, ClientRollupsTTL: 14 * day, HealthRollupsTTL: 800 * day}, ""},
		{"cluster", SchemaConfig{Cluster: "prod_1"}, ""},
		{"hours", SchemaConfig{RequestsTTL: 36 * time.Hour}, "retention.requests: 36h0m0s is not a whole number of days"},
		{"under a day", SchemaConfig{RequestsTTL: time.Hour}, "retention.requests: 1h0m0s is shorter than one day"},
		{"negative", SchemaConfig{RequestsTTL: -day}, "retention.requests"},
		{"decades", SchemaConfig{RequestsTTL: 20 * 365 * day}, "more than 10 years"},
		{"client rollups hours", SchemaConfig{ClientRollupsTTL: 30 * time.Hour}, "retention.client_rollups"},
		{"health rollups", SchemaConfig{HealthRollupsTTL: 12 * time.Hour}, "retention.health_rollups"},
		{"injection", SchemaConfig{Database: "vakt`; DROP"}, "clickhouse.database"},
		{"dotted", SchemaConfig{Database: "a.b"}, "clickhouse.database"},
		{"cluster injection", SchemaConfig{Cluster: "c' --"}, "clickhouse.cluster"},
		{"ttl merge", SchemaConfig{MergeWithTTLTimeout: time.Millisecond}, "merge_with_ttl_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			checkErr(t, err, tt.wantErr)
		})
	}
	// Client rollups follow the requests unless set.
	c := SchemaConfig{RequestsTTL: 9 * day}.withDefaults()
	if c.ClientRollupsTTL != 9*day || c.HealthRollupsTTL != DefaultHealthRollupsTTL {
		t.Errorf("defaults %+v", c)
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error; want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}
