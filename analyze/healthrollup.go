package analyze

import (
	"context"
	"time"

	"github.com/vakt-dev/vakt/store"
)

// Long ranges read coarser rollups for their whole hours or days and the
// finer source for the ragged edges only, so the figures are those of the
// finer source over the same range (sums are exact; t-digest states merge
// in a different order, within the t-digest's accuracy).

// innerParams adds the whole units of d inside f's range as the
// parameters inner_since and inner_until (inner_since > inner_until when
// the range holds no whole unit; the queries then read no coarse rows).
func innerParams(ctx context.Context, f Filter, d time.Duration) context.Context {
	p := f.params()
	since, until := innerRange(f, d)
	p["inner_since"] = since.UTC().Format(paramTime)
	p["inner_until"] = until.UTC().Format(paramTime)
	// withParams: the edges read the requests, without restricted clients.
	return withParams(ctx, p)
}

// innerRange is the whole units of d inside f's range: empty (since not
// before until) when the range holds none.
func innerRange(f Filter, d time.Duration) (since, until time.Time) {
	since = f.Since.Truncate(d)
	if since.Before(f.Since) {
		since = since.Add(d)
	}
	return since, f.Until.Truncate(d)
}

const (
	innerSince = "{inner_since:DateTime64(3, 'UTC')}"
	innerUntil = "{inner_until:DateTime64(3, 'UTC')}"
)

// hourlyHealthFrom is the per-minute rollup's rows of the range with its
// whole hours replaced by the hourly rollup's: a FROM for healthPoints
// with the time column "minute".
func hourlyHealthFrom() string {
	cols := "requests, status_2xx, status_3xx, status_4xx, status_5xx, status_other, bytes, latency_known, latency"
	return `(
			SELECT site, hour AS minute, ` + cols + ` FROM {db}.` + store.HealthHourlyTable + `
			WHERE hour >= ` + innerSince + ` AND hour < ` + innerUntil + ` AND ({site:String} = '' OR site = {site:String})
			UNION ALL
			SELECT site, minute, ` + cols + ` FROM {db}.` + store.HealthTable + `
			WHERE ` + rollupWhere + ` AND NOT (minute >= ` + innerSince + ` AND minute < ` + innerUntil + `)
		)`
}

// dailyPathsFrom is the per-path aggregation of the range: whole days from
// the daily path rollup, the edges from the requests, with columns site,
// path, requests, failures, latency_known and latency (store.PathLatencyState).
func dailyPathsFrom() string {
	return `(
			SELECT site, path, requests, failures, latency_known, latency FROM {db}.` + store.PathsTable + `
			WHERE day >= toDate(` + innerSince + `) AND day < toDate(` + innerUntil + `) AND ({site:String} = '' OR site = {site:String})
			UNION ALL
			SELECT site, path, count() AS requests, countIf(status >= 500) AS failures, count(request_time) AS latency_known,
				` + store.PathLatencyState + ` AS latency
			FROM {db}.requests
			WHERE ` + where + ` AND NOT (ts >= ` + innerSince + ` AND ts < ` + innerUntil + `)
			GROUP BY site, path
		)`
}
