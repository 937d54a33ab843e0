package analyze

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestHealthReportLongRangeRollups: over days, health reads whole hours
// from the hourly rollup and whole days from the daily path rollup, and the
// ragged edges from the finer sources; every count equals the rows', and
// the failing paths are those of the rows.
func TestHealthReportLongRangeRollups(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	start := time.Now().UTC().Add(-70 * time.Hour).Truncate(time.Hour)
	r := rand.New(rand.NewPCG(7, 8))
	var rows []row
	for range 6000 {
		rows = append(rows, row{ts: start.Add(time.Duration(r.Int64N(int64(68 * time.Hour)))), site: []string{"a.example", "b.example"}[r.IntN(2)],
			client: uint64(r.IntN(100)), method: "GET", target: fmt.Sprintf("/p%d", r.IntN(40)), status: []uint16{200, 200, 304, 404, 503}[r.IntN(5)],
			bytes: uint64(r.IntN(5000)), ua: firefox, rt: ptr32(float32(r.IntN(2000)) / 1000)})
	}
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
