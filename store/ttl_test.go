package store

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// windowTotals counts, in each of the three tables, what lies before and
// after cut.
func windowTotals(t *testing.T, conn driver.Conn, db string, cut time.Time) (old, recent totals) {
	t.Helper()
	c := cut.UTC().Format(time.DateTime)
	q := fmt.Sprintf(`SELECT
		(SELECT countIf(ts < toDateTime('%[4]s', 'UTC')) FROM %[1]s), (SELECT sumIf(requests, minute < toDateTime('%[4]s', 'UTC')) FROM %[2]s), (SELECT sumIf(requests, hour < toDateTime('%[4]s', 'UTC')) FROM %[3]s),
		(SELECT countIf(ts >= toDateTime('%[4]s', 'UTC')) FROM %[1]s), (SELECT sumIf(requests, minute >= toDateTime('%[4]s', 'UTC')) FROM %[2]s), (SELECT sumIf(requests, hour >= toDateTime('%[4]s', 'UTC')) FROM %[3]s)`,
		tableName(db, RequestsTable), tableName(db, HealthTable), tableName(db, ClientsTable), c)
	if err := conn.QueryRow(t.Context(), q).Scan(&old.requests, &old.health, &old.clients, &recent.requests, &recent.health, &recent.clients); err != nil {
		t.Fatal(err)
	}
	return old, recent
}

// insertOldAndRecent stores 500 events three days old and 500 an hour old
// through the store's inserter (so the rollups are fed by their views).
func insertOldAndRecent(t *testing.T, conn driver.Conn, db string) {
	t.Helper()
	ins := newCHInserter(conn, db, false)
	for i, base := range []time.Time{time.Now().Add(-3 * 24 * time.Hour), time.Now().Add(-time.Hour)} {
		var r rows
		evs := varied(uint64(i), 500, base, 10*time.Minute)
		for j := range evs {
			r.add(&evs[j], 0)
		}
		if err := ins.insert(t.Context(), fmt.Sprintf("ttl-%d", i), &r); err != nil {
			t.Fatal(err)
		}
	}
}

// waitExpired polls, with SELECTs only, until the old data is gone from all
// three tables; the recent data must stay.
func waitExpired(t *testing.T, conn driver.Conn, db string, cut time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		old, recent := windowTotals(t, conn, db, cut)
		if recent != (totals{500, 500, 500}) {
			t.Fatalf("recent data changed: %+v", recent)
		}
		if old == (totals{}) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %s, expired data is still there: %+v", timeout, old)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTTLExpiresWithoutCommand (acceptance 1): data past its retention
// disappears from the requests table and both rollups through ClickHouse's
// background merges alone: no OPTIMIZE, no DELETE, no statement at all
// after the tables were set up.
func TestTTLExpiresWithoutCommand(t *testing.T) {
	t.Parallel()
	conn := openCH(t, needEngine(t))
	cut := time.Now().Add(-24 * time.Hour)
	oneDay := SchemaConfig{RequestsTTL: day, HealthRollupsTTL: day, MergeWithTTLTimeout: time.Second}

	// Retention shortened on a restart: rows and rollups 3 days old were
	// kept under the default retention, then the next Migrate sets a 1-day
	// TTL. Migrate only alters the TTLs (recomputing each part's expiry);
	// the background merges drop the parts.
	t.Run("retention shortened", func(t *testing.T) {
		db := freshDB(t, conn)
		if err := Migrate(t.Context(), conn, SchemaConfig{Database: db, MergeWithTTLTimeout: time.Second}); err != nil {
			t.Fatal(err)
		}
		insertOldAndRecent(t, conn, db)
		time.Sleep(2 * time.Second) // merges had their chance: nothing must expire under 30 days
		if old, recent := windowTotals(t, conn, db, cut); old != (totals{500, 500, 500}) || recent != (totals{500, 500, 500}) {
			t.Fatalf("before the change: old %+v, recent %+v; want 500 everywhere", old, recent)
		}
		rc := &recordingConn{Conn: conn}
		cfg := oneDay
		cfg.Database = db
		if err := Migrate(t.Context(), rc, cfg); err != nil {
			t.Fatal(err)
		}
		for _, stmt := range rc.execs {
			if !strings.Contains(stmt, " MODIFY TTL ") {
				t.Errorf("Migrate ran more than TTL changes: %s", stmt)
			}
		}
		if len(rc.execs) != len(ttlTables) {
			t.Errorf("Migrate ran %d statements, want the %d TTL changes: %q", len(rc.execs), len(ttlTables), rc.execs)
		}
		took := waitExpired(t, conn, db, cut, 60*time.Second)
		t.Logf("expired data gone %s after the TTL change", took.Round(100*time.Millisecond))
	})

	// Rows dated days ago inserted into tables that already have a 1-day
	// TTL. They are written (their part is in system.parts with rows) and
	// the background merges empty it.
	t.Run("inserted past the TTL", func(t *testing.T) {
		db := freshDB(t, conn)
		cfg := oneDay
		cfg.Database = db
		if err := Migrate(t.Context(), conn, cfg); err != nil {
			t.Fatal(err)
		}
		insertOldAndRecent(t, conn, db)
		took := waitExpired(t, conn, db, cut, 60*time.Second)
		t.Logf("expired data gone %s after the insert", took.Round(100*time.Millisecond))
		old := time.Now().Add(-3 * 24 * time.Hour).UTC().Format(time.DateOnly)
		for _, tbl := range []string{RequestsTable, HealthTable, ClientsTable} {
			var written, active uint64
			q := fmt.Sprintf("SELECT maxIf(rows, NOT active), sumIf(rows, active) FROM system.parts WHERE database = '%s' AND table = '%s' AND partition = '%s'", db, tbl, old)
			if err := conn.QueryRow(t.Context(), q).Scan(&written, &active); err != nil {
				t.Fatal(err)
			}
			if written == 0 || active != 0 {
				t.Errorf("%s: partition %s had an old part of %d rows and has %d active rows; want rows written, then none", tbl, old, written, active)
			}
		}
	})
}
