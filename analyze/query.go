package analyze

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// DefaultRange is the range of a report with no Since: the last day.
const DefaultRange = 24 * time.Hour

// paramTime is how time parameters are passed ({since:DateTime64(3, 'UTC')}).
const paramTime = "2006-01-02 15:04:05.000"

var dbRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Resolve returns f with its defaults applied relative to now: Until now,
// Since DefaultRange before Until, and Bucket chosen from the range
// (AutoBucket). Times are UTC.
func (f Filter) Resolve(now time.Time) Filter {
	if f.Until.IsZero() {
		f.Until = now
	}
	if f.Since.IsZero() {
		f.Since = f.Until.Add(-DefaultRange)
	}
	f.Since, f.Until = f.Since.UTC(), f.Until.UTC()
	if f.Bucket <= 0 {
		f.Bucket = AutoBucket(f.Until.Sub(f.Since))
	}
	return f
}

// AutoBucket is the health bucket for a range: the smallest of 1m, 5m,
// 15m, 1h, 6h and 1d that gives at most 300 buckets.
func AutoBucket(span time.Duration) time.Duration {
	for _, b := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour} {
		if span/b <= 300 {
			return b
		}
	}
	return 24 * time.Hour
}

func (f Filter) check() error {
	if !f.Until.After(f.Since) {
		return fmt.Errorf("report: empty range: since %s is not before until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	if f.Bucket < time.Second || f.Bucket%time.Second != 0 {
		return fmt.Errorf("report: bucket %s: use whole seconds, e.g. 1m or 1h", f.Bucket)
	}
	return nil
}

// params are the server-side query parameters every report query gets.
func (f Filter) params() clickhouse.Parameters {
	return clickhouse.Parameters{
		"since": f.Since.UTC().Format(paramTime),
		"until": f.Until.UTC().Format(paramTime),
		"site":  f.Site,
	}
}

// where is the filter every report query over requests applies.
const where = `ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')} AND ({site:String} = '' OR site = {site:String})`

// expand puts the database into a query written with {db}., leaves
// restricted clients out of the tables with client ids (restrict.go) and,
// for a client report's per-offender rules, reads only the rows of the
// offenders it shows (within.go).
func expand(ctx context.Context, query, db string) (string, error) {
	if !dbRE.MatchString(db) {
		return "", fmt.Errorf("report: database %q is not a plain identifier", db)
	}
	query = expandMacros(query)
	if w, ok := withinOf(ctx); ok {
		query = filterClientTables(query, w.condition())
	}
	if len(restrictedOf(ctx)) > 0 {
		query = withoutRestricted(query)
	}
	if s, ok := epochsOf(ctx); ok {
		query = filterClientTables(query, s.condition())
	}
	return strings.ReplaceAll(query, "{db}.", "`"+db+"`."), nil
}

// withParams sets the query parameters, with the restricted clients' and
// a client report's bounds.
func withParams(ctx context.Context, p clickhouse.Parameters) context.Context {
	if l := restrictedOf(ctx); len(l) > 0 {
		p[restrictedParam] = restrictedValue(l)
	}
	if w, ok := withinOf(ctx); ok {
		p[withinParam] = w.value()
	}
	if s, ok := epochsOf(ctx); ok {
		p[epochsParam] = s.value()
	}
	return clickhouse.Context(ctx, clickhouse.WithParameters(p))
}

// chError presents a ClickHouse exception as ClickHouse states it, and
// says what to do about a missing table.
func chError(err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		if ex.Code == 60 || ex.Code == 81 { // UNKNOWN_TABLE, UNKNOWN_DATABASE
			return fmt.Errorf("no data yet (%s): run vakt import or vakt run first: %w", firstLine(ex.Message), err)
		}
		return fmt.Errorf("ClickHouse error %d: %s: %w", ex.Code, firstLine(ex.Message), err)
	}
	return err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// f32 turns a Float32 result into the float64 with the same shortest
// decimal form (0.123 stays 0.123, not 0.12300000339746475). NaN stays NaN.
func f32(v float32) float64 {
	if math.IsNaN(float64(v)) {
		return math.NaN()
	}
	x, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	return x
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// runAtOnce runs the independent queries fs, at most n at a time, starting
// them in their order (callers put the longest first), and returns their
// errors joined.
func runAtOnce(n int, fs ...func() error) error {
	errs := make([]error, len(fs))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, f := range fs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
