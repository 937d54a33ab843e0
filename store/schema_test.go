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

// TestCreateRequestsSQLGolden pins the DDL: a change to the table must be a
// deliberate one (go test ./store -run Golden -update) and reviewed.
func TestCreateRequestsSQLGolden(t *testing.T) {
	got := createDatabaseSQL("vakt") + ";\n\n" + createRequestsSQL("vakt", 30*day) + ";\n\n" + modifyTTLSQL("vakt", 7*day) + ";\n"
	path := filepath.Join("testdata", "requests.sql")
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
		t.Errorf("DDL differs from %s (run with -update if intended):\n%s", path, got)
	}
}

func TestCreateRequestsSQLShape(t *testing.T) {
	ddl := createRequestsSQL("other_db", 45*day)
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS `other_db`.`requests`",
		"`ts` DateTime64(3, 'UTC') COMMENT 'request time, UTC' CODEC(Delta(8), ZSTD(1))",
		"`request_time` Nullable(Float32)",
		"PARTITION BY toDate(ts)",
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
	for _, c := range requestColumns {
		i := strings.Index(ins, "`"+c.name+"`")
		if i <= last {
			t.Errorf("column %s missing or out of order in %s", c.name, ins)
		}
		last = i
	}
}

func TestParseTTL(t *testing.T) {
	tests := []struct {
		name   string
		create string
		want   time.Duration
		ok     bool
	}{
		{"normalised days", "CREATE TABLE vakt.requests (`ts` DateTime64(3, 'UTC')) ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (site) TTL toDateTime(ts) + toIntervalDay(30) SETTINGS ttl_only_drop_parts = 1, index_granularity = 8192", 30 * day, true},
		{"as written", "ENGINE = MergeTree TTL toDateTime(ts) + INTERVAL 7 DAY\nSETTINGS ttl_only_drop_parts = 1", 7 * day, true},
		{"hours", "TTL toDateTime(ts) + toIntervalHour(48) SETTINGS x = 1", 48 * time.Hour, true},
		{"weeks", "TTL toDateTime(ts) + toIntervalWeek(2) SETTINGS x = 1", 14 * day, true},
		{"months have no fixed length", "TTL toDateTime(ts) + toIntervalMonth(1) SETTINGS x = 1", 0, false},
		{"no TTL", "ENGINE = MergeTree ORDER BY ts SETTINGS index_granularity = 8192", 0, false},
		{"extra TTL clause", "TTL toDateTime(ts) + toIntervalDay(30), toDateTime(ts) + toIntervalDay(1) DELETE WHERE status = 200 SETTINGS x = 1", 0, false},
		{"end of statement", "TTL toDateTime(ts) + toIntervalDay(3)", 3 * day, true},
		{"column TTL is not the table TTL", "`path` String TTL toDateTime(ts) + toIntervalDay(1), x UInt8) ENGINE = MergeTree ORDER BY ts SETTINGS a = 1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseTTL(tt.create)
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
		{"whole days", SchemaConfig{Database: "logs_2", RequestsTTL: 90 * day}, ""},
		{"hours", SchemaConfig{RequestsTTL: 36 * time.Hour}, "schema.requests_ttl: 36h0m0s is not a whole number of days"},
		{"under a day", SchemaConfig{RequestsTTL: time.Hour}, "schema.requests_ttl: 1h0m0s is shorter than one day"},
		{"negative", SchemaConfig{RequestsTTL: -day}, "schema.requests_ttl"},
		{"decades", SchemaConfig{RequestsTTL: 20 * 365 * day}, "more than 10 years"},
		{"injection", SchemaConfig{Database: "vakt`; DROP"}, "schema.database"},
		{"dotted", SchemaConfig{Database: "a.b"}, "schema.database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			checkErr(t, err, tt.wantErr)
		})
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
