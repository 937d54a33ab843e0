package analyze

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/output"
)

// Reports of `vakt report`.
var ReportNames = []string{"health", "threats", "top", "client"}

// ReportOptions are the flags of `vakt report`.
type ReportOptions struct {
	// Since and Until take a duration back from now ("24h", "7d") or an
	// RFC 3339 time (or a date, 2006-01-02, meaning its UTC midnight).
	// Empty Since: 24h; empty Until: now.
	Since, Until string
	Site         string
	Format       string // table, json, csv or tsv
	// Section limits the output to one section (health: totals, series,
	// failing_paths, slowest_paths; top: clients, networks, paths,
	// countries, asns, user_agents).
	Section string
	Bucket  time.Duration // health series bucket; 0 chooses from the range
	N       int           // top list length
	// RulesDir adds to or overrides rules, after rules.dir.
	RulesDir string
	// Rules, when not empty, are the only rules threats runs (by name).
	Rules []string
	// Client: the id investigated, its scope (client, network or asn;
	// empty: client) and salt epoch (0: every epoch).
	ID    string
	Scope string
	Epoch uint32
}

// ParseReportTime reads a --since or --until value: a duration back from
// now, or an RFC 3339 time, or a date (UTC midnight).
func ParseReportTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither a duration back from now (24h, 7d) nor an RFC 3339 time (2006-01-02T15:04:05Z)", s)
	}
	return now.Add(-d.D()).UTC(), nil
}

// ReportFilter turns the options into a report filter.
func (o ReportOptions) ReportFilter(now time.Time) (Filter, error) {
	since, err := ParseReportTime(o.Since, now)
	if err != nil {
		return Filter{}, fmt.Errorf("--since: %w", err)
	}
	until, err := ParseReportTime(o.Until, now)
	if err != nil {
		return Filter{}, fmt.Errorf("--until: %w", err)
	}
	f := Filter{Since: since, Until: until, Site: o.Site, Bucket: o.Bucket}.Resolve(now)
	if !f.Until.After(f.Since) {
		return f, fmt.Errorf("--since %s is not before --until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return f, nil
}

// ReportRequest is a `vakt report` ready to run: its report, checked
// options, range and (for threats) rules.
type ReportRequest struct {
	Name    string
	Options ReportOptions
	Filter  Filter
	Rules   []Rule
}

// NewReportRequest checks a `vakt report NAME` before any engine starts:
// the name, the format, the range and, for threats, the rule files (those
// of ruleDir, the configured rules.dir, then o.RulesDir).
func NewReportRequest(name string, o ReportOptions, ruleDir string, now time.Time) (*ReportRequest, error) {
	if !slices.Contains(ReportNames, name) {
		return nil, fmt.Errorf("unknown report %q: use health, threats, top or client", name)
	}
	if name == "client" {
		if o.ID == "" {
			return nil, errNoClientID
		}
		if err := (ClientQuery{Scope: o.Scope, ID: o.ID}).Check(); err != nil {
			return nil, fmt.Errorf("report client: %w", err)
		}
	}
	if o.Format == "" {
		o.Format = output.Table
	}
	if err := output.Check(o.Format); err != nil {
		return nil, err
	}
	f, err := o.ReportFilter(now)
	if err != nil {
		return nil, err
	}
	r := &ReportRequest{Name: name, Options: o, Filter: f}
	if name == "threats" || name == "client" {
		rules, err := LoadRules(ruleDir, o.RulesDir)
		if err != nil {
			return nil, err
		}
		if r.Rules, err = selectRules(rules, o.Rules); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Write computes the report over the store (database db) and writes it to
// out in the requested format. A threats report whose rules partly failed
// is written, then the failure returned.
func (r *ReportRequest) Write(ctx context.Context, conn driver.Conn, db string, log *slog.Logger, out io.Writer) error {
	f, o := r.Filter, r.Options
	var secs []section
	var runErr error
	switch r.Name {
	case "health":
		h, err := HealthReport(ctx, conn, db, f)
		if err != nil {
			return err
		}
		secs = HealthSections(h)
	case "threats":
		th, err := ThreatReport(ctx, conn, db, r.Rules, f)
		if th == nil {
			return err
		}
		for _, rt := range th.Took {
			log.Debug("rule evaluated", "rule", rt.Rule, "took", rt.Took.Round(time.Millisecond))
		}
		th.Epochs.Log(log)
		runErr = err
		secs = ThreatSections(th, o.Format)
	case "top":
		t, err := TopReport(ctx, conn, db, f, o.N)
		if err != nil {
			return err
		}
		secs = TopSections(t)
	case "client":
		c, err := ClientReport(ctx, conn, db, r.Rules, f, ClientQuery{Scope: o.Scope, ID: o.ID, Epoch: o.Epoch, N: o.N})
		if c == nil {
			return err
		}
		runErr = err
		secs = ClientSections(c, o.Format)
	}
	if err := writeSections(secs, o.Section, o.Format, out); err != nil {
		return err
	}
	return runErr
}

// errNoReport is returned for a missing report name.
var errNoReport = errors.New("name a report: health, threats, top or client")

// selectRules keeps the rules named in names, all of them when names is
// empty; an unknown name is an error that lists the known ones.
func selectRules(rules []Rule, names []string) ([]Rule, error) {
	if len(names) == 0 {
		return rules, nil
	}
	byName := map[string]Rule{}
	var known []string
	for _, r := range rules {
		byName[r.Name] = r
		known = append(known, r.Name)
	}
	var out []Rule
	for _, n := range names {
		r, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("report threats: --rule %q: no such rule; the rules are %s", n, strings.Join(known, ", "))
		}
		out = append(out, r)
	}
	return out, nil
}

// ReportName checks the report name argument.
func ReportName(args []string) (string, error) {
	name, _, err := ReportArgs(args)
	return name, err
}

// ReportArgs checks the arguments of `vakt report`: the report name, and
// for client the id investigated.
func ReportArgs(args []string) (name, id string, err error) {
	if len(args) == 0 {
		return "", "", errNoReport
	}
	name, rest := args[0], args[1:]
	if name == "client" {
		if len(rest) == 0 {
			return name, "", errNoClientID
		}
		id, rest = rest[0], rest[1:]
		if len(rest) > 0 {
			return "", "", fmt.Errorf("unexpected arguments after the id: %q (put flags before the id: vakt report client --epoch E ID)", rest)
		}
	}
	if len(rest) > 0 {
		return "", "", fmt.Errorf("unexpected arguments after the report name: %q (flags go before or right after the name)", rest)
	}
	return name, id, nil
}
