package main

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLRollupFormats: vakt sql prints the rollup tables, whose aggregate
// states clickhouse-go cannot decode, in every format, as clickhouse-client
// would.
func TestSQLRollupFormats(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	insert := `INSERT INTO vakt.requests (ts, site, client_id, network_id, ip_version, epoch, method, path, status, user_agent, request_time)
		SELECT now64(3) - toIntervalSecond(number * 7), 'shop.example', number % 4, 7, 4, 20400, 'GET', concat('/p', toString(number)), 200, 'Mozilla/5.0', 0.01
		FROM numbers(50)`
	if out, errOut, err := vakt(t, "sql", "--data-dir", dataDir, insert); err != nil {
		t.Fatalf("insert: %v\n%s\n%s", err, out, errOut)
	}
	for _, table := range []string{"client_activity_1h", "site_health_1m"} {
		q := "SELECT * FROM vakt." + table + " LIMIT 3"
		for _, format := range []string{"tsv", "csv", "json", "table"} {
			out, errOut, err := vakt(t, "sql", "--data-dir", dataDir, "--format", format, q)
			if err != nil {
				t.Fatalf("vakt sql --format %s %q: %v\n%s", format, q, err, errOut)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			// Rows: tsv and json one a line; csv after a header; table
			// between a header, a rule and the row count.
			rows := map[string]int{"tsv": len(lines), "json": len(lines), "table": len(lines) - 3}[format]
			if format == "csv" {
				// Aggregate states are binary: a cell may hold a newline.
				records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
				if err != nil {
					t.Fatalf("csv: %v\n%s", err, out)
				}
				rows = len(records) - 1
			}
			if rows < 1 || rows > 3 || !strings.Contains(out, "shop.example") {
				t.Fatalf("vakt sql --format %s %q: %d rows:\n%s", format, q, rows, out)
			}
			if format == "json" {
				var row map[string]any
				if err := json.Unmarshal([]byte(lines[0]), &row); err != nil || row["site"] != "shop.example" {
					t.Fatalf("json row %q: %v", lines[0], err)
				}
			}
		}
	}
}
