package analyze

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/store"
)

// exactQuantile is ClickHouse's quantileExact: the element at position
// floor(level*n) of the sorted values (the last for level 1).
func exactQuantile(sorted []float32, level float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	n := len(sorted)
	i := int(level * float64(n))
	if level >= 1 {
		i = n - 1
	}
	return f32(sorted[min(i, n-1)])
}

type expectPoint struct {
	requests, s2, s3, s4, s5, other, bytes uint64
	times                                  []float32
}

func (e *expectPoint) add(r row) {
	e.requests++
	e.bytes += r.bytes
	switch {
	case r.status >= 200 && r.status < 300:
		e.s2++
	case r.status >= 300 && r.status < 400:
		e.s3++
	case r.status >= 400 && r.status < 500:
		e.s4++
	case r.status >= 500 && r.status < 600:
		e.s5++
	default:
		e.other++
	}
	if r.rt != nil {
		e.times = append(e.times, *r.rt)
	}
}

// check compares a health point with the expectation. rankTol 0 wants
// exact percentiles; otherwise a percentile at level q may be any value
// between the exact ones at q-rankTol and q+rankTol (t-digest).
// expectHealth computes from rows what the health report must say for the
// range of wide: totals per site and series points per bucket; each row in
// range is also passed to each, if not nil.
func expectHealth(rows []row, wide Filter, bucket time.Duration, each func(row)) (totals map[string]*expectPoint, series map[[2]any]*expectPoint) {
	totals, series = map[string]*expectPoint{}, map[[2]any]*expectPoint{}
	for _, rw := range rows {
		if rw.ts.Before(wide.Since) || !rw.ts.Before(wide.Until) {
			continue
		}
		k := [2]any{rw.site, rw.ts.Truncate(bucket)}
		if totals[rw.site] == nil {
			totals[rw.site] = &expectPoint{}
		}
		if series[k] == nil {
			series[k] = &expectPoint{}
		}
		totals[rw.site].add(rw)
		series[k].add(rw)
		if each != nil {
			each(rw)
		}
	}
	return totals, series
}

func (e *expectPoint) check(t *testing.T, what string, p HealthPoint, rankTol float64) {
	t.Helper()
	sort.Slice(e.times, func(i, j int) bool { return e.times[i] < e.times[j] })
	got := []uint64{p.Requests, p.Status2xx, p.Status3xx, p.Status4xx, p.Status5xx, p.StatusOther, p.Bytes, p.LatencyKnown}
	want := []uint64{e.requests, e.s2, e.s3, e.s4, e.s5, e.other, e.bytes, uint64(len(e.times))}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: requests, 2xx, 3xx, 4xx, 5xx, other, bytes, timed = %v, want %v", what, got, want)
		}
	}
	same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	for i, q := range []float64{0.5, 0.95, 0.99} {
		g := []float64{p.P50, p.P95, p.P99}[i]
		if rankTol == 0 {
			if w := exactQuantile(e.times, q); !same(g, w) {
				t.Fatalf("%s: p%v = %v, want %v", what, q*100, g, w)
			}
			continue
		}
		if lo, hi := exactQuantile(e.times, q-rankTol), exactQuantile(e.times, min(q+rankTol, 1)); g < lo || g > hi {
			t.Fatalf("%s: p%v = %v, want within [%v, %v]", what, q*100, g, lo, hi)
		}
	}
	if p.ErrorRate != float64(e.s5)/float64(e.requests) || p.ClientErrorRate != float64(e.s4)/float64(e.requests) {
		t.Fatalf("%s: error rates %v %v", what, p.ErrorRate, p.ClientErrorRate)
	}
}

