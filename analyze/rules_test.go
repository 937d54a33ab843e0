package analyze

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ruleCase is one side of a rule's test: traffic on top of the benign
// background, and the offender ids the rule must report (none for a
// negative case).
type ruleCase struct {
	name string
	rows func(site string, at time.Time) []row
	want []string
}

const attacker = 900_001

func one(id uint64) []string { return []string{strconv.FormatUint(id, 10)} }

func client(id uint64, site string, ua string) func(i int) row {
	return func(i int) row {
		return row{site: site, client: id, net: id / 4, method: "GET", ua: ua, status: 404, bytes: 150, rt: ptr32(0.002)}
	}
}

func with(mk func(int) row, f func(i int, r *row)) func(int) row {
	return func(i int) row { r := mk(i); f(i, &r); return r }
}

var firefox = browserUAs[1]

// ruleCases has a positive and a negative case (or more) for every
// shipped rule; TestEveryRuleHasCases keeps it that way.
var ruleCases = map[string][]ruleCase{
	"scanning": {
		{"word-list scan", func(site string, at time.Time) []row {
			return burst(40, at, 2*time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target = fmt.Sprintf("/%s", []string{"backup", "old", "test", "dev", "tmp", "upload", "files", "data"}[i%8]+strconv.Itoa(i))
			}))
		}, one(attacker)},
		{"slow scan: one probe every 40 minutes, over 10 hours", func(site string, at time.Time) []row {
			// CrowdSec's http-probing bucket (capacity 10, leak 10s) never
			// fills at this pace; a windowed distinct count does.
			return burst(15, at.Add(-8*time.Hour), 40*time.Minute, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target = "/probe-" + strconv.Itoa(i)
			}))
		}, one(attacker)},
		{"negative: busy reader with a dozen stale links", func(site string, at time.Time) []row {
			return burst(300, at, 10*time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target, r.status = benignPages[i%len(benignPages)], 200
				if i%25 == 0 {
					r.target, r.status = "/blog/removed-"+strconv.Itoa(i), 404
				}
			}))
		}, nil},
	},
	"sensitive-file-probe": {
		{"dotfiles, backups and keys", func(site string, at time.Time) []row {
			paths := []string{"/.env", "/.git/config", "/wp-config.php.bak", "/backup.sql", "/.aws/credentials", "/server.key"}
			return burst(len(paths), at, 3*time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target = paths[i] }))
		}, one(attacker)},
		{"negative: one stray request and well-known files", func(site string, at time.Time) []row {
			paths := []string{"/.env", "/robots.txt", "/.well-known/security.txt", "/sitemap.xml", "/", "/blog"}
			return burst(len(paths), at, 3*time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target = paths[i] }))
		}, nil},
	},
	"admin-probe": {
		{"admin panels answered 404", func(site string, at time.Time) []row {
			paths := []string{"/phpmyadmin/", "/pma/", "/admin/", "/manager/html", "/jenkins/login", "/actuator/env"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target = paths[i] }))
		}, one(attacker)},
		{"negative: the site's administrator", func(site string, at time.Time) []row {
			return burst(40, at, 30*time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target, r.status = []string{"/wp-admin/", "/wp-admin/edit.php", "/admin/", "/admin/users"}[i%4], []uint16{200, 302}[i%2]
			}))
		}, nil},
	},
	"path-traversal": {
		{"traversal, plain and encoded", func(site string, at time.Time) []row {
			paths := []string{"/static/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/download?file=../../../../etc/shadow"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target = paths[i] }))
		}, one(attacker)},
		{"negative: dots that are not traversal, and one odd request", func(site string, at time.Time) []row {
			paths := []string{"/blog/wait...what", "/files/v1.2..3/notes", "/static/../../etc/passwd", "/docs/api"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target, r.status = paths[i], 200 }))
		}, nil},
	},
	"sql-injection": {
		{"injection probes", func(site string, at time.Time) []row {
			paths := []string{"/products?id=1'%20OR%20'1'='1", "/search?q=1%27%20UNION%20SELECT%20NULL,version()--", "/item.php?id=1 AND SLEEP(5)"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target, r.status = paths[i], 500 }))
		}, one(attacker)},
		{"negative: searches with SQL words and quotes", func(site string, at time.Time) []row {
			paths := []string{"/search?q=select+a+theme", "/search?q=union+station+or+grand+central", "/search?q=O'Reilly+books", "/search?q=cats+and+dogs", "/products?id=1"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target, r.status = paths[i], 200 }))
		}, nil},
	},
	"xss": {
		{"script injection", func(site string, at time.Time) []row {
			paths := []string{"/search?q=<script>alert(1)</script>", `/search?q="><img src=x onerror=alert(1)>`, "/contact?name=%3Csvg/onload=alert(1)%3E"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target, r.status = paths[i], 200 }))
		}, one(attacker)},
		{"negative: angle brackets and callbacks that are not scripts", func(site string, at time.Time) []row {
			paths := []string{"/search?q=i+<3+cats", "/api/v1/items?callback=onload", "/search?q=a<b", "/blog"}
			return burst(len(paths), at, time.Second, with(client(attacker, site, firefox), func(i int, r *row) { r.target, r.status = paths[i], 200 }))
		}, nil},
	},
	"login-brute-force": {
		{"password guessing", func(site string, at time.Time) []row {
			return burst(30, at, 4*time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.method, r.target, r.status = "POST", []string{"/wp-login.php", "/login", "/user/login"}[i%3], 401
			}))
		}, one(attacker)},
		{"slow guessing: one try every 20 minutes", func(site string, at time.Time) []row {
			return burst(12, at.Add(-4*time.Hour), 20*time.Minute, with(client(attacker, site, firefox), func(i int, r *row) {
				r.method, r.target, r.status = "POST", "/login", 403
			}))
		}, one(attacker)},
		{"negative: mistyped password, then in; and an API client refused", func(site string, at time.Time) []row {
			out := burst(5, at, 10*time.Second, with(client(attacker, site, firefox), func(i int, r *row) {
				r.method, r.target, r.status = "POST", "/login", 401
				if i == 4 {
					r.status = 302
				}
			}))
			return append(out, burst(40, at, time.Second, with(client(attacker+1, site, "MyApp/2.0"), func(i int, r *row) {
				r.target, r.status = "/api/v1/items", 401
			}))...)
		}, nil},
	},
	"bad-user-agent": {
		{"sqlmap and nikto", func(site string, at time.Time) []row {
			return burst(4, at, time.Second, with(client(attacker, site, ""), func(i int, r *row) {
				r.target, r.ua = "/", []string{"sqlmap/1.8.4#stable (https://sqlmap.org)", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)"}[i%2]
			}))
		}, one(attacker)},
		{"negative: search engine crawler", func(site string, at time.Time) []row {
			return burst(50, at, 5*time.Second, with(client(attacker, site, browserUAs[3]), func(i int, r *row) {
				r.target, r.status = benignPages[i%len(benignPages)], 200
			}))
		}, nil},
	},
	"tool-user-agent": {
		{"python-requests script", func(site string, at time.Time) []row {
			return burst(30, at, 2*time.Second, with(client(attacker, site, "python-requests/2.31.0"), func(i int, r *row) {
				r.target, r.status = benignPages[i%len(benignPages)], 200
			}))
		}, one(attacker)},
		{"no user agent at all", func(site string, at time.Time) []row {
			return burst(12, at, 2*time.Second, with(client(attacker, site, ""), func(i int, r *row) { r.target, r.status = "/", 200 }))
		}, one(attacker)},
		{"negative: a few curl checks", func(site string, at time.Time) []row {
			return burst(5, at, time.Minute, with(client(attacker, site, "curl/8.5.0"), func(i int, r *row) { r.target, r.status = "/healthz", 200 }))
		}, nil},
	},
	"flood": {
		{"300 requests a minute for two minutes", func(site string, at time.Time) []row {
			return burst(600, at, 200*time.Millisecond, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target, r.status = benignPages[i%len(benignPages)], 200
			}))
		}, one(attacker)},
		{"negative: the site's busiest regular, 40 a minute for half an hour", func(site string, at time.Time) []row {
			return burst(1200, at, 1500*time.Millisecond, with(client(attacker, site, firefox), func(i int, r *row) {
				r.target, r.status = benignPages[i%len(benignPages)], 200
			}))
		}, nil},
	},
	"distributed-network": {
		{"eight clients of one /24, each under every per-client threshold", func(site string, at time.Time) []row {
			var out []row
			for c := range 8 {
				id := uint64(attacker + c)
				out = append(out, burst(4, at.Add(time.Duration(c)*time.Minute), 5*time.Second, func(i int) row {
					r := row{site: site, client: id, net: 777, method: "POST", target: "/wp-login.php", status: 403, ua: firefox}
					if i == 3 {
						r.method, r.target, r.status = "GET", "/products?id=1 OR 1=1--", 200
					}
					return r
				})...)
			}
			return out
		}, []string{"777"}},
		{"negative: a shared network with two clients who mistyped passwords", func(site string, at time.Time) []row {
			var out []row
			for c := range 8 {
				id := uint64(attacker + c)
				out = append(out, burst(10, at, 30*time.Second, func(i int) row {
					r := row{site: site, client: id, net: 777, method: "GET", target: benignPages[i%len(benignPages)], status: 200, ua: firefox}
					if c < 2 && i < 2 {
						r.method, r.target, r.status = "POST", "/login", 401
					}
					return r
				})...)
			}
			return out
		}, nil},
	},
	"distributed-asn": {
		{"fifteen clients over five networks of one AS", func(site string, at time.Time) []row {
			var out []row
			for c := range 15 {
				id := uint64(attacker + c)
				out = append(out, burst(4, at.Add(time.Duration(c)*time.Minute), 5*time.Second, func(i int) row {
					return row{site: site, client: id, net: 7000 + uint64(c%5), asn: 64500, method: "GET",
						target: []string{"/.env", "/.git/config", "/admin/", "/phpmyadmin/"}[i], status: 404, ua: firefox}
				})...)
			}
			return out
		}, []string{"64500"}},
		{"negative: a big ISP with ordinary users and a few odd requests", func(site string, at time.Time) []row {
			var out []row
			for c := range 40 {
				id := uint64(attacker + c)
				out = append(out, burst(6, at, 20*time.Second, func(i int) row {
					r := row{site: site, client: id, net: 8000 + uint64(c%10), asn: 64501, method: "GET",
						target: benignPages[(i+c)%len(benignPages)], status: 200, ua: firefox}
					if c < 3 && i == 0 {
						r.target, r.status = "/.env", 404
					}
					return r
				})...)
			}
			return out
		}, nil},
	},
}

