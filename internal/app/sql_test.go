package app

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/vakt-dev/vakt/store"
)

// TestSQLRollupTables: every format prints the rollup tables, whose
// aggregate-state columns clickhouse-go cannot decode, as the engine prints
// them; over HTTP (streamed) and as over the native protocol (formatRow).
func TestSQLRollupTables(t *testing.T) {
	ctx := t.Context()
	db := "t_sql"
	if err := owner.CH.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, owner.CH, store.SchemaConfig{Database: db}); err != nil {
		t.Fatal(err)
	}
	if err := owner.CH.Exec(ctx, `INSERT INTO `+db+`.requests (ts, site, client_id, network_id, ip_version, epoch, method, path, status, user_agent, request_time)
		SELECT now64(3) - toIntervalSecond(number * 7), 'shop', number % 4, 7, 4, 20400, 'GET', concat('/p', toString(number)), 200, 'Mozilla/5.0', 0.01
		FROM numbers(50)`); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{store.ClientsTable, store.HealthTable} {
		q := fmt.Sprintf("SELECT * FROM %s.%s LIMIT 3", db, table)
		for _, format := range []string{FormatTSV, FormatCSV, FormatJSON, FormatTable} {
			var streamed, formatted bytes.Buffer
			if err := SQL(ctx, owner.CH, owner.CHConfig, q, format, &streamed); err != nil {
				t.Fatalf("%s --format %s: %v", q, format, err)
			}
			if lines := strings.Count(streamed.String(), "\n"); lines < 1 || !strings.Contains(streamed.String(), "shop") {
				t.Fatalf("%s --format %s: no rows:\n%s", q, format, streamed.String())
			}
			native := owner.CHConfig
			native.Protocol = store.ProtocolNative
			if err := SQL(ctx, owner.CH, native, q, format, &formatted); err != nil {
				t.Fatalf("%s --format %s, formatRow: %v", q, format, err)
			}
			if formatted.String() != streamed.String() {
				t.Errorf("%s --format %s: formatRow\n%q\nstreamed\n%q", q, format, formatted.String(), streamed.String())
			}
		}
	}
	// The statements that are not SELECT print through the driver.
	var show bytes.Buffer
	if err := SQL(ctx, owner.CH, store.ClickHouseConfig{}, "SHOW TABLES FROM "+db, FormatCSV, &show); err != nil ||
		!strings.Contains(show.String(), "name\n") || !strings.Contains(show.String(), store.ClientsTable) {
		t.Fatalf("show tables: %v\n%s", err, show.String())
	}
}