func TestHealthReport(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	r := rand.New(rand.NewPCG(3, 4))
	var rows []row
	for i := range 5000 {
		site := []string{"a.example", "a.example", "b.example"}[i%3]
		rw := row{ts: start.Add(time.Duration(r.Int64N(int64(90 * time.Minute)))), site: site, client: uint64(r.IntN(200)),
			method: "GET", target: "/p/" + strconv.Itoa(r.IntN(30)), status: []uint16{200, 200, 200, 200, 301, 304, 404, 500, 503, 101}[r.IntN(10)],
			bytes: uint64(r.IntN(100000)), ua: firefox}
		if r.Float64() < 0.9 { // some servers do not log request times
			rw.rt = ptr32(float32(r.IntN(3000)) / 1000)
		}
		if rw.target == "/p/7" && rw.rt != nil {
			rw.rt = ptr32(*rw.rt + 5) // the slow path
		}
		rows = append(rows, rw)
	}
	insert(t, conn, db, rows)

	tests := []struct {
		name string
		f    Filter
	}{
		{"all sites, minutes", Filter{Since: start, Until: start.Add(90 * time.Minute), Bucket: time.Minute}},
		{"one site, 15 minutes", Filter{Since: start, Until: start.Add(90 * time.Minute), Site: "b.example", Bucket: 15 * time.Minute}},
		{"unaligned sub-range", Filter{Since: start.Add(17*time.Minute + 30*time.Second), Until: start.Add(61 * time.Minute), Bucket: 5 * time.Minute}},
		{"automatic bucket", Filter{Since: start, Until: start.Add(90 * time.Minute)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := HealthReport(t.Context(), conn, db, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if h.Quantile != QuantileExact {
				t.Fatalf("quantile function %s", h.Quantile)
			}
			f := tc.f.Resolve(time.Now())
			type key struct {
				site string
				t    time.Time
			}
			series := map[key]*expectPoint{}
			totals := map[string]*expectPoint{}
			paths := map[[2]string]*expectPoint{}
			for _, rw := range rows {
				if rw.ts.Before(f.Since) || !rw.ts.Before(f.Until) || (f.Site != "" && rw.site != f.Site) {
					continue
				}
				k := key{rw.site, rw.ts.Truncate(f.Bucket)}
				if series[k] == nil {
					series[k] = &expectPoint{}
				}
				if totals[rw.site] == nil {
					totals[rw.site] = &expectPoint{}
				}
				pk := [2]string{rw.site, rw.target}
				if paths[pk] == nil {
					paths[pk] = &expectPoint{}
				}
				series[k].add(rw)
				totals[rw.site].add(rw)
				paths[pk].add(rw)
			}
			if len(h.Series) != len(series) || len(h.Totals) != len(totals) {
				t.Fatalf("%d series points and %d totals, want %d and %d", len(h.Series), len(h.Totals), len(series), len(totals))
			}
			for i, p := range h.Series {
				e := series[key{p.Site, p.Time}]
				if e == nil {
					t.Fatalf("unexpected point %s %s", p.Site, p.Time)
				}
				e.check(t, p.Site+" "+p.Time.String(), p, 0)
				if i > 0 && (p.Site < h.Series[i-1].Site || p.Site == h.Series[i-1].Site && !p.Time.After(h.Series[i-1].Time)) {
					t.Fatal("series not ordered by site, time")
				}
				covered := minTime(p.Time.Add(f.Bucket), f.Until).Sub(maxTime(p.Time, f.Since)).Seconds()
				if math.Abs(p.RequestsPerSecond-float64(p.Requests)/covered) > 1e-9 {
					t.Fatalf("rate %v over %vs for %d requests", p.RequestsPerSecond, covered, p.Requests)
				}
			}
			for _, p := range h.Totals {
				totals[p.Site].check(t, "total "+p.Site, p, 0)
				if len(p.FailingPaths) == 0 || len(p.SlowestPaths) == 0 {
					t.Fatalf("no path lists for %s", p.Site)
				}
				for _, ps := range p.FailingPaths {
					var f5 uint64
					e := paths[[2]string{p.Site, ps.Path}]
					for _, rw := range rows {
						if rw.site == p.Site && rw.target == ps.Path && rw.status >= 500 && !rw.ts.Before(f.Since) && rw.ts.Before(f.Until) {
							f5++
						}
					}
					if ps.Failures != f5 || ps.Requests != e.requests {
						t.Fatalf("failing path %+v: want %d failures of %d", ps, f5, e.requests)
					}
				}
				if got := p.SlowestPaths[0]; got.Path != "/p/7" {
					t.Fatalf("slowest path of %s is %+v, want /p/7", p.Site, got)
				} else if e := paths[[2]string{p.Site, "/p/7"}]; got.P95 != exactQuantile(sortedTimes(e.times), 0.95) {
					t.Fatalf("p95 of /p/7: %v", got.P95)
				}
			}
			if len(h.FailingPaths) == 0 || len(h.FailingPaths) > PathsPerList || h.SlowestPaths[0].Path != "/p/7" {
				t.Fatalf("overall lists: %+v %+v", h.FailingPaths, h.SlowestPaths)
			}
		})
	}
}

func sortedTimes(v []float32) []float32 {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v
}

func TestHealthReportEmptyAndMissing(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	h, err := HealthReport(t.Context(), conn, db, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Series) != 0 || len(h.Totals) != 0 || h.Filter.Bucket != 5*time.Minute || h.Filter.Until.Sub(h.Filter.Since) != DefaultRange {
		t.Fatalf("empty report %+v", h)
	}
	if _, err := HealthReport(t.Context(), conn, "no_such_db", Filter{}); err == nil {
		t.Fatal("no error for a missing database")
	}
	if _, err := HealthReport(t.Context(), conn, db, Filter{Since: time.Now(), Until: time.Now().Add(-time.Hour)}); err == nil {
		t.Fatal("no error for an empty range")
	}
}

func TestTopReport(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := time.Now().UTC()
	var rows []row
	// Client i sends i+1 requests: the top list is known.
	for i := range 20 {
		for j := range i + 1 {
			rows = append(rows, row{ts: now.Add(-time.Duration(j+1) * time.Second), site: "s", client: uint64(100 + i), net: uint64(i % 4),
				country: []string{"DE", "FR"}[i%2], asn: uint32(64500 + i%3), method: "GET", target: "/p" + strconv.Itoa(j%5), status: 200, ua: "ua" + strconv.Itoa(i%2)})
		}
	}
	insert(t, conn, db, rows)
	top, err := TopReport(t.Context(), conn, db, Filter{Since: now.Add(-time.Hour), Until: now}, 3)
	if err != nil {
		t.Fatal(err)
	}
	total := uint64(len(rows))
	if top.Total != total {
		t.Fatalf("total %d, want %d", top.Total, total)
	}
	count := func(key func(row) string) []TopEntry {
		m := map[string]uint64{}
		for _, r := range rows {
			m[key(r)]++
		}
		var es []TopEntry
		for k, v := range m {
			es = append(es, TopEntry{Key: k, Requests: v, Share: float64(v) / float64(total)})
		}
		sort.Slice(es, func(i, j int) bool {
			if es[i].Requests != es[j].Requests {
				return es[i].Requests > es[j].Requests
			}
			return es[i].Key < es[j].Key
		})
		return es[:min(3, len(es))]
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	tests := []struct {
		name string
		got  []TopEntry
		key  func(row) string
	}{
		{"clients", top.Clients, func(r row) string { return u(r.client) }},
		{"networks", top.Networks, func(r row) string { return u(r.net) }},
		{"paths", top.Paths, func(r row) string { return r.target }},
		{"countries", top.Countries, func(r row) string { return r.country }},
		{"asns", top.ASNs, func(r row) string { return u(uint64(r.asn)) }},
		{"user agents", top.UserAgents, func(r row) string { return r.ua }},
	}
	for _, tc := range tests {
		want := count(tc.key)
		if len(tc.got) != len(want) {
			t.Fatalf("%s: %+v, want %+v", tc.name, tc.got, want)
		}
		for i := range want {
			if tc.got[i].Key != want[i].Key || tc.got[i].Requests != want[i].Requests || math.Abs(tc.got[i].Share-want[i].Share) > 1e-12 {
				t.Fatalf("%s: %+v, want %+v", tc.name, tc.got, want)
			}
		}
	}
}

// TestHealthReportFromRollup: ranges with more requests than
// ExactQuantileMaxRows, or with none left in the requests table, are read
// from the per-minute health rollup.
func TestHealthReportFromRollup(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	r := rand.New(rand.NewPCG(5, 6))
	var rows []row
	for range 4000 {
		rw := row{ts: start.Add(time.Duration(r.Int64N(int64(2 * time.Hour)))), site: []string{"a.example", "b.example"}[r.IntN(2)],
			client: uint64(r.IntN(100)), method: "GET", target: "/p", status: []uint16{200, 200, 304, 404, 503}[r.IntN(5)],
			bytes: uint64(r.IntN(5000)), ua: firefox, rt: ptr32(float32(r.IntN(2000)) / 1000)}
		rows = append(rows, rw)
	}
	insert(t, conn, db, rows)
	f := Filter{Since: start.Add(10*time.Minute + 20*time.Second), Until: start.Add(100 * time.Minute), Bucket: 30 * time.Minute}
	// The rollup covers whole minutes: the range widens to them.
	wide := Filter{Since: start.Add(10 * time.Minute), Until: start.Add(100 * time.Minute), Bucket: 30 * time.Minute}
	expect := func() (map[string]*expectPoint, map[[2]any]*expectPoint) {
		return expectHealth(rows, wide, wide.Bucket, nil)
	}
	saved := ExactQuantileMaxRows
	defer func() { ExactQuantileMaxRows = saved }()
	tests := []struct {
		name     string
		maxExact uint64
		truncate bool
		source   string
	}{
		{"few rows: requests, exact", saved, false, SourceRequests},
		{"many rows: rollup", 100, false, store.HealthTable},
		{"rows expired: rollup", saved, true, store.HealthTable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ExactQuantileMaxRows = tc.maxExact
			if tc.truncate {
				if err := conn.Exec(t.Context(), "TRUNCATE TABLE `"+db+"`.requests"); err != nil {
					t.Fatal(err)
				}
			}
			h, err := HealthReport(t.Context(), conn, db, f)
			if err != nil {
				t.Fatal(err)
			}
			if h.Source != tc.source {
				t.Fatalf("source %s, want %s", h.Source, tc.source)
			}
			if tc.source == SourceRequests {
				return
			}
			if h.Quantile != QuantileTDigest || !h.Filter.Since.Equal(wide.Since) || !h.Filter.Until.Equal(wide.Until) {
				t.Fatalf("quantile %s, range %s to %s", h.Quantile, h.Filter.Since, h.Filter.Until)
			}
			totals, series := expect()
			if len(h.Totals) != 2 || len(h.Series) != len(series) {
				t.Fatalf("%d totals, %d series points; want 2, %d", len(h.Totals), len(h.Series), len(series))
			}
			for _, p := range h.Totals {
				totals[p.Site].check(t, "total "+p.Site, p, 0.02)
			}
			for _, p := range h.Series {
				series[[2]any{p.Site, p.Time}].check(t, p.Site+" "+p.Time.String(), p, 0.03)
			}
		})
	}
}
