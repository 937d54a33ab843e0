package store

import (
	"fmt"
	"testing"
	"time"
)

// TestRollupFillsFromExistingRows: a database that had requests before the
// rollups of migrations 7–15 existed gets them filled from those requests,
// equal to what the rollups' views would have made of the same inserts;
// a fresh database skips the fills (there is nothing to read) and ends up
// with the same schema.
func TestRollupFillsFromExistingRows(t *testing.T) {
	t.Parallel()
	conn := openCH(t, needEngine(t))
	db := freshDB(t, conn)
	cfg := SchemaConfig{Database: db}
	if err := Migrate(t.Context(), conn, cfg); err != nil {
		t.Fatal(err)
	}
	ins := newCHInserter(conn, db, false)
	base := time.Now().UTC().Truncate(time.Hour).Add(-50 * time.Hour)
	for b := range 4 {
		var r rows
		for i := range 1500 {
			e := testEvent(b*1500 + i)
			e.Time = base.Add(time.Duration(b*1500+i) * 29 * time.Second) // three days
			e.ClientID %= 97                                              // clients with several requests
			e.Path = fmt.Sprintf("/p/%d", i%40)
			r.add(&e, uint64(b+1))
		}
		if err := ins.insert(t.Context(), fmt.Sprintf("fill-%d", b), &r); err != nil {
			t.Fatal(err)
		}
	}
	queries := map[string]string{
		SignalsTable: "SELECT site, epoch, client_id, hour, network_id, asn, sum(requests), groupBitOr(flags), sum(flagged), sum(refused)," +
			" sum(admin_probes), sum(failed_logins), sum(sensitive), sum(tool_agents), sum(network_signals) FROM %s GROUP BY ALL ORDER BY ALL",
		PathsTable:        "SELECT site, day, path, sum(requests), sum(failures), sum(latency_known) FROM %s GROUP BY ALL ORDER BY ALL",
		PathsWeeklyTable:  "SELECT site, week, path, sum(requests), sum(failures), sum(latency_known), toString(quantileTimingMerge(0.95)(latency)) FROM %s GROUP BY ALL ORDER BY ALL",
		HealthHourlyTable: "SELECT site, hour, sum(requests), sum(status_2xx), sum(status_4xx), sum(status_5xx), sum(bytes), sum(flagged), sum(latency_known) FROM %s GROUP BY ALL ORDER BY ALL",
		SourcesTable:      "SELECT site, day, country, asn, as_org, user_agent, sum(requests) FROM %s GROUP BY ALL ORDER BY ALL",
		EpochsTable:       "SELECT site, day, epoch, sum(requests), min(first_ts), max(end_ts) FROM %s GROUP BY ALL ORDER BY ALL",
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		for table, q := range queries {
			var s string
			if err := conn.QueryRow(t.Context(), "SELECT toString(groupArray(tuple(*))) FROM ("+fmt.Sprintf(q, tableName(db, table))+")").Scan(&s); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			out[table] = s
		}
		return out
	}
	fromViews := snapshot()
	for table, s := range fromViews {
		if len(s) < 100 {
			t.Fatalf("%s holds almost nothing after the inserts: %s", table, s)
		}
	}

	// As before migration 7: no rollup of 7–15, no record of them.
	// (The weekly paths before the daily ones its view reads.)
	for _, table := range []string{SignalsTable, PathsWeeklyTable, PathsTable, HealthHourlyTable, SourcesTable, EpochsTable} {
		for _, stmt := range []string{"DROP VIEW " + tableName(db, table+"_mv"), "DROP TABLE " + tableName(db, table)} {
			if err := conn.Exec(t.Context(), stmt); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := conn.Exec(t.Context(), "ALTER TABLE "+tableName(db, MigrationsTable)+" DELETE WHERE version >= 7 SETTINGS mutations_sync = 2"); err != nil {
		t.Fatal(err)
	}
	rep, err := MigrateReport(t.Context(), conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied) != SchemaVersion()-6 || rep.Applied[0].Version != 7 {
		t.Fatalf("applied %+v, want migrations 7 to %d", rep.Applied, SchemaVersion())
	}
	filled := snapshot()
	for table, want := range fromViews {
		if filled[table] != want {
			t.Errorf("%s filled from the requests differs from what its view made:\nfilled %.300s\nviews  %.300s", table, filled[table], want)
		}
	}
}
