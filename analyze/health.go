package analyze

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/store"
)

// Quantile functions of the health report's latency percentiles.
const (
	// QuantileExact is ClickHouse's quantileExact: the value at position
	// floor(level*n) of the sorted request times (0-based, the last for
	// level 1), with no interpolation, so a percentile is a request time
	// that really occurred and matches one computed from the log. It keeps
	// every value of a group in memory (4 bytes a request).
	QuantileExact = "quantileExact"
	// QuantileTDigest is ClickHouse's quantileTDigest: bounded memory,
	// typically within 1% of the exact rank. Used when the range holds more
	// than ExactQuantileMaxRows requests.
	QuantileTDigest = "quantileTDigest"
)

// Sources of a health report's series and totals.
const (
	// SourceRequests is the requests table: every figure from the rows.
	SourceRequests = "requests"
	// The other source is store.HealthTable, the per-minute rollup, used
	// when the range holds more than ExactQuantileMaxRows requests or none
	// (older than the requests' retention): t-digest percentiles, and the
	// range widened to whole minutes. Failing and slowest paths always come
	// from the requests table.
)

// rollupWhere filters the health rollup as where filters requests.
const rollupWhere = `minute >= {since:DateTime64(3, 'UTC')} AND minute < {until:DateTime64(3, 'UTC')} AND ({site:String} = '' OR site = {site:String})`

// ExactQuantileMaxRows is the number of requests in a health report's range
// up to which percentiles are exact (about 8 MB of request times at most):
// a day of a site with a million requests a day. Past it the rollups answer
// (at 10 M, the dashboard's 7-day health of such a site took 1.1-1.6 s
// from the rows, 0.3-0.6 s from the rollups).
var ExactQuantileMaxRows uint64 = 2_000_000

// PathsPerList is how many paths the failing and slowest lists keep per
// site.
const PathsPerList = 10

// minSlowPathRequests is how many requests with a logged time a path needs
// to be ranked among the slowest: one slow request is an anecdote.
const minSlowPathRequests = 5

