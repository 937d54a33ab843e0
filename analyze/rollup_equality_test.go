package analyze

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject/marks"
)

// rawRulesDir holds each rollup-reading built-in rule as it was written
// over raw rows only: the reference its rollup form must equal.
const rawRulesDir = "testdata/raw-rules"

// offenderKey is what must be equal between a rule's two forms: who was
// caught and with what evidence. Country and ASN come from any(), which
// may pick a different row, and are left out.
func offenderKey(o Offender) string {
	keys := make([]string, 0, len(o.Evidence))
	for k, v := range o.Evidence {
		if math.IsNaN(v) {
			v = -1
		}
		keys = append(keys, fmt.Sprintf("%s=%g", k, v))
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s site=%s id=%s epoch=%d requests=%d first=%s last=%s %s", o.Rule, o.Site, o.ID, o.Epoch, o.Requests,
		o.FirstSeen.Format(time.RFC3339Nano), o.LastSeen.Format(time.RFC3339Nano), strings.Join(keys, " "))
}

// fillBenchData loads the report benchmark's generator (scripts/
// report-bench-fill.sql) at a small size into db: 30 days of sessions with
// labelled attacks of every kind among benign traffic, inserted as the
// store inserts, so the rollup views fill as in production.
func fillBenchData(t *testing.T, db string, sessions int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "scripts", "report-bench-fill.sql"))
	if err != nil {
		t.Fatal(err)
	}
	q := strings.NewReplacer("vakt.requests", "`"+db+"`.requests", "{first_session}", "0",
		"{sessions}", fmt.Sprint(sessions)).Replace(string(b))
	if err := openConn(t).Exec(t.Context(), q); err != nil {
		t.Fatal(err)
	}
}

// fillLabelledData fills db with the benchmark generator's sessions
// (fillBenchData) and, on top, every rule case, each on its own site in
// the last hours; it returns the time the cases are placed before.
func fillLabelledData(t *testing.T, conn driver.Conn, db string, sessions int) time.Time {
	t.Helper()
	fillBenchData(t, db, sessions)
	now := time.Now().UTC()
	var rows []row
	n := 0
	for _, cs := range ruleCases {
		for _, c := range cs {
			n++
			site := fmt.Sprintf("case-%d", n)
			rows = append(rows, background(site, now.Add(-13*time.Hour), 12*time.Hour, 50, 1000, uint64(n))...)
			rows = append(rows, c.rows(site, now.Add(-3*time.Hour))...)
		}
	}
	insert(t, conn, db, rows)
	return now
}

