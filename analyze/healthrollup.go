package analyze

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

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
	// withParams: the edges read the requests, without restricted clients.
	return withParams(ctx, innerParamsOf(f, d))
}

// innerParamsOf is f's parameters with inner_since and inner_until.
func innerParamsOf(f Filter, d time.Duration) clickhouse.Parameters {
	p := f.params()
	since, until := innerRange(f, d)
	p["inner_since"] = since.UTC().Format(paramTime)
	p["inner_until"] = until.UTC().Format(paramTime)
	return p
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

// pathParams adds innerParams' whole days of f's range, and its whole
// UTC weeks (Monday to Monday) as week_since and week_until; weeks says
// whether there is one.
func pathParams(ctx context.Context, f Filter) (_ context.Context, weeks bool) {
	p := innerParamsOf(f, 24*time.Hour)
	since, until := innerRange(f, 24*time.Hour)
	weekSince, weekUntil := monday(since), monday(until)
	if weekSince.Before(since) {
		weekSince = weekSince.AddDate(0, 0, 7)
	}
	p["week_since"] = weekSince.Format(time.DateOnly)
	p["week_until"] = weekUntil.Format(time.DateOnly)
	return withParams(ctx, p), weekSince.Before(weekUntil)
}

// monday is the start of t's UTC week.
func monday(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	return d.AddDate(0, 0, -(int(d.Weekday())+6)%7)
}

// pathsFrom is the per-path aggregation of the range: whole weeks from the
// weekly path rollup (when weeks: the range holds one), the other whole
// days from the daily one, the edges from the requests, with columns site,
// path, requests, failures, latency_known and latency
// (store.PathLatencyState). A week is read from the weekly rollup only
// when its requests there are those of its days in the daily one: a
// week's row expires (TTL) with its first day, while its other days are
// still kept, and erasure rebuilds it after the days.
func pathsFrom(weeks bool) string {
	site := "({site:String} = '' OR site = {site:String})"
	days := "day >= toDate(" + innerSince + ") AND day < toDate(" + innerUntil + ")"
	from := ""
	if weeks {
		complete := `(
				SELECT week FROM
				(
					SELECT week, sum(requests) AS n FROM {db}.` + store.PathsWeeklyTable + `
					WHERE week >= {week_since:Date} AND week < {week_until:Date} AND ` + site + `
					GROUP BY week
				) AS w
				INNER JOIN
				(
					SELECT toMonday(day) AS week, sum(requests) AS n FROM {db}.` + store.PathsTable + `
					WHERE day >= {week_since:Date} AND day < {week_until:Date} AND ` + site + `
					GROUP BY week
				) AS d USING (week, n)
			)`
		from = `
			SELECT site, path, requests, failures, latency_known, latency FROM {db}.` + store.PathsWeeklyTable + `
			WHERE week IN ` + complete + ` AND ` + site + `
			UNION ALL`
		days += " AND toMonday(day) NOT IN " + complete
	}
	return `(` + from + `
			SELECT site, path, requests, failures, latency_known, latency FROM {db}.` + store.PathsTable + `
			WHERE ` + days + ` AND ` + site + `
			UNION ALL
			SELECT site, path, count() AS requests, countIf(status >= 500) AS failures, count(request_time) AS latency_known,
				` + store.PathLatencyState + ` AS latency
			FROM {db}.requests
			WHERE ` + where + ` AND NOT (ts >= ` + innerSince + ` AND ts < ` + innerUntil + `)
			GROUP BY site, path
		)`
}
