package analyze

import (
	"fmt"
	"io"
	"math"
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
	{"severity", "UInt8"}, {"rules", "Array(String)"}, {"categories", "Array(String)"}, {"scope", "String"}, {"site", "String"},
	{"id", "String"}, {"epoch", "UInt32"}, {"requests", "UInt64"}, {"first_seen", dt}, {"last_seen", dt},
	{"country", "String"}, {"asn", "UInt32"}, {"evidence", "String"}, {"signatures", "String"},
}

// threatJSONCols keep the fields of the report before offenders were
// grouped (rule, category and evidence: those of the offender's primary,
// highest-severity rule) and add every rule's detection as matches.
var threatJSONCols = []column{
	{"severity", "UInt8"}, {"rule", "String"}, {"category", "String"}, {"scope", "String"}, {"site", "String"},
	{"id", "String"}, {"epoch", "UInt32"}, {"requests", "UInt64"}, {"first_seen", dt}, {"last_seen", dt},
	{"country", "String"}, {"asn", "UInt32"}, {"evidence", "String"},
	{"rules", "Array(String)"}, {"categories", "Array(String)"}, {"matches", "String"}, {"signatures", "Array(String)"},
}

// matchJSON is one rule's detection of a grouped offender, in json.
type matchJSON struct {
	Rule      string         `json:"rule"`
	Category  string         `json:"category"`
	Severity  int            `json:"severity"`
	Requests  uint64         `json:"requests"`
	Evidence  map[string]any `json:"evidence"`
	FirstSeen string         `json:"first_seen"`
	LastSeen  string         `json:"last_seen"`
	// Signatures name the exploit or probe signatures matched, with CVEs.
	Signatures []string `json:"signatures,omitempty"`
}

// ThreatSections lays out a threat report: one row per offender (client,
// network or AS) with every rule that caught it and the highest severity.
// In table, csv and tsv, evidence is "rule: name=value ...; rule2: ...";
// in json, see threatJSONCols.
func ThreatSections(th *Threats, format string) []section {
	s := section{name: "offenders", cols: threatCols, rows: [][]any{},
		title: fmt.Sprintf("Offenders: %s", rangeTitle(th.Filter))}
	if format == output.JSON {
		s.cols = threatJSONCols
	}
	for _, g := range GroupOffenders(th.Offenders) {
		if format != output.JSON {
			s.rows = append(s.rows, []any{uint8(g.Severity), g.Rules(), g.Categories(), g.Scope, g.Site, g.ID, g.Epoch, g.Requests,
				g.FirstSeen, g.LastSeen, g.Country, g.ASN, g.EvidenceText(), strings.Join(g.Signatures(), ", ")})
			continue
		}
		p := g.Matches[0]
		matches := make([]matchJSON, len(g.Matches))
		for i, m := range g.Matches {
			matches[i] = matchJSON{Rule: m.Rule, Category: m.Category, Severity: m.Severity, Requests: m.Requests, Evidence: finite(m.Evidence),
				FirstSeen: m.FirstSeen.UTC().Format(time.RFC3339Nano), LastSeen: m.LastSeen.UTC().Format(time.RFC3339Nano),
				Signatures: append([]string{}, m.Signatures...)}
		}
		s.rows = append(s.rows, []any{uint8(g.Severity), p.Rule, p.Category, g.Scope, g.Site, g.ID, g.Epoch, g.Requests,
			g.FirstSeen, g.LastSeen, g.Country, g.ASN, finite(p.Evidence), g.Rules(), g.Categories(), matches, g.Signatures()})
	}
	return []section{s}
}

// finite makes NaN (NULL) evidence null, which JSON can hold.
func finite(ev map[string]float64) map[string]any {
	out := make(map[string]any, len(ev))
	for k, v := range ev {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[k] = nil
		} else {
			out[k] = v
		}
	}
	return out
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