// HealthReport computes site health over f: per site and time bucket
// (f.Bucket) the request rate, status classes, error rates, bytes and
// p50/p95/p99 request time; per site totals; and the failing (most 5xx)
// and slowest (highest p95) paths, per site and over all sites.
func HealthReport(ctx context.Context, conn driver.Conn, db string, f Filter) (*Health, error) {
	f = f.Resolve(time.Now())
	if err := f.check(); err != nil {
		return nil, err
	}
	h := &Health{Filter: f, Series: []HealthPoint{}, Totals: []HealthPoint{}, FailingPaths: []PathStat{}, SlowestPaths: []PathStat{}}
	ctx, f, n, err := h.chooseSource(ctx, conn, db, f)
	if err != nil {
		return nil, err
	}
	if n == 0 && h.Source == SourceRequests {
		return h, nil
	}
	from, cols, tcol := h.queryParts()
	if h.Source != SourceRequests && f.Bucket%time.Hour == 0 {
		// Whole hours from the hourly rollup: 60 times fewer states.
		from, ctx = hourlyHealthFrom(), innerParams(ctx, f, time.Hour)
	}
	bucket := strconv.FormatInt(int64(f.Bucket/time.Second), 10)
	pctx, paths := ctx, ""
	if h.Source != SourceRequests {
		// Whole weeks and days from the path rollups, the edges from the rows.
		var weeks bool
		pctx, weeks = pathParams(ctx, f)
		paths = pathsFrom(weeks)
	}
	// The two are independent: the path lists, the costliest, run beside
	// the series and the totals. Series and totals are one pass over the
	// rows (grouping sets): as two queries they read and aggregated the
	// range twice (24 h of 1 M requests: 0.06 + 0.04 s -> 0.06 s).
	var series, totals []HealthPoint
	var failing, slowest []PathStat
	err = runAtOnce(2, func() (err error) {
		series, totals, err = healthPoints(ctx, conn, db, `SELECT site, toDateTime64(toStartOfInterval(`+tcol+`, INTERVAL `+bucket+` SECOND), 3, 'UTC') AS t,
			grouping(t) = 1 AS total, `+cols+`
			FROM `+from+` GROUP BY GROUPING SETS ((site, t), (site)) ORDER BY site, total, t`)
		return err
	}, func() (err error) {
		failing, slowest, err = pathLists(pctx, conn, db, h.Quantile, paths)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range series {
		p := &series[i]
		start, end := maxTime(p.Time, f.Since), minTime(p.Time.Add(f.Bucket), f.Until)
		p.RequestsPerSecond = float64(p.Requests) / max(end.Sub(start).Seconds(), 1e-3)
	}
	h.Series = series
	for i := range totals {
		totals[i].Time = f.Since.UTC()
		totals[i].RequestsPerSecond = float64(totals[i].Requests) / f.Until.Sub(f.Since).Seconds()
	}
	h.Totals = totals
	h.addPaths(failing, slowest)
	return h, nil
}

// chooseSource picks the quantile function from the number of requests in
// f's range (n, counted no further than the choice needs), and the table
// that answers: the requests, or the per-minute health rollup. It returns
// the query context and the filter to use.
func (h *Health) chooseSource(ctx context.Context, conn driver.Conn, db string, f Filter) (context.Context, Filter, uint64, error) {
	ctx0 := ctx
	ctx = withParams(ctx, f.params())

	// Counted only as far as the choice needs: past ExactQuantileMaxRows
	// the number makes no difference (30 M rows: 0.16 s -> 0.10 s).
	q, err := expand(ctx, "SELECT count() FROM (SELECT 1 FROM {db}.requests WHERE "+where+
		" LIMIT "+strconv.FormatUint(ExactQuantileMaxRows+1, 10)+")", db)
	if err != nil {
		return nil, f, 0, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return nil, f, 0, fmt.Errorf("health: %w", chError(err))
	}
	h.Quantile, h.Source = QuantileExact, SourceRequests
	if n > ExactQuantileMaxRows {
		h.Quantile = QuantileTDigest
	}
	// Many requests (approximate percentiles anyway), or none left (the
	// range is older than the requests' retention): the per-minute health
	// rollup answers from far fewer rows, and keeps 13 months.
	// The rollup cannot leave restricted clients out: with any, the
	// requests answer while they hold rows.
	restricted := len(restrictedOf(ctx0)) > 0 && n > 0
	if f.Bucket%time.Minute == 0 && (n == 0 || n > ExactQuantileMaxRows) && !restricted {
		rf := f
		rf.Since = f.Since.Truncate(time.Minute)
		if rf.Until = f.Until.Truncate(time.Minute); rf.Until.Before(f.Until) {
			rf.Until = rf.Until.Add(time.Minute)
		}
		rctx := withParams(ctx0, rf.params())
		var rn uint64
		if q, err := expand(ctx, "SELECT sum(requests) FROM {db}."+store.HealthTable+" WHERE "+rollupWhere, db); err == nil &&
			conn.QueryRow(rctx, q).Scan(&rn) == nil && rn > 0 {
			f, h.Filter, ctx = rf, rf, rctx
			h.Quantile, h.Source = QuantileTDigest, store.HealthTable
		}
	}
	return ctx, f, n, nil
}

// queryParts are the FROM, the aggregate columns and the time column of
// the health queries, by the source and quantile chosen.
func (h *Health) queryParts() (from, cols, tcol string) {
	from, cols, tcol = "{db}.requests WHERE "+where, `count() AS requests,
		countIf(status >= 200 AND status < 300), countIf(status >= 300 AND status < 400),
		countIf(status >= 400 AND status < 500), countIf(status >= 500 AND status < 600),
		countIf(status < 200 OR status >= 600), sum(bytes), count(request_time), `, "ts"
	switch {
	case h.Source != SourceRequests:
		from, cols, tcol = "{db}."+store.HealthTable+" WHERE "+rollupWhere, `sum(requests) AS requests,
			sum(status_2xx), sum(status_3xx), sum(status_4xx), sum(status_5xx), sum(status_other),
			sum(bytes), sum(latency_known), quantilesTDigestMerge(0.5, 0.95, 0.99)(latency)`, "minute"
	case h.Quantile == QuantileTDigest:
		cols += "quantilesTDigest(0.5, 0.95, 0.99)(request_time)"
	default:
		cols += "quantilesExact(0.5, 0.95, 0.99)(request_time)"
	}
	return from, cols, tcol
}

// addPaths gives each site its failing and slowest paths, and the report
// the overall top ones.
func (h *Health) addPaths(failing, slowest []PathStat) {
	for i := range h.Totals {
		t := &h.Totals[i]
		t.FailingPaths, t.SlowestPaths = []PathStat{}, []PathStat{}
		for _, p := range failing {
			if p.Site == t.Site {
				t.FailingPaths = append(t.FailingPaths, p)
			}
		}
		for _, p := range slowest {
			if p.Site == t.Site {
				t.SlowestPaths = append(t.SlowestPaths, p)
			}
		}
	}
	// Each site's top paths hold the overall top ones.
	sort.SliceStable(failing, func(i, j int) bool {
		if failing[i].Failures != failing[j].Failures {
			return failing[i].Failures > failing[j].Failures
		}
		return failing[i].Requests > failing[j].Requests
	})
	sort.SliceStable(slowest, func(i, j int) bool { return slowest[i].P95 > slowest[j].P95 })
	h.FailingPaths = failing[:min(len(failing), PathsPerList)]
	h.SlowestPaths = slowest[:min(len(slowest), PathsPerList)]
}

// healthPoints runs query, whose rows are a site, a time, whether the row
// is the site's total, and the health aggregates; it returns the series
// and the totals.
func healthPoints(ctx context.Context, conn driver.Conn, db, query string) (series, totals []HealthPoint, err error) {
	q, err := expand(ctx, query, db)
	if err != nil {
		return nil, nil, err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("health: %w", chError(err))
	}
	defer rows.Close()
	series, totals = []HealthPoint{}, []HealthPoint{}
	for rows.Next() {
		var p HealthPoint
		var qs []float32
		var total bool
		if err := rows.Scan(&p.Site, &p.Time, &total, &p.Requests, &p.Status2xx, &p.Status3xx, &p.Status4xx, &p.Status5xx,
			&p.StatusOther, &p.Bytes, &p.LatencyKnown, &qs); err != nil {
			return nil, nil, fmt.Errorf("health: %w", chError(err))
		}
		p.Time = p.Time.UTC()
		p.P50, p.P95, p.P99 = math.NaN(), math.NaN(), math.NaN()
		if p.LatencyKnown > 0 && len(qs) == 3 {
			p.P50, p.P95, p.P99 = f32(qs[0]), f32(qs[1]), f32(qs[2])
		}
		p.ErrorRate = ratio(p.Status5xx, p.Requests)
		p.ClientErrorRate = ratio(p.Status4xx, p.Requests)
		if total {
			totals = append(totals, p)
		} else {
			series = append(series, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("health: %w", chError(err))
	}
	return series, totals, nil
}

// pathLists finds each site's failing paths (most 5xx first) and slowest
// paths (highest p95 of those with minSlowPathRequests timed requests) in
// one pass over the rows: the per-path aggregation is the report's
// costliest step, so it is done once and ranked twice.
//
// from, when set, is a per-path aggregation to read instead of the
// requests (pathsFrom).
func pathLists(ctx context.Context, conn driver.Conn, db, quantile, from string) (failing, slowest []PathStat, err error) {
	p95 := "quantileExact(0.95)(request_time)"
	if quantile == QuantileTDigest {
		p95 = "quantileTDigest(0.95)(request_time)"
	}
	agg := `count() AS requests, countIf(status >= 500) AS failures, ` + p95 + ` AS p95, count(request_time) AS known`
	if from != "" {
		agg = `sum(requests) AS requests, sum(failures) AS failures,
				` + store.PathLatencyP95 + ` AS p95, sum(latency_known) AS known`
	} else {
		from = "{db}.requests WHERE " + where
	}
	// Each site's two lists are its N smallest sort keys (groupArraySorted)
	// in one pass over the per-path aggregation, unfolded to a row per
	// listed path: a window function ranking every path twice took as long
	// again as the aggregation (30 M rows, 30 days: 1.4 -> 0.8 s).
	n, minKnown := strconv.Itoa(PathsPerList), strconv.Itoa(minSlowPathRequests)
	q, err := expand(ctx, `SELECT site, e.1, e.2, e.3, e.4, e.5, e.6, e.7
		FROM
		(
			SELECT site,
				groupArraySortedIf(`+n+`)((-toInt64(failures), -toInt64(requests), path, p95, known), failures > 0) AS failing,
				groupArraySortedIf(`+n+`)((-p95, -toInt64(requests), path, failures, known), known >= `+minKnown+`) AS slowest
			FROM
			(
				SELECT site, path, `+agg+`
				FROM `+from+`
				GROUP BY site, path
			)
			GROUP BY site
		)
		ARRAY JOIN arrayConcat(
			arrayMap(x -> (x.3, toUInt64(-x.2), toUInt64(-x.1), x.4, x.5, true, false), failing),
			arrayMap(x -> (x.3, toUInt64(-x.2), x.4, -x.1, x.5, false, true), slowest)) AS e`, db)
	if err != nil {
		return nil, nil, err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("health paths: %w", chError(err))
	}
	defer rows.Close()
	failing, slowest = []PathStat{}, []PathStat{}
	for rows.Next() {
		var (
			p            PathStat
			p95          *float32
			known        uint64
			fails, slows bool
		)
		if err := rows.Scan(&p.Site, &p.Path, &p.Requests, &p.Failures, &p95, &known, &fails, &slows); err != nil {
			return nil, nil, fmt.Errorf("health paths: %w", chError(err))
		}
		p.P95 = math.NaN()
		if p95 != nil && known > 0 {
			p.P95 = f32(*p95)
		}
		if fails {
			failing = append(failing, p)
		}
		if slows {
			slowest = append(slowest, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("health paths: %w", chError(err))
	}
	sortPaths(failing, func(p PathStat) float64 { return float64(p.Failures) })
	sortPaths(slowest, func(p PathStat) float64 { return p.P95 })
	return failing, slowest, nil
}

// sortPaths orders paths by site, then by key (highest first), requests
// (most first) and path.
func sortPaths(ps []PathStat, key func(PathStat) float64) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		switch {
		case a.Site != b.Site:
			return a.Site < b.Site
		case key(a) != key(b):
			return key(a) > key(b)
		case a.Requests != b.Requests:
			return a.Requests > b.Requests
		}
		return a.Path < b.Path
	})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
