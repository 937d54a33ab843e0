package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// recordingConn records the statements run through Exec.
type recordingConn struct {
	driver.Conn
	mu    sync.Mutex
	execs []string
}

func (c *recordingConn) Exec(ctx context.Context, q string, args ...any) error {
	c.mu.Lock()
	c.execs = append(c.execs, q)
	c.mu.Unlock()
	return c.Conn.Exec(ctx, q, args...)
}

func freshDB(t *testing.T, conn driver.Conn) string {
	t.Helper()
	db := "t_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if err := conn.Exec(t.Context(), "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestSchemaParsesOnEngine: every generated statement, of both variants
// and the roles, parses with the engine's own parser. The cluster variant
// cannot run on one embedded node; this is how its SQL meets a real
// ClickHouse parser.
func TestSchemaParsesOnEngine(t *testing.T) {
	t.Parallel()
	conn := openCH(t, needEngine(t))
	for _, tc := range goldenConfigs {
		ddl, err := SchemaSQL(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		roles, err := RoleSQL(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		stmts := append(strings.Split(ddl, ";\n"), roles...)
		s := newSchema(tc.cfg)
		for _, tt := range ttlTables {
			stmts = append(stmts, s.modifyTTL(tt, 3*day))
		}
		n := 0
		for _, stmt := range stmts {
			stmt = strings.TrimSpace(stripComments(stmt))
			if stmt == "" {
				continue
			}
			var formatted string
			if err := conn.QueryRow(t.Context(), "SELECT formatQuery({q:String})", clickhouse.Named("q", stmt)).Scan(&formatted); err != nil {
				t.Errorf("%s: the engine does not parse:\n%s\n%v", tc.name, stmt, err)
			}
			n++
		}
		if n < 12 {
			t.Errorf("%s: only %d statements checked", tc.name, n)
		}
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMigrate: a fresh database gets every migration once; running again
// issues no DDL at all; a retention change alters exactly the tables
// concerned, and the tables then state the new TTLs.
func TestMigrate(t *testing.T) {
	t.Parallel()
	conn := openCH(t, needEngine(t))
	db := freshDB(t, conn)
	rc := &recordingConn{Conn: conn}
	cfg := SchemaConfig{Database: db}

	rep, err := MigrateReport(t.Context(), rc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != len(migrations) || rep.Version != SchemaVersion() || len(rep.TTLChanges) != 0 || len(rep.Warnings) != 0 {
		t.Fatalf("first run: %+v", rep)
	}
	for _, tbl := range []string{RequestsTable, HealthTable, ClientsTable, HealthTable + "_mv", ClientsTable + "_mv"} {
		if has, err := exists(t.Context(), conn, "EXISTS TABLE "+tableName(db, tbl)); err != nil || !has {
			t.Errorf("%s missing after migration: %v", tbl, err)
		}
	}
	got, err := ReadRetention(t.Context(), conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range ConfiguredRetention(cfg) {
		if got[i].TTL != want.TTL || got[i].Table != want.Table {
			t.Errorf("%s: TTL %v in the table, %v configured", want.Table, got[i].TTL, want.TTL)
		}
	}

	rc.execs = nil
	rep, err = MigrateReport(t.Context(), rc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != 0 || len(rep.TTLChanges) != 0 || len(rc.execs) != 0 {
		t.Fatalf("second run changed something: %+v, statements %q", rep, rc.execs)
	}

	changed := SchemaConfig{Database: db, RequestsTTL: 7 * day, HealthRollupsTTL: 90 * day} // client rollups follow requests
	rep, err = MigrateReport(t.Context(), rc, changed)
	if err != nil {
		t.Fatal(err)
	}
	want := []TTLChange{{RequestsTable, 30 * day, 7 * day}, {ClientsTable, 30 * day, 7 * day}, {HealthTable, 396 * day, 90 * day}}
	if len(rep.TTLChanges) != len(want) {
		t.Fatalf("TTL changes %+v, want %+v", rep.TTLChanges, want)
	}
	for i := range want {
		if rep.TTLChanges[i] != want[i] {
			t.Errorf("TTL change %+v, want %+v", rep.TTLChanges[i], want[i])
		}
	}
	for _, tt := range ttlTables {
		create, err := showCreate(t.Context(), conn, db, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if ttl, ok := parseTTL(create, tt.expr); !ok || ttl != tt.ttl(changed.withDefaults()) {
			t.Errorf("%s: TTL %v after the change:\n%s", tt.name, ttl, create)
		}
		for _, s := range []string{"ttl_only_drop_parts = 1", "materialize_ttl_recalculate_only = 1", "non_replicated_deduplication_window = 1000", "PARTITION BY toDate("} {
			if !strings.Contains(create, s) {
				t.Errorf("%s lacks %q:\n%s", tt.name, s, create)
			}
		}
	}
	rc.execs = nil
	if rep, err := MigrateReport(t.Context(), rc, changed); err != nil || len(rep.TTLChanges) != 0 || len(rc.execs) != 0 {
		t.Fatalf("unchanged retention changed the tables: %+v %v %q", rep, err, rc.execs)
	}
}

// TestMigrateConcurrently: replicas starting together on a fresh database
// all succeed and the history holds each version.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	conn := openCH(t, needEngine(t))
	db := freshDB(t, conn)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = Migrate(t.Context(), conn, SchemaConfig{Database: db}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	vs, err := appliedVersions(t.Context(), conn, newSchema(SchemaConfig{Database: db}))
	if err != nil || len(vs) != SchemaVersion() {
		t.Fatalf("versions %v, %v", vs, err)
	}
}

// foundationRequestsSQL is the requests table as vakt made it before
// migrations were recorded.
const foundationRequestsSQL = "CREATE TABLE %s (`ts` DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)), `site` LowCardinality(String), `client_id` UInt64, " +
	"`network_id` UInt64, `ip_version` UInt8, `epoch` UInt32, `country` LowCardinality(String), `asn` UInt32, `as_org` LowCardinality(String), " +
	"`method` LowCardinality(String), `path` String, `query` String, `protocol` LowCardinality(String), `status` UInt16, `bytes` UInt64, " +
	"`referrer` String, `user_agent` String, `host` LowCardinality(String), `request_time` Nullable(Float32), `upstream_time` Nullable(Float32), `flags` UInt32) " +
	"ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (site, toStartOfHour(ts), client_id, ts) TTL toDateTime(ts) + INTERVAL 30 DAY " +
	"SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000"

// TestMigrateFoundationTable: a database made before migrations were
// recorded gets its requests table rebuilt with the current layout (the
// sort order cannot be altered in place), keeps its rows, and gets the
// rollups, which count the rows stored from then on.
func TestMigrateFoundationTable(t *testing.T) {
	t.Parallel()
	conn := openCH(t, needEngine(t))
	db := freshDB(t, conn)
	if err := conn.Exec(t.Context(), "CREATE DATABASE "+quoteIdent(db)); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(t.Context(), strings.Replace(foundationRequestsSQL, "%s", tableName(db, RequestsTable), 1)); err != nil {
		t.Fatal(err)
	}
	// Rows as vakt stored them then (no batch_key column yet).
	if err := conn.Exec(t.Context(), "INSERT INTO "+tableName(db, RequestsTable)+" (ts, site, client_id, status) "+
		"SELECT now64(3) - number, 'example.org', number, 200 FROM numbers(100)"); err != nil {
		t.Fatal(err)
	}
	// The copy reports its progress: from none to all 100 rows.
	var progMu sync.Mutex
	var prog [][2]uint64
	ctx := WithMigrateProgress(t.Context(), func(step string, done, total uint64) {
		progMu.Lock()
		defer progMu.Unlock()
		prog = append(prog, [2]uint64{done, total})
	})
	rep, err := MigrateReport(ctx, conn, SchemaConfig{Database: db})
	if err != nil {
		t.Fatal(err)
	}
	progMu.Lock()
	if len(prog) < 2 || prog[0] != [2]uint64{0, 100} || prog[len(prog)-1] != [2]uint64{100, 100} {
		t.Errorf("copy progress %v, want from [0 100] to [100 100]", prog)
	}
	progMu.Unlock()
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "rebuilt with the current layout, 100 rows copied") || len(rep.Applied) != len(migrations) {
		t.Fatalf("report %+v", rep)
	}
	var pk string
	if err := conn.QueryRow(t.Context(), "SELECT primary_key FROM system.tables WHERE database = {db:String} AND name = 'requests'", clickhouse.Named("db", db)).Scan(&pk); err != nil || pk != "site, toStartOfHour(ts), client_id" {
		t.Errorf("primary key %q after the rebuild (%v)", pk, err)
	}
	if has, err := exists(t.Context(), conn, "EXISTS TABLE "+tableName(db, RequestsTable+"_rebuild")); err != nil || has {
		t.Errorf("the old table was left behind (%v)", err)
	}
	if n := count(t, conn, db); n != 100 {
		t.Errorf("%d rows after migrating, want 100", n)
	}
	// New rows reach the rollups.
	ins := newCHInserter(conn, db, false)
	var r rows
	for i := range 100 {
		e := testEvent(i)
		r.add(&e, 0)
	}
	if err := ins.insert(t.Context(), "after", &r); err != nil {
		t.Fatal(err)
	}
	// The per-minute health holds the 100 stored after the migration; the
	// client activity all 200 (migration 12 refills it from the requests).
	if got := tableTotals(t, conn, db); got != (totals{200, 100, 200}) {
		t.Errorf("totals %+v: want 200 rows, 100 in the health rollup and 200 in the client activity", got)
	}
	// Idempotent: nothing more to do.
	if rep, err := MigrateReport(t.Context(), conn, SchemaConfig{Database: db}); err != nil || len(rep.Warnings)+len(rep.Applied)+len(rep.TTLChanges) != 0 {
		t.Errorf("second run: %+v %v", rep, err)
	}
}

// TestRolesOnEmbeddedEngine records what the embedded engine does with the
// role SQL. chDB serves every session as a user without access management
// (its only user directory is users.xml), so it refuses CREATE ROLE with
// ACCESS_DENIED; the SQL is for a ClickHouse server, where its syntax is
// checked by TestSchemaParsesOnEngine and its content by the goldens. If a
// later engine accepts it, the grants must be the ones asked for.
func TestRolesOnEmbeddedEngine(t *testing.T) {
	conn := openCH(t, needEngine(t))
	db := testDB(t, conn)
	err := CreateRoles(t.Context(), conn, SchemaConfig{Database: db})
	var ex *clickhouse.Exception
	switch {
	case err == nil:
		var grants string
		if err := conn.QueryRow(t.Context(), "SELECT groupArray(access_type || ' ' || table || ' ' || role_name) FROM system.grants WHERE database = {db:String}",
			clickhouse.Named("db", db)).Scan(&grants); err != nil {
			t.Fatal(err)
		}
		t.Logf("the engine accepted the roles: %s", grants)
	case errors.As(err, &ex) && ex.Code == 497:
		t.Logf("the embedded engine refuses access management, as expected: %v", err)
		if !strings.Contains(err.Error(), "CREATE ROLE") {
			t.Errorf("refusal should name the statement: %v", err)
		}
	default:
		t.Fatalf("unexpected error: %v", err)
	}
}
