package analyze

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/store"
)

// TestHealthReportLongRangeRollups: over days, health reads whole hours
// from the hourly rollup and whole days from the daily path rollup, and the
// ragged edges from the finer sources; every count equals the rows', and
// the failing paths are those of the rows.
func TestHealthReportLongRangeRollups(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	start := time.Now().UTC().Add(-70 * time.Hour).Truncate(time.Hour)
	rows := healthRows(rand.New(rand.NewPCG(7, 8)), 6000, start, 68*time.Hour, 40)
	insert(t, conn, db, rows)
	saved := ExactQuantileMaxRows
	defer func() { ExactQuantileMaxRows = saved }()
	ExactQuantileMaxRows = 100 // read the rollups

	f := Filter{Since: start.Add(5*time.Hour + 10*time.Minute + 20*time.Second), Until: start.Add(60*time.Hour + 7*time.Minute), Bucket: 6 * time.Hour}
	wide := Filter{Since: start.Add(5*time.Hour + 10*time.Minute), Until: f.Until}
	h, err := HealthReport(t.Context(), conn, db, f)
	if err != nil {
		t.Fatal(err)
	}
	type pathKey struct{ site, path string }
	failures, requests := map[pathKey]uint64{}, map[pathKey]uint64{}
	totals, series := expectHealth(rows, wide, f.Bucket, func(rw row) {
		pk := pathKey{rw.site, rw.target}
		requests[pk]++
		if rw.status >= 500 {
			failures[pk]++
		}
	})
	if len(h.Totals) != 2 || len(h.Series) != len(series) {
		t.Fatalf("%d totals, %d series points; want 2, %d", len(h.Totals), len(h.Series), len(series))
	}
	for _, p := range h.Totals {
		totals[p.Site].check(t, "total "+p.Site, p, 0.02)
		if len(p.FailingPaths) != PathsPerList || len(p.SlowestPaths) != PathsPerList {
			t.Fatalf("%s: %d failing, %d slowest paths", p.Site, len(p.FailingPaths), len(p.SlowestPaths))
		}
		for _, fp := range p.FailingPaths {
			k := pathKey{fp.Site, fp.Path}
			if fp.Failures != failures[k] || fp.Requests != requests[k] {
				t.Errorf("%s %s: %d failures of %d requests, want %d of %d", fp.Site, fp.Path, fp.Failures, fp.Requests, failures[k], requests[k])
			}
		}
		// The list is the top: no path left out has more failures.
		least := p.FailingPaths[len(p.FailingPaths)-1].Failures
		listed := map[string]bool{}
		for _, fp := range p.FailingPaths {
			listed[fp.Path] = true
		}
		for k, n := range failures {
			if k.site == p.Site && !listed[k.path] && n > least {
				t.Errorf("%s %s: %d failures, not listed above %d", k.site, k.path, n, least)
			}
		}
	}
	for _, p := range h.Series {
		series[[2]any{p.Site, p.Time}].check(t, p.Site+" "+p.Time.String(), p, 0.03)
	}
}

