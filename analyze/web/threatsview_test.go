package web

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func viewOf(t *testing.T, query string) threatsView {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseThreatsView(q)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func ids(r threatsResp) string {
	var out []string
	for _, o := range r.Offenders {
		out = append(out, o.ID)
	}
	return strings.Join(out, " ")
}

// TestThreatsView cuts views from a report of five offenders, in the
// report's order (severity, then requests).
func TestThreatsView(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	report := threatsResp{Offenders: []offender{
		{ID: "a1", Scope: "client", Site: "shop.example", Severity: 5, Requests: 40, Country: "DE", ASN: 3320,
			Rules: []string{"sql-injection"}, Categories: []string{"sql_injection"}, FirstSeen: at, LastSeen: at.Add(3 * time.Hour)},
		{ID: "b2", Scope: "network", Site: "blog.example", Severity: 4, Requests: 900, Country: "", ASN: 0,
			Rules: []string{"xss", "scanning"}, Categories: []string{"xss", "scanning"}, FirstSeen: at.Add(time.Hour), LastSeen: at.Add(time.Hour)},
		{ID: "c3", Scope: "client", Site: "shop.example", Severity: 4, Requests: 900, Country: "US", ASN: 15169,
			Rules: []string{"scanning"}, Categories: []string{"scanning"}, FirstSeen: at.Add(-time.Hour), LastSeen: at.Add(2 * time.Hour)},
		{ID: "D4", Scope: "asn", Site: "", Severity: 3, Requests: 7, Country: "NL", ASN: 1136,
			Rules: []string{"distributed-asn"}, Categories: []string{"distributed"}, FirstSeen: at, LastSeen: at},
		{ID: "e5", Scope: "client", Site: "api.example", Severity: 2, Requests: 7, Country: "DE", ASN: 1136,
			Rules: []string{"tool-user-agent"}, Categories: []string{"tool"}, FirstSeen: at, LastSeen: at},
	}}
	for _, c := range []struct {
		query, want string
		matched     int
	}{
		{"", "a1 b2 c3 D4 e5", 5},
		{"category=scanning", "b2 c3", 2},
		{"category=xss,tool", "b2 e5", 2},
		{"category=nothing", "", 0},
		{"q=DE", "a1 e5", 2},            // the country, whatever its case
		{"q=d4", "D4", 1},               // the id
		{"q=1136", "D4 e5", 2},          // the AS number
		{"q=network", "b2", 1},          // the scope
		{"q=shop", "a1 c3", 2},          // the site
		{"q=sql", "a1", 1},              // a rule or category
		{"q=de&category=tool", "e5", 1}, // both
		// Sorted: ties keep the report's order, either way.
		{"sort=requests", "b2 c3 a1 D4 e5", 5},
		{"sort=requests&dir=asc", "D4 e5 a1 b2 c3", 5},
		{"sort=rules", "b2 a1 c3 D4 e5", 5},
		{"sort=first_seen&dir=asc", "c3 a1 D4 e5 b2", 5},
		{"sort=last_seen", "a1 c3 b2 D4 e5", 5},
		{"sort=origin&dir=asc", "e5 a1 D4 c3 b2", 5}, // no country last
		{"sort=id&dir=asc", "D4 a1 c3 e5 b2", 5},     // scope, then id
		{"sort=site&dir=asc", "D4 e5 b2 a1 c3", 5},
		{"sort=categories&dir=asc", "D4 c3 a1 e5 b2", 5},
		// Pages.
		{"limit=2", "a1 b2", 5},
		{"limit=2&offset=2", "c3 D4", 5},
		{"limit=2&offset=4", "e5", 5},
		{"offset=9", "", 5},
		{"sort=requests&dir=asc&limit=1&offset=1&category=tool,distributed", "e5", 2},
	} {
		got := viewOf(t, c.query).apply(report)
		if ids(got) != c.want || got.Matched != c.matched || got.Total != 5 {
			t.Errorf("%q: %q, matched %d of %d; want %q, matched %d of 5", c.query, ids(got), got.Matched, got.Total, c.want, c.matched)
		}
	}
	if ids(report) != "a1 b2 c3 D4 e5" {
		t.Errorf("a view changed the cached report: %s", ids(report))
	}
}

func TestThreatsViewBadParameters(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{"sort=bogus", "sort: \"bogus\" is not a column; use one of categories, first_seen, id, last_seen, origin, requests, rules, severity, site"},
		{"dir=up", "dir:"},
		{"limit=0", "limit:"},
		{"limit=1001", "limit:"},
		{"limit=ten", "limit:"},
		{"offset=-1", "offset:"},
		{"category=xss&category=tool", "category: give it once"},
		{"q=" + strings.Repeat("x", 300), "q: longer"},
	} {
		q, _ := url.ParseQuery(c.query)
		_, err := parseThreatsView(q)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%.40s: %v; want an error starting %q", c.query, err, c.want)
		}
		if _, ok := err.(badRequest); !ok {
			t.Errorf("%.40s: %T, want a badRequest (HTTP 400)", c.query, err)
		}
	}
}

// FuzzThreatsView: a page is the run of the filtered, sorted offenders at
// its offset, whatever the view.
func FuzzThreatsView(f *testing.F) {
	f.Add("xss", "e", "requests", true, 3, 1, uint64(0x1234))
	f.Add("", "", "", false, 0, 0, uint64(0))
	f.Fuzz(func(t *testing.T, category, text, sortKey string, asc bool, limit, offset int, seed uint64) {
		if threatSortKeys[sortKey] == nil {
			sortKey = ""
		}
		cats := []string{"xss", "scanning", "tool"}
		var r threatsResp
		for i := range 12 {
			b := seed >> (i * 5)
			r.Offenders = append(r.Offenders, offender{ID: string(rune('a' + i)), Severity: int(b % 3), Requests: b % 4,
				Categories: []string{cats[b%3]}, Rules: slices.Repeat([]string{"r"}, int(b%2)+1)})
		}
		v := threatsView{text: strings.ToLower(text), sortKey: sortKey, asc: asc, limit: max(limit, 0) % 20, offset: max(offset, 0) % 20}
		if category != "" {
			v.categories = []string{category}
		}
		all := v
		all.limit, all.offset = 0, 0
		whole := all.apply(r)
		page := v.apply(r)
		if whole.Matched != len(whole.Offenders) || page.Matched != whole.Matched || page.Total != len(r.Offenders) {
			t.Fatalf("matched %d, %d offenders, page matched %d, total %d", whole.Matched, len(whole.Offenders), page.Matched, page.Total)
		}
		from := min(v.offset, len(whole.Offenders))
		to := len(whole.Offenders)
		if v.limit > 0 {
			to = min(from+v.limit, to)
		}
		if ids(page) != ids(threatsResp{Offenders: whole.Offenders[from:to]}) {
			t.Fatalf("page %q of %q at %d+%d", ids(page), ids(whole), v.offset, v.limit)
		}
		for i, o := range whole.Offenders {
			if !v.keeps(&o) {
				t.Fatalf("%s kept", o.ID)
			}
			if by := threatSortKeys[sortKey]; by != nil && i > 0 {
				c := by(&whole.Offenders[i-1], &o)
				if (asc && c > 0) || (!asc && c < 0) {
					t.Fatalf("out of order at %d: %q", i, ids(whole))
				}
			}
		}
	})
}