// TestRulesRollupEqualsRawRows is the correctness gate of the signal
// rollup: every built-in rule that reads store.SignalsTable must report
// exactly the offenders, with exactly the evidence, of its raw-row form in
// testdata/raw-rules, both ways, over whole and ragged ranges (edges inside
// an hour), with and without a site, on labelled attack traffic.
func TestRulesRollupEqualsRawRows(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := fillLabelledData(t, conn, db, 30_000)

	raw := map[string]Rule{}
	entries, err := os.ReadDir(rawRulesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(rawRulesDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseRule(e.Name(), b)
		if err != nil {
			t.Fatal(err)
		}
		if readsRollups(r.SQL + r.EpochStage) {
			t.Fatalf("%s: the reference form of a rule reads raw rows only", e.Name())
		}
		raw[r.Name] = r
	}
	ranges := []Filter{
		{Since: now.Add(-31 * 24 * time.Hour), Until: now.Add(time.Hour)},
		{Since: now.Add(-20*24*time.Hour + 17*time.Minute + 3*time.Second), Until: now.Add(-3*24*time.Hour + 41*time.Minute)},
		{Since: now.Add(-20*24*time.Hour + 17*time.Minute), Until: now.Add(-3*24*time.Hour + 41*time.Minute), Site: "www.example.org"},
		{Since: now.Add(-24 * time.Hour), Until: now},
		{Since: now.Add(-2*time.Hour - 25*time.Minute), Until: now.Add(-2*time.Hour + 10*time.Minute)},
	}
	// A tenth of the clients that sent network signals restricted (`vakt subject
	// restrict`): both forms must leave the same rows out, of the requests
	// and of the rollup.
	restricted := restrictedTenth(t, conn, db)
	compared := 0
	for _, r := range loadBuiltin(t) {
		ref, ok := raw[r.Name]
		if !readsRollups(r.SQL + r.EpochStage) {
			if ok {
				t.Errorf("rule %s no longer reads %s or %s: remove %s/%s.yaml", r.Name, store.SignalsTable, store.SignalRowsTable, rawRulesDir, r.Name)
			}
			continue
		}
		if !ok {
			t.Errorf("rule %s reads %s or %s but has no raw-row form in %s to be checked against", r.Name, store.SignalsTable, store.SignalRowsTable, rawRulesDir)
			continue
		}
		ref.Thresholds = r.Thresholds // the shipped thresholds, both ways
		caught := 0
		for _, f := range ranges {
			got, err := r.Offenders(t.Context(), conn, db, f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.Offenders(t.Context(), conn, db, f)
			if err != nil {
				t.Fatal(err)
			}
			caught += len(want)
			diffOffenders(t, fmt.Sprintf("%s over %s..%s site %q", r.Name, f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339), f.Site), got, want)
		}
		if caught == 0 {
			t.Errorf("rule %s caught nobody in any range: the comparison proves nothing", r.Name)
		}
		rctx := WithRestricted(t.Context(), restricted)
		got, err := r.Offenders(rctx, conn, db, ranges[0])
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Offenders(rctx, conn, db, ranges[0])
		if err != nil {
			t.Fatal(err)
		}
		diffOffenders(t, r.Name+" with restricted clients", got, want)
		t.Logf("rule %s with %d clients restricted: %d offenders (range 0)", r.Name, len(restricted), len(want))
		t.Logf("rule %s: %d offenders over %d ranges, equal both ways", r.Name, caught, len(ranges))
		compared++
	}
	if compared == 0 {
		t.Fatal("no rule reads the rollup")
	}
	// A report evaluates the signal rules together, in one query
	// (signalRulesQuery): every rule's offenders, with the same evidence,
	// as its raw-row form's evaluated alone.
	builtin, refs, together := loadBuiltin(t), []Rule{}, 0
	for _, r := range builtin {
		ref := raw[r.Name]
		ref.Thresholds = r.Thresholds
		refs = append(refs, ref)
		if r.Signals != nil {
			together++
		}
	}
	if together < 2 {
		t.Fatalf("%d built-in signal rules: nothing is evaluated together", together)
	}
	reported := 0
	for i, f := range ranges {
		ctx := t.Context()
		if i == 0 {
			ctx = WithRestricted(ctx, restricted)
		}
		got, err := ThreatReport(ctx, conn, db, builtin, f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ThreatReport(ctx, conn, db, refs, f)
		if err != nil {
			t.Fatal(err)
		}
		reported += len(want.Offenders)
		diffOffenders(t, fmt.Sprintf("threat report over %s..%s site %q (restricted: %v)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339), f.Site, i == 0), got.Offenders, want.Offenders)
	}
	if reported == 0 {
		t.Fatal("the threat reports caught nobody: the comparison proves nothing")
	}
	// The top report reads the daily path rollup for whole days: its lists
	// equal those counted from the rows over the same ranges, within the
	// requests' retention (the rollup's oldest day expires whole, at the
	// start of the day the rows' last hour of it expires).
	for _, f := range append(ranges[1:], Filter{Since: now.Add(-29*24*time.Hour - 7*time.Hour), Until: now}) {
		got, err := topReport(t.Context(), conn, db, f, 50, true)
		if err != nil {
			t.Fatal(err)
		}
		want, err := topReport(t.Context(), conn, db, f, 50, false)
		if err != nil {
			t.Fatal(err)
		}
		if want.Total == 0 || len(want.Paths) == 0 {
			t.Fatalf("top over %s..%s: no rows to compare", f.Since, f.Until)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("top over %s..%s site %q from the rollups differs from the rows:\n got %+v\nwant %+v", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339), f.Site, got, want)
		}
	}
}

// readsRollups says whether a rule's SQL reads the signal rollup or the
// signal requests, itself or through the client_totals macro.
func readsRollups(sql string) bool {
	return strings.Contains(sql, store.SignalsTable) || strings.Contains(sql, store.SignalRowsTable) ||
		strings.Contains(sql, "_totals}")
}

// diffOffenders reports each offender only one of got (the form under
// test) and want (the reference) holds.
func diffOffenders(t *testing.T, what string, got, want []Offender) {
	t.Helper()
	set := func(os []Offender) map[string]bool {
		m := map[string]bool{}
		for _, o := range os {
			m[offenderKey(o)] = true
		}
		return m
	}
	g, w := set(got), set(want)
	for k := range w {
		if !g[k] {
			t.Errorf("%s: the reference (raw rows, every row) reports %s; the form under test does not", what, k)
		}
	}
	for k := range g {
		if !w[k] {
			t.Errorf("%s: the form under test reports %s; the reference (raw rows, every row) does not", what, k)
		}
	}
}

// restrictedTenth is one in ten of the clients (by id) that sent a network
// signal: enough to change the evidence of every rule, few enough to leave
// the distributed rules their offenders.
func restrictedTenth(t *testing.T, conn driver.Conn, db string) []marks.Client {
	t.Helper()
	rows, err := conn.Query(t.Context(), "SELECT DISTINCT epoch, client_id FROM `"+db+"`."+store.SignalsTable+
		" WHERE network_signals > 0 AND client_id % 10 = 0")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var l []marks.Client
	for rows.Next() {
		var c marks.Client
		if err := rows.Scan(&c.Epoch, &c.ID); err != nil {
			t.Fatal(err)
		}
		l = append(l, c)
	}
	if len(l) == 0 {
		t.Fatal("no client to restrict")
	}
	return l
}
