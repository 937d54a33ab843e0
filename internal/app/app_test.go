package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// owner is the one process-wide engine owner for these tests (libchdb boots
// one engine per process).
var owner *Engines

func TestMain(m *testing.M) {
	testenv.MainCHDB()
	dir, err := os.MkdirTemp("", "app-test")
	if err != nil {
		panic(err)
	}
	cfg := testConfig(dir)
	owner, err = OpenEngines(context.Background(), cfg, Need{NATS: true, ClickHouse: true}, "test", quiet)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	owner.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testConfig(dataDir string) config.Config {
	cfg := config.Defaults()
	cfg.DataDir = dataDir
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.ClickHouse.Listen = "127.0.0.1:0"
	// A read-only account on the embedded endpoint (TestReadonlyUser);
	// vakt's own user stays "default" without a password.
	cfg.ClickHouse.ReadonlyUser, cfg.ClickHouse.ReadonlyPassword = testReadonlyUser, testReadonlyPassword
	cfg.HTTP.Listen = ""
	return cfg
}

func TestOwnerPublishesItsEngines(t *testing.T) {
	if !owner.Owner {
		t.Fatal("first process on a data dir must own it")
	}
	// A second command on the same data dir finds the owner's engines
	// instead of starting its own.
	e, err := OpenEngines(context.Background(), testConfig(owner.dataDir), Need{NATS: true, ClickHouse: true}, "second", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Owner || e.CHAddr != owner.CHAddr || e.natsURL != owner.natsURL {
		t.Fatalf("second opener: owner=%v ch=%s nats=%s; owner's ch=%s nats=%s", e.Owner, e.CHAddr, e.natsURL, owner.CHAddr, owner.natsURL)
	}
	var one uint8
	if err := e.CH.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query through the owner's endpoint: %v", err)
	}
}

// engineTSV asks the engine itself for TabSeparated output.
func engineTSV(t *testing.T, query string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+owner.CHAddr+"/?"+url.Values{"default_format": {"TabSeparated"}}.Encode(), strings.NewReader(query))
	req.SetBasicAuth(owner.CHConfig.Username, owner.CHConfig.Password)
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
	queries := []string{
		"SELECT 'tab\there' AS s, 'new\nline' AS n, 'back\\\\slash' AS b, NULL AS z, 42 AS i",
		"SELECT toDateTime64('2026-11-25 10:11:12.345', 3, 'UTC') AS ts, toDate('2026-11-25') AS d, toDateTime('2026-11-25 10:11:12', 'UTC') AS dt",
		"SELECT toUInt64(18446744073709551615) AS big, -7 AS neg, 1.5 AS f, toNullable(toUInt16(3)) AS nn",
		"SELECT ['a', 'b'] AS arr, toIPv6('2001:db8::1') AS ip6, toIPv4('192.0.2.1') AS ip4",
		"SELECT number, toString(number) FROM numbers(3)",
	}
	for _, q := range queries {
		var tsv bytes.Buffer
		if err := SQL(ctx, owner.CH, owner.CHConfig, q, FormatTSV, &tsv); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if want := engineTSV(t, q); tsv.String() != want {
			t.Errorf("tsv of %s:\n got %q\nwant %q (the engine's own TabSeparated)", q, tsv.String(), want)
		}
	}

	var js bytes.Buffer
	if err := SQL(ctx, owner.CH, owner.CHConfig, "SELECT number AS n, toUInt64(number) * 1000000000000 AS big, [1,2] AS a, NULL AS z FROM numbers(2)", FormatJSON, &js); err != nil {
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
	if err := SQL(ctx, owner.CH, owner.CHConfig, "SELECT 'a,b' AS x, 'q\"' AS y", FormatCSV, &csvOut); err != nil {
		t.Fatal(err)
	}
	if csvOut.String() != "x,y\n\"a,b\",\"q\"\"\"\n" {
		t.Fatalf("csv %q", csvOut.String())
	}
	if err := SQL(ctx, owner.CH, owner.CHConfig, "SELECT number AS n FROM numbers(2)", FormatTable, &table); err != nil {
		t.Fatal(err)
	}
	if table.String() != "n\n-\n0\n1\n(2 rows)\n" {
		t.Fatalf("table %q", table.String())
	}

	err := SQL(ctx, owner.CH, owner.CHConfig, "SELECT * FROM no_such_table", FormatTable, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ClickHouse error 60") {
		t.Fatalf("error: %v", err)
	}
	if err := SQL(ctx, owner.CH, owner.CHConfig, "SELECT 1", "xml", io.Discard); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Fatalf("bad format: %v", err)
	}
	// DDL runs through Exec and prints nothing.
	var ddl bytes.Buffer
	if err := SQL(ctx, owner.CH, owner.CHConfig, "CREATE TABLE IF NOT EXISTS default.app_t (x UInt8) ENGINE = Memory", FormatTable, &ddl); err != nil || ddl.Len() != 0 {
		t.Fatalf("ddl: %v %q", err, ddl.String())
	}
}

func TestRuntimeFileRemovedOnClose(t *testing.T) {
	if _, err := os.Stat(filepath.Join(owner.dataDir, runtimeFile)); err != nil {
		t.Fatalf("owner has no runtime file: %v", err)
	}
}

func TestReadyReflectsDependencies(t *testing.T) {
	ctx := context.Background()
	r := owner.ready(ctx)
	if !r.Ready || r.NATS != "connected" || r.ClickHouse != "ok" || len(r.Consumers) != 2 {
		t.Fatalf("healthy engines not ready: %+v", r)
	}
	// A process whose ClickHouse is gone is not ready.
	e, err := OpenEngines(ctx, testConfig(owner.dataDir), Need{NATS: true, ClickHouse: true}, "probe", quiet)
	if err != nil {
		t.Fatal(err)
	}
	e.CH.Close()
	if r := e.ready(ctx); r.Ready || r.ClickHouse == "ok" {
		t.Fatalf("closed ClickHouse connection reported ready: %+v", r)
	}
	e.NC.Close()
	if r := e.ready(ctx); r.Ready || r.NATS == "connected" {
		t.Fatalf("closed NATS connection reported ready: %+v", r)
	}
	e.CH, e.NC = nil, nil
	e.Close()
}