// TestHealthPathsFromWeeks: over weeks, health's path lists read whole
// weeks from the weekly path rollup (a latency planted there alone shows)
// and are those of the rows; a week whose weekly rows are gone (they
// expire with the week's first day) is read from the daily rollup, with
// the same lists.
func TestHealthPathsFromWeeks(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	start := time.Now().UTC().Add(-22 * 24 * time.Hour).Truncate(time.Hour)
	rows := healthRows(rand.New(rand.NewPCG(9, 10)), 8000, start, 21*24*time.Hour, 60)
	insert(t, conn, db, rows)
	saved := ExactQuantileMaxRows
	defer func() { ExactQuantileMaxRows = saved }()
	ExactQuantileMaxRows = 100 // read the rollups

	f := Filter{Since: start.Add(3*time.Hour + 17*time.Minute), Until: start.Add(21*24*time.Hour - 2*time.Hour)}
	_, weeks := pathParams(t.Context(), f)
	week := monday(f.Since).AddDate(0, 0, 7) // the range's first whole week
	if !weeks || week.AddDate(0, 0, 7).After(f.Until) {
		t.Fatalf("the range %v holds no whole week", f)
	}
	report := func() *Health {
		t.Helper()
		h, err := HealthReport(t.Context(), conn, db, f)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := report()
	type pathKey struct{ site, path string }
	failures, requests := map[pathKey]uint64{}, map[pathKey]uint64{}
	wide := Filter{Since: f.Since.Truncate(time.Minute), Until: f.Until}
	for _, rw := range rows {
		if !rw.ts.Before(wide.Since) && rw.ts.Before(wide.Until) {
			k := pathKey{rw.site, rw.target}
			requests[k]++
			if rw.status >= 500 {
				failures[k]++
			}
		}
	}
	for _, p := range before.Totals {
		if len(p.FailingPaths) != PathsPerList || len(p.SlowestPaths) != PathsPerList {
			t.Fatalf("%s: %d failing, %d slowest paths", p.Site, len(p.FailingPaths), len(p.SlowestPaths))
		}
		for _, fp := range append(slices.Clone(p.FailingPaths), p.SlowestPaths...) {
			k := pathKey{fp.Site, fp.Path}
			if fp.Failures != failures[k] || fp.Requests != requests[k] {
				t.Errorf("%s %s: %d failures of %d requests, want %d of %d", fp.Site, fp.Path, fp.Failures, fp.Requests, failures[k], requests[k])
			}
		}
	}

	// A state of long requests planted in the week's weekly rows, with no
	// requests counted: /p0 of a.example becomes the slowest path.
	exec := func(q string) {
		t.Helper()
		if err := conn.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	weekly := "`" + db + "`." + store.PathsWeeklyTable
	exec("INSERT INTO " + weekly + " SELECT 'a.example', toDate('" + week.Format(time.DateOnly) + "'), '/p0', 0, 0, 0," +
		" quantileTimingState(0.95)(toUInt32(29000)) FROM numbers(5000)")
	planted := report()
	if s := planted.Totals[0]; s.Site != "a.example" || s.SlowestPaths[0].Path != "/p0" || s.SlowestPaths[0].P95 < 20 {
		t.Fatalf("the weekly rollup was not read: a.example's slowest paths %+v", s.SlowestPaths)
	}

	// The week's weekly rows gone: the daily rows answer for it.
	exec("ALTER TABLE " + weekly + " DROP PARTITION '" + week.Format(time.DateOnly) + "'")
	after := report()
	for i, p := range after.Totals {
		b := before.Totals[i]
		if !slices.EqualFunc(p.FailingPaths, b.FailingPaths, samePath) || !slices.EqualFunc(p.SlowestPaths, b.SlowestPaths, samePath) {
			t.Errorf("%s without the week's weekly rows:\nfailing %+v\nslowest %+v\nwith them:\nfailing %+v\nslowest %+v",
				p.Site, p.FailingPaths, p.SlowestPaths, b.FailingPaths, b.SlowestPaths)
		}
	}
}

func samePath(a, b PathStat) bool {
	return a.Site == b.Site && a.Path == b.Path && a.Requests == b.Requests && a.Failures == b.Failures &&
		(a.P95 == b.P95 || math.IsNaN(a.P95) && math.IsNaN(b.P95))
}

// healthRows are n requests to two sites over span from start, for paths
// /p0 to /p<paths-1>, a fifth of them answered 503, with request times up
// to 2 s.
func healthRows(r *rand.Rand, n int, start time.Time, span time.Duration, paths int) []row {
	var rows []row
	for range n {
		rows = append(rows, row{ts: start.Add(time.Duration(r.Int64N(int64(span)))), site: []string{"a.example", "b.example"}[r.IntN(2)],
			client: uint64(r.IntN(100)), method: "GET", target: fmt.Sprintf("/p%d", r.IntN(paths)), status: []uint16{200, 200, 304, 404, 503}[r.IntN(5)],
			bytes: uint64(r.IntN(5000)), ua: firefox, rt: ptr32(float32(r.IntN(2000)) / 1000)})
	}
	return rows
}
