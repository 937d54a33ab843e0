package analyze

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/output"
	"github.com/vakt-dev/vakt/store"
)

// sqlEngine is a connection to the test engine and its configuration, as
// `vakt sql` has them.
func sqlEngine(t *testing.T) (driver.Conn, store.ClickHouseConfig) {
	return openConn(t), store.ClickHouseConfig{Addr: []string{chAddr}, Protocol: store.ProtocolHTTP, Username: testCHUser, Password: testCHPassword}
}

// TestSQLRollupTables: every format prints the rollup tables, whose
// aggregate-state columns clickhouse-go cannot decode, as the engine prints
// them; over HTTP (streamed) and as over the native protocol (formatRow).
func TestSQLRollupTables(t *testing.T) {
	ctx := t.Context()
	conn, chCfg := sqlEngine(t)
	db := "t_sql"
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, conn, store.SchemaConfig{Database: db}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, `INSERT INTO `+db+`.requests (ts, site, client_id, network_id, ip_version, epoch, method, path, status, user_agent, request_time)
		SELECT now64(3) - toIntervalSecond(number * 7), 'shop', number % 4, 7, 4, 20400, 'GET', concat('/p', toString(number)), 200, 'Mozilla/5.0', 0.01
		FROM numbers(50)`); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{store.ClientsTable, store.HealthTable} {
		q := fmt.Sprintf("SELECT * FROM %s.%s LIMIT 3", db, table)
		for _, format := range []string{output.TSV, output.CSV, output.JSON, output.Table} {
			var streamed, formatted bytes.Buffer
			if err := SQL(ctx, conn, chCfg, q, format, &streamed); err != nil {
				t.Fatalf("%s --format %s: %v", q, format, err)
			}
			if lines := strings.Count(streamed.String(), "\n"); lines < 1 || !strings.Contains(streamed.String(), "shop") {
				t.Fatalf("%s --format %s: no rows:\n%s", q, format, streamed.String())
			}
			native := chCfg
			native.Protocol = store.ProtocolNative
			if err := SQL(ctx, conn, native, q, format, &formatted); err != nil {
				t.Fatalf("%s --format %s, formatRow: %v", q, format, err)
			}
			if formatted.String() != streamed.String() {
				t.Errorf("%s --format %s: formatRow\n%q\nstreamed\n%q", q, format, formatted.String(), streamed.String())
			}
		}
	}
	// The statements that are not SELECT print through the driver.
	var show bytes.Buffer
	if err := SQL(ctx, conn, store.ClickHouseConfig{}, "SHOW TABLES FROM "+db, output.CSV, &show); err != nil ||
		!strings.Contains(show.String(), "name\n") || !strings.Contains(show.String(), store.ClientsTable) {
		t.Fatalf("show tables: %v\n%s", err, show.String())
	}
}

// engineTSV asks the engine itself for TabSeparated output.
func engineTSV(t *testing.T, query string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+chAddr+"/?"+url.Values{"default_format": {"TabSeparated"}}.Encode(), strings.NewReader(query))
	req.SetBasicAuth(testCHUser, testCHPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s: %s", query, b)
	}
	return string(b)
}

func TestSQLFormats(t *testing.T) {
	ctx := context.Background()
	conn, chCfg := sqlEngine(t)
	queries := []string{
		"SELECT 'tab\there' AS s, 'new\nline' AS n, 'back\\\\slash' AS b, NULL AS z, 42 AS i",
		"SELECT toDateTime64('2026-11-25 10:11:12.345', 3, 'UTC') AS ts, toDate('2026-11-25') AS d, toDateTime('2026-11-25 10:11:12', 'UTC') AS dt",
		"SELECT toUInt64(18446744073709551615) AS big, -7 AS neg, 1.5 AS f, toNullable(toUInt16(3)) AS nn",
		"SELECT ['a', 'b'] AS arr, toIPv6('2001:db8::1') AS ip6, toIPv4('192.0.2.1') AS ip4",
		"SELECT number, toString(number) FROM numbers(3)",
		// leading comments, as a rule's SQL has them
		"-- a rule's comment\n-- and another\nWITH x AS (SELECT 1 AS n) SELECT n FROM x",
		"/* block\n comment */ # hash comment\n SELECT 2 AS n",
	}
	for _, q := range queries {
		var tsv bytes.Buffer
		if err := SQL(ctx, conn, chCfg, q, output.TSV, &tsv); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if want := engineTSV(t, q); tsv.String() != want {
			t.Errorf("tsv of %s:\n got %q\nwant %q (the engine's own TabSeparated)", q, tsv.String(), want)
		}
	}

	var js bytes.Buffer
	if err := SQL(ctx, conn, chCfg, "SELECT number AS n, toUInt64(number) * 1000000000000 AS big, [1,2] AS a, NULL AS z FROM numbers(2)", output.JSON, &js); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("json lines: %q", js.String())
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &row); err != nil {
		t.Fatal(err)
	}
	if row["big"] != "1000000000000" || row["z"] != nil || fmt.Sprint(row["a"]) != "[1 2]" {
		t.Fatalf("json row %v", row)
	}
	if !strings.HasPrefix(lines[0], `{"n":`) {
		t.Fatalf("json keeps column order: %s", lines[0])
	}

	var csvOut, table bytes.Buffer
	if err := SQL(ctx, conn, chCfg, "SELECT 'a,b' AS x, 'q\"' AS y", output.CSV, &csvOut); err != nil {
		t.Fatal(err)
	}
	if csvOut.String() != "x,y\n\"a,b\",\"q\"\"\"\n" {
		t.Fatalf("csv %q", csvOut.String())
	}
	if err := SQL(ctx, conn, chCfg, "SELECT number AS n FROM numbers(2)", output.Table, &table); err != nil {
		t.Fatal(err)
	}
	if table.String() != "n\n-\n0\n1\n(2 rows)\n" {
		t.Fatalf("table %q", table.String())
	}

	err := SQL(ctx, conn, chCfg, "SELECT * FROM no_such_table", output.Table, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ClickHouse error 60") {
		t.Fatalf("error: %v", err)
	}
	if err := SQL(ctx, conn, chCfg, "SELECT 1", "xml", io.Discard); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("bad format: %v", err)
	}
	// DDL runs through Exec and prints nothing.
	var ddl bytes.Buffer
	if err := SQL(ctx, conn, chCfg, "CREATE TABLE IF NOT EXISTS default.app_t (x UInt8) ENGINE = Memory", output.Table, &ddl); err != nil || ddl.Len() != 0 {
		t.Fatalf("ddl: %v %q", err, ddl.String())
	}
}
