package web

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// threatsView is what a page asks of /api/threats: the offenders of some
// categories whose fields hold a text, sorted by a column, a page of them.
// The report itself is cached per range and site; a view is cut from it per
// request, so that a month's 15,000 offenders (11.7 MB) stay on the server
// while the table shows 250 and filters them as the user types.
type threatsView struct {
	categories []string // any of them; none: every offender
	text       string   // lower case; empty: every offender
	sortKey    string   // a threatSortKeys key; empty: the report's order
	asc        bool
	limit      int // 0: every offender
	offset     int
}

// maxThreatsLimit bounds limit: a page, not the report.
const maxThreatsLimit = 1000

// threatsViewParams are the query parameters of a view.
var threatsViewParams = []string{"category", "q", "sort", "dir", "limit", "offset"}

// threatSortKeys are the table's sortable columns, compared as the page
// did before it asked the server: severity, rules (how many), requests and
// times as numbers, the rest as text.
var threatSortKeys = map[string]func(a, b *offender) int{
	"severity": func(a, b *offender) int { return cmp.Compare(a.Severity, b.Severity) },
	"categories": func(a, b *offender) int {
		return strings.Compare(strings.Join(a.Categories, ","), strings.Join(b.Categories, ","))
	},
	"rules": func(a, b *offender) int { return cmp.Compare(len(a.Rules), len(b.Rules)) },
	"id": func(a, b *offender) int {
		return cmp.Or(strings.Compare(a.Scope, b.Scope), strings.Compare(a.ID, b.ID))
	},
	"site":       func(a, b *offender) int { return strings.Compare(a.Site, b.Site) },
	"requests":   func(a, b *offender) int { return cmp.Compare(a.Requests, b.Requests) },
	"first_seen": func(a, b *offender) int { return a.FirstSeen.Compare(b.FirstSeen) },
	"last_seen":  func(a, b *offender) int { return a.LastSeen.Compare(b.LastSeen) },
	// Origin: the country (none last), then the AS number.
	"origin": func(a, b *offender) int {
		return cmp.Or(strings.Compare(cmp.Or(a.Country, "~"), cmp.Or(b.Country, "~")), cmp.Compare(a.ASN, b.ASN))
	},
}

// parseThreatsView reads a view from q; no view parameter is the whole
// report, as before views existed.
func parseThreatsView(q url.Values) (threatsView, error) {
	var v threatsView
	for _, p := range threatsViewParams {
		if len(q[p]) > 1 {
			return v, badRequest{fmt.Sprintf("%s: give it once (categories: comma-separated)", p)}
		}
	}
	for c := range strings.SplitSeq(q.Get("category"), ",") {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(v.categories, c) {
			v.categories = append(v.categories, c)
		}
	}
	if len(q.Get("q")) > maxSite {
		return v, badRequest{fmt.Sprintf("q: longer than %d bytes", maxSite)}
	}
	v.text = strings.ToLower(strings.TrimSpace(q.Get("q")))
	if v.sortKey = q.Get("sort"); v.sortKey != "" && threatSortKeys[v.sortKey] == nil {
		keys := slices.Sorted(maps.Keys(threatSortKeys))
		return v, badRequest{fmt.Sprintf("sort: %q is not a column; use one of %s", v.sortKey, strings.Join(keys, ", "))}
	}
	switch d := q.Get("dir"); d {
	case "", "desc":
	case "asc":
		v.asc = true
	default:
		return v, badRequest{fmt.Sprintf("dir: %q: use asc or desc (the default)", d)}
	}
	num := func(p string, lo, hi int) (int, error) {
		s := q.Get(p)
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, badRequest{fmt.Sprintf("%s: %q is not a number from %d to %d", p, s, lo, hi)}
		}
		return n, nil
	}
	var err error
	if v.limit, err = num("limit", 1, maxThreatsLimit); err != nil {
		return v, err
	}
	if v.offset, err = num("offset", 0, 1<<30); err != nil {
		return v, err
	}
	return v, nil
}

// apply cuts the view from a report: its categories stay those of every
// offender, Total counts every offender and Matched those the filters keep.
func (v threatsView) apply(r threatsResp) threatsResp {
	out := r
	out.Total = len(r.Offenders)
	if len(v.categories) == 0 && v.text == "" && v.sortKey == "" && v.limit == 0 && v.offset == 0 {
		out.Matched = out.Total
		return out
	}
	kept := make([]int, 0, len(r.Offenders))
	for i := range r.Offenders {
		if v.keeps(&r.Offenders[i]) {
			kept = append(kept, i)
		}
	}
	out.Matched = len(kept)
	if by := threatSortKeys[v.sortKey]; by != nil {
		// Stable: ties keep the report's order (severity, then requests).
		slices.SortStableFunc(kept, func(i, j int) int {
			if v.asc {
				return by(&r.Offenders[i], &r.Offenders[j])
			}
			return by(&r.Offenders[j], &r.Offenders[i])
		})
	}
	kept = kept[min(v.offset, len(kept)):]
	if v.limit > 0 {
		kept = kept[:min(v.limit, len(kept))]
	}
	out.Offenders = make([]offender, len(kept))
	for j, i := range kept {
		out.Offenders[j] = r.Offenders[i]
	}
	return out
}

// keeps reports whether o is in any of the view's categories and holds its
// text (case-insensitive) in its id, site, country, AS number, scope, rules
// or categories.
func (v threatsView) keeps(o *offender) bool {
	if len(v.categories) > 0 && !slices.ContainsFunc(o.Categories, func(c string) bool { return slices.Contains(v.categories, c) }) {
		return false
	}
	if v.text == "" {
		return true
	}
	holds := func(s string) bool { return strings.Contains(strings.ToLower(s), v.text) }
	return holds(o.ID) || holds(o.Site) || holds(o.Country) || holds(strconv.FormatUint(uint64(o.ASN), 10)) || holds(o.Scope) ||
		slices.ContainsFunc(o.Rules, holds) || slices.ContainsFunc(o.Categories, holds)
}

// threatsViewer is /api/threats' viewer.
func threatsViewer(q url.Values) (func(any) any, error) {
	v, err := parseThreatsView(q)
	if err != nil {
		return nil, err
	}
	return func(r any) any { return v.apply(r.(threatsResp)) }, nil
}
