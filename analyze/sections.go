package analyze

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/output"
)

// section is one table of a report.
type section struct {
	name  string
	title string
	cols  []column
	rows  [][]any
}

// column is a report column: its name and ClickHouse type, for rendering.
type column struct{ name, typ string }

func outputColumns(cols []column) []output.Column {
	out := make([]output.Column, len(cols))
	for i, c := range cols {
		out[i] = output.Column{Name: c.name, Type: c.typ}
	}
	return out
}

// writeSections writes each section (or only the one named only): in json,
// every row carries its section's name; in table, csv and tsv each section
// is a table of its own, after a title line in table format and a blank
// line between sections in csv and tsv.
func writeSections(secs []section, only, format string, out io.Writer) error {
	if only != "" {
		var names []string
		for _, s := range secs {
			names = append(names, s.name)
			if s.name == only {
				secs = []section{s}
				break
			}
		}
		if len(secs) != 1 || secs[0].name != only {
			return fmt.Errorf("--section %q: use one of %s", only, strings.Join(names, ", "))
		}
	}
	for i, s := range secs {
		cols := s.cols
		rows := s.rows
		if format == output.JSON {
			cols = append([]column{{"section", "String"}}, cols...)
			rows = make([][]any, len(s.rows))
			for j, r := range s.rows {
				rows[j] = append([]any{s.name}, r...)
			}
		}
		switch {
		case format == output.Table:
			if i > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "%s\n", s.title)
		case (format == output.CSV || format == output.TSV) && i > 0:
			fmt.Fprintln(out)
		}
		w, err := output.NewWriter(format, outputColumns(cols), out)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := w.Row(r); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// num is a float for output: NaN (unknown) becomes NULL, the rest is
// rounded to digits decimals.
func num(v float64, digits int) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

const dt = "DateTime64(3, 'UTC')"

func rangeTitle(f Filter) string {
	site := "all sites"
	if f.Site != "" {
		site = "site " + f.Site
	}
	return fmt.Sprintf("%s, %s to %s", site, f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
}

var healthCols = []column{
	{"site", "String"}, {"time", dt}, {"requests", "UInt64"}, {"requests_per_s", "Float64"},
	{"status_2xx", "UInt64"}, {"status_3xx", "UInt64"}, {"status_4xx", "UInt64"}, {"status_5xx", "UInt64"}, {"status_other", "UInt64"},
	{"error_rate", "Float64"}, {"client_error_rate", "Float64"},
	{"p50_s", "Float64"}, {"p95_s", "Float64"}, {"p99_s", "Float64"}, {"timed", "UInt64"}, {"bytes", "UInt64"},
}

func healthRow(p HealthPoint) []any {
	return []any{p.Site, p.Time, p.Requests, num(p.RequestsPerSecond, 3),
		p.Status2xx, p.Status3xx, p.Status4xx, p.Status5xx, p.StatusOther,
		num(p.ErrorRate, 5), num(p.ClientErrorRate, 5),
		num(p.P50, 6), num(p.P95, 6), num(p.P99, 6), p.LatencyKnown, p.Bytes}
}

var pathCols = []column{{"site", "String"}, {"path", "String"}, {"requests", "UInt64"}, {"failures_5xx", "UInt64"}, {"p95_s", "Float64"}}

func pathRows(ps []PathStat) [][]any {
	rows := [][]any{}
	for _, p := range ps {
		rows = append(rows, []any{p.Site, p.Path, p.Requests, p.Failures, num(p.P95, 6)})
	}
	return rows
}

// HealthSections lays out a health report: totals per site, the series per
// site and bucket, then the failing and slowest paths of each site.
func HealthSections(h *Health) []section {
	f := h.Filter
	totals := section{name: "totals", cols: healthCols,
		title: fmt.Sprintf("Health per site: %s (from %s; latency percentiles by %s)", rangeTitle(f), h.Source, h.Quantile)}
	series := section{name: "series", cols: healthCols,
		title: fmt.Sprintf("Health per site and %s bucket", config.Duration(f.Bucket))}
	failing := section{name: "failing_paths", cols: pathCols, title: "Failing paths (most 5xx) per site"}
	slowest := section{name: "slowest_paths", cols: pathCols, title: "Slowest paths (highest p95 request time) per site"}
	for _, p := range h.Totals {
		totals.rows = append(totals.rows, healthRow(p))
		failing.rows = append(failing.rows, pathRows(p.FailingPaths)...)
		slowest.rows = append(slowest.rows, pathRows(p.SlowestPaths)...)
	}
	for _, p := range h.Series {
		series.rows = append(series.rows, healthRow(p))
	}
	return []section{totals, series, failing, slowest}
}

var threatCols = []column{
	{"severity", "UInt8"}, {"rule", "String"}, {"category", "String"}, {"scope", "String"}, {"site", "String"},
	{"id", "String"}, {"epoch", "UInt32"}, {"requests", "UInt64"}, {"first_seen", dt}, {"last_seen", dt},
	{"country", "String"}, {"asn", "UInt32"}, {"evidence", "String"}, {"signatures", "String"},
}

// ThreatSections lays out a threat report: one row per offender. Evidence
// is a JSON object in json, "name=value ..." otherwise.
func ThreatSections(th *Threats, format string) []section {
	s := section{name: "offenders", cols: threatCols, rows: [][]any{},
		title: fmt.Sprintf("Offenders: %s", rangeTitle(th.Filter))}
	for _, o := range th.Offenders {
		var ev any = o.Evidence
		if format != output.JSON {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(o.Evidence)) {
				parts = append(parts, k+"="+strconv.FormatFloat(o.Evidence[k], 'g', -1, 64))
			}
			ev = strings.Join(parts, " ")
		}
		var sigs any = strings.Join(o.Signatures, ", ")
		if format == output.JSON {
			sigs = append([]string{}, o.Signatures...)
		}
		s.rows = append(s.rows, []any{uint8(o.Severity), o.Rule, o.Category, o.Scope, o.Site, o.ID, o.Epoch, o.Requests,
			o.FirstSeen, o.LastSeen, o.Country, o.ASN, ev, sigs})
	}
	return []section{s}
}

// TopSections lays out a top report: one section per list.
func TopSections(t *Top) []section {
	lists := []struct {
		name, title string
		es          []TopEntry
	}{
		{"clients", "Top clients (pseudonymous ids)", t.Clients},
		{"networks", "Top networks (pseudonymous /24 and /48 ids)", t.Networks},
		{"paths", "Top paths", t.Paths},
		{"countries", "Top countries", t.Countries},
		{"asns", "Top autonomous systems", t.ASNs},
		{"user_agents", "Top user agents", t.UserAgents},
	}
	var out []section
	for _, l := range lists {
		s := section{name: l.name, title: fmt.Sprintf("%s: %s, %d requests", l.title, rangeTitle(t.Filter), t.Total),
			cols: []column{{"rank", "UInt32"}, {"key", "String"}, {"requests", "UInt64"}, {"share", "Float64"}}, rows: [][]any{}}
		if l.name == "asns" {
			s.cols = append(s.cols, column{"as_org", "String"})
		}
		for i, e := range l.es {
			r := []any{uint32(i + 1), e.Key, e.Requests, num(e.Share, 5)}
			if l.name == "asns" {
				r = append(r, e.Label)
			}
			s.rows = append(s.rows, r)
		}
		out = append(out, s)
	}
	return out
}