func loadBuiltin(t *testing.T) []Rule {
	t.Helper()
	rs, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestEveryRuleHasCases(t *testing.T) {
	for _, r := range loadBuiltin(t) {
		cs := ruleCases[r.Name]
		pos, neg := 0, 0
		for _, c := range cs {
			if len(c.want) > 0 {
				pos++
			} else {
				neg++
			}
		}
		if pos == 0 || neg == 0 {
			t.Errorf("rule %s has %d positive and %d negative test cases; it needs at least one of each", r.Name, pos, neg)
		}
	}
}

// TestRules runs each shipped rule on benign background traffic plus each
// of its cases, every case on a site of its own, and checks the rule
// reports exactly the expected offenders.
func TestRules(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := time.Now().UTC()
	start := now.Add(-13 * time.Hour)
	at := now.Add(-3 * time.Hour)
	type siteCase struct {
		rule string
		c    ruleCase
	}
	sites := map[string]siteCase{}
	var rows []row
	n := 0
	for rule, cs := range ruleCases {
		for _, c := range cs {
			n++
			site := fmt.Sprintf("case-%d", n)
			sites[site] = siteCase{rule, c}
			rows = append(rows, background(site, start, 12*time.Hour, 300, 1000, uint64(n))...)
			rows = append(rows, c.rows(site, at)...)
		}
	}
	insert(t, conn, db, rows)
	byName := map[string]Rule{}
	for _, r := range loadBuiltin(t) {
		byName[r.Name] = r
	}
	f := Filter{Since: start.Add(-time.Hour), Until: now}
	for site, sc := range sites {
		t.Run(sc.rule+"/"+sc.c.name, func(t *testing.T) {
			r, ok := byName[sc.rule]
			if !ok {
				t.Fatalf("no built-in rule %s", sc.rule)
			}
			f := f
			f.Site = site
			offs, err := r.Offenders(t.Context(), conn, db, f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range offs {
				got = append(got, o.ID)
				if o.Site != site || o.Rule != r.Name || o.Category != r.Category || o.Scope != r.Scope || o.Requests == 0 ||
					o.FirstSeen.IsZero() || o.LastSeen.Before(o.FirstSeen) || len(o.Evidence) == 0 {
					t.Errorf("incomplete offender %+v", o)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, sc.c.want) {
				t.Fatalf("%s on %s: offenders %v, want %v (%+v)", r.Name, sc.c.name, got, sc.c.want, offs)
			}
		})
	}
}

// TestRulesQuietOnBenignTraffic runs every rule on benign traffic with the
// near misses of every negative case mixed in: nothing may be reported.
func TestRulesQuietOnBenignTraffic(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := time.Now().UTC()
	start := now.Add(-13 * time.Hour)
	rows := background("benign", start, 12*time.Hour, 800, 1000, 99)
	k := 0
	for _, cs := range ruleCases {
		for _, c := range cs {
			if len(c.want) > 0 {
				continue
			}
			k++
			for _, r := range c.rows("benign", now.Add(-time.Duration(k)*20*time.Minute)) {
				// Keep each near miss its own clients and networks.
				r.client += uint64(k) * 1000
				r.net += uint64(k) * 1000
				if r.asn != 0 {
					r.asn += uint32(k)
				}
				rows = append(rows, r)
			}
		}
	}
	insert(t, conn, db, rows)
	th, err := ThreatReport(t.Context(), conn, db, loadBuiltin(t), Filter{Since: start, Until: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range th.Offenders {
		t.Errorf("benign client reported: %+v", o)
	}
	t.Logf("%d benign requests, %d rules, %d offenders", len(rows), len(loadBuiltin(t)), len(th.Offenders))
}

func TestThreatReportOrdersAndFilters(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := time.Now().UTC()
	at := now.Add(-time.Hour)
	var rows []row
	rows = append(rows, ruleCases["sql-injection"][0].rows("a.example", at)...)   // severity 4
	rows = append(rows, ruleCases["tool-user-agent"][0].rows("a.example", at)...) // severity 2, more requests
	rows = append(rows, ruleCases["xss"][0].rows("b.example", at.Add(-30*time.Minute))...)
	insert(t, conn, db, rows)
	rules := loadBuiltin(t)
	tests := []struct {
		name string
		f    Filter
		want []string // rule names in order
	}{
		{"all", Filter{Since: now.Add(-2 * time.Hour), Until: now}, []string{"sql-injection", "xss", "tool-user-agent"}},
		{"site a", Filter{Since: now.Add(-2 * time.Hour), Until: now, Site: "a.example"}, []string{"sql-injection", "tool-user-agent"}},
		{"range excludes b", Filter{Since: at.Add(-time.Minute), Until: now}, []string{"sql-injection", "tool-user-agent"}},
		{"empty range", Filter{Since: now.Add(-10 * time.Minute), Until: now}, nil},
	}
	// A signal rule that fails (a column that does not exist) is named,
	// and the signal rules evaluated with it still report.
	broken, err := ParseRule("broken.yaml", []byte("name: broken\n"+testRuleHead+
		"signals: {where: 'no_such_column = 1', evidence: [{hits: count()}], having: 'hits >= {min_hits:UInt32}'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	th, err := ThreatReport(t.Context(), conn, db, append(slices.Clone(rules), broken), tests[0].f)
	if err == nil || !strings.Contains(err.Error(), "rule broken:") || strings.Contains(err.Error(), "rule sql-injection") {
		t.Fatalf("error %v: want one naming the broken rule alone", err)
	}
	if len(th.Offenders) != len(tests[0].want) {
		t.Fatalf("with a broken signal rule: %d offenders, want %v", len(th.Offenders), tests[0].want)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th, err := ThreatReport(t.Context(), conn, db, rules, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range th.Offenders {
				got = append(got, o.Rule)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("rules %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoadRules(t *testing.T) {
	builtin := loadBuiltin(t)
	if len(builtin) < 12 {
		t.Fatalf("%d built-in rules", len(builtin))
	}
	cats := map[string]bool{}
	for _, r := range builtin {
		cats[r.Category] = true
		if !strings.HasPrefix(r.Source, "builtin:") {
			t.Errorf("%s: source %q", r.Name, r.Source)
		}
	}
	for _, c := range []string{"scanning", "sensitive_file", "admin_probe", "path_traversal", "sql_injection", "xss", "brute_force", "bad_user_agent", "flood", "distributed"} {
		if !cats[c] {
			t.Errorf("no built-in rule of category %s", c)
		}
	}

	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("scanning.yaml", strings.Replace(readBuiltin(t, "scanning.yaml"), "min_distinct_paths: 10", "min_distinct_paths: 25", 1))
	write("off.yml", "name: tool-user-agent\ndisabled: true\n")
	write("custom.yaml", `name: teapot
category: probing
scope: client
severity: 1
description: Clients asking for the teapot.
window: 30m
thresholds: {min_hits: 1}
sql: SELECT site, toString(client_id) AS id, count() AS requests, countIf(path = '/teapot') AS hits, min(ts) AS first_seen, max(ts) AS last_seen
  FROM {db}.requests WHERE ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')} AND ({site:String} = '' OR site = {site:String})
  GROUP BY site, client_id HAVING hits >= {min_hits:UInt8}
`)
	write("README.md", "not a rule")
	rs, err := LoadRules(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Rule{}
	for _, r := range rs {
		got[r.Name] = r
	}
	if len(rs) != len(builtin) || got["scanning"].Thresholds["min_distinct_paths"] != 25 || got["scanning"].Source != filepath.Join(dir, "scanning.yaml") {
		t.Fatalf("override: %d rules, scanning %+v", len(rs), got["scanning"])
	}
	if _, ok := got["tool-user-agent"]; ok {
		t.Fatal("disabled rule still loaded")
	}
	if got["teapot"].Window != 30*time.Minute {
		t.Fatalf("custom rule: %+v", got["teapot"])
	}
	// The custom rule runs, with its evidence.
	conn := openConn(t)
	db := testDB(t, conn)
	now := time.Now().UTC()
	insert(t, conn, db, burst(3, now.Add(-time.Minute), time.Second, with(client(5, "x", firefox), func(i int, r *row) { r.target, r.status = "/teapot", 418 })))
	offs, err := got["teapot"].Offenders(t.Context(), conn, db, Filter{Since: now.Add(-time.Hour), Until: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != 1 || offs[0].ID != "5" || offs[0].Evidence["hits"] != 3 || offs[0].Requests != 3 || offs[0].Epoch != 0 {
		t.Fatalf("custom rule offenders %+v", offs)
	}
}

func readBuiltin(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("rules", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRuleValidation(t *testing.T) {
	good := `name: r
category: c
scope: client
severity: 2
description: d
window: 1h
thresholds: {n: 3}
sql: SELECT 1 FROM {db}.requests WHERE ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')} AND site = {site:String} HAVING count() >= {n:UInt32}
`
	if _, err := ParseRule("good", []byte(good)); err != nil {
		t.Fatalf("valid rule rejected: %v", err)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"unknown key", "window: 1h", "windw: 1h", "windw"},
		{"scope", "scope: client", "scope: ip", "scope"},
		{"severity", "severity: 2", "severity: 9", "severity"},
		{"name", "name: r", "name: Bad Name", "name"},
		{"no window", "window: 1h\n", "", "window"},
		{"bad window", "window: 1h", "window: soon", "soon"},
		{"threshold not used", "{n: 3}", "{n: 3, m: 4}", `threshold "m"`},
		{"parameter not a threshold", "{n: 3}", "{k: 3}", "{n:...}"},
		{"no since", "ts >= {since:DateTime64(3, 'UTC')} AND ", "", "{since:...}"},
		{"no db", "{db}.requests", "vakt.requests", "{db}"},
		{"reserved threshold", "{n: 3}", "{n: 3, site: 1}", "reserved"},
		{"no description", "description: d\n", "", "description"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(good, tc.from, tc.to, 1)
			if src == good {
				t.Fatalf("mutation %q not applied", tc.from)
			}
			_, err := ParseRule("bad.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.yaml") {
				t.Fatalf("error %v, want one naming bad.yaml and %q", err, tc.want)
			}
		})
	}
}

func TestRuleRuntimeErrors(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	base := Rule{Name: "x", Category: "c", Scope: ScopeClient, Severity: 1, Description: "d", Window: time.Hour}
	where := ` FROM {db}.requests WHERE ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')} AND ({site:String} = '' OR site = {site:String})`
	insert(t, conn, db, burst(2, time.Now().Add(-time.Minute), time.Second, client(1, "s", firefox)))
	tests := []struct{ name, sql, want string }{
		{"missing column", "SELECT site, toString(client_id) AS id, count() AS requests, min(ts) AS first_seen" + where + " GROUP BY site, client_id", `"last_seen"`},
		{"text evidence", "SELECT site, toString(client_id) AS id, count() AS requests, min(ts) AS first_seen, max(ts) AS last_seen, any(path) AS p" + where + " GROUP BY site, client_id", "numeric"},
		{"bad sql", "SELECT nosuchcolumn AS id" + where, "ClickHouse error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			r.SQL = tc.sql
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
			_, err := ThreatReport(t.Context(), conn, db, []Rule{r}, Filter{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "rule x") {
				t.Fatalf("error %v, want one naming rule x and %q", err, tc.want)
			}
		})
	}
}

// TestSortStableBy: sorting through a permutation keeps sort.SliceStable's
// order, ties in their input order included.
func TestSortStableBy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		o := make([]Offender, r.IntN(300))
		for i := range o {
			o[i] = Offender{Severity: r.IntN(3), Requests: uint64(r.IntN(4)), Rule: string(rune('a' + r.IntN(3))),
				Site: "s", ID: strconv.Itoa(r.IntN(5)), Epoch: uint32(i)}
		}
		want := slices.Clone(o)
		sort.SliceStable(want, func(i, j int) bool {
			a, b := want[i], want[j]
			switch {
			case a.Severity != b.Severity:
				return a.Severity > b.Severity
			case a.Requests != b.Requests:
				return a.Requests > b.Requests
			case a.Rule != b.Rule:
				return a.Rule < b.Rule
			}
			return a.ID < b.ID
		})
		SortOffenders(o)
		for i := range o {
			if o[i].Epoch != want[i].Epoch {
				t.Fatalf("position %d: offender %d, sort.SliceStable has %d", i, o[i].Epoch, want[i].Epoch)
			}
		}
	}
}
