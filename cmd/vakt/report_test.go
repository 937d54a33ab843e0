package main

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestReportsOnLabelledTraffic imports benign traffic with labelled
// attackers of every category mixed in and checks `vakt report threats`
// finds every attacker with the right category and no benign client, that
// `vakt report health` equals figures computed from the log, and that `vakt
// report top` ranks what the log holds.
func TestReportsOnLabelledTraffic(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	tl := writeThreatLog(t, work, 20_000, 400)
	v6 := 0
	for ip := range tl.benign {
		if ip.Is6() {
			v6++
		}
	}
	t.Logf("log: %d requests, %d benign clients (%d IPv6), %d labelled attackers", len(tl.records), len(tl.benign), v6, len(tl.attackers))
	if len(tl.benign) < 300 || v6 < 50 {
		t.Fatalf("benign clients: %d, IPv6 %d", len(tl.benign), v6)
	}

	stdout, stderr, err := vakt(t, "import", "--data-dir", dataDir, "--site", "www.example.com", tl.path)
	if err != nil {
		t.Fatalf("vakt import: %v\n%s\n%s", err, stdout, stderr)
	}
	if m := summaryRe.FindAllStringSubmatch(stdout, -1); len(m) < 2 || m[1][2] != strconv.Itoa(len(tl.records)) {
		t.Fatalf("import stored %v of %d lines:\n%s", m, len(tl.records), stdout)
	}
	outputs := []string{stdout, stderr}
	report := func(args ...string) string {
		t.Helper()
		out, errOut, err := vakt(t, append([]string{"report", args[0], "--data-dir", dataDir}, args[1:]...)...)
		if err != nil {
			t.Fatalf("vakt report %v: %v\n%s\n%s", args, err, out, errOut)
		}
		outputs = append(outputs, out, errOut)
		return out
	}

	t.Run("threats", func(t *testing.T) {
		offenders := jsonRows(t, report("threats", "--since", "2h", "--format", "json"))
		// Map pseudonymous ids back to attackers through their user agents.
		out, errOut, err := vakt(t, "sql", "--data-dir", dataDir, "--format", "json",
			"SELECT DISTINCT toString(client_id) AS client, toString(network_id) AS network, user_agent FROM vakt.requests WHERE position(user_agent, ' atk-') > 0")
		if err != nil {
			t.Fatalf("vakt sql: %v\n%s", err, errOut)
		}
		clientOf, networkOf := map[string]string{}, map[string]string{}
		for _, r := range jsonRows(t, out) {
			label := r["user_agent"].(string)
			label = label[strings.LastIndex(label, " atk-")+5:]
			if i := strings.IndexByte(label, '-'); i >= 0 {
				label = label[:i]
			}
			clientOf[r["client"].(string)] = label
			networkOf[r["network"].(string)] = label
		}
		found := map[string][]string{} // attacker label → categories reported
		var truePos, falsePos int
		for _, o := range offenders {
			// One row per offender: every rule's category is in categories.
			id, scope := o["id"].(string), o["scope"].(string)
			var cats []string
			for _, c := range o["categories"].([]any) {
				cats = append(cats, c.(string))
			}
			label := ""
			switch scope {
			case "client":
				label = clientOf[id]
			case "network":
				label = networkOf[id]
			}
			if label == "" {
				falsePos++
				t.Errorf("benign %s %s reported by %v (%v): %v", scope, id, o["rules"], cats, o["matches"])
				continue
			}
			truePos++
			for _, cat := range cats {
				found[label] = append(found[label], cat+"/"+scope)
			}
		}
		recalled := 0
		for _, a := range tl.attackers {
			if slices.Contains(found[a.label], a.category+"/"+a.scope) {
				recalled++
			} else {
				t.Errorf("attacker %s (%s, %d clients) not reported as %s/%s; reported as %v", a.label, a.category, len(a.ips), a.category, a.scope, found[a.label])
			}
		}
		precision := float64(truePos) / math.Max(float64(truePos+falsePos), 1)
		recall := float64(recalled) / float64(len(tl.attackers))
		t.Logf("threats: %d offender rows, %d of attackers, %d of benign clients or networks", len(offenders), truePos, falsePos)
		t.Logf("precision %.3f (offender rows that are attackers), recall %.3f (%d of %d attackers found with the right category)",
			precision, recall, recalled, len(tl.attackers))
		for _, a := range tl.attackers {
			t.Logf("  %-6s %-15s reported as %v", a.label, a.category, found[a.label])
		}
	})

	t.Run("client", func(t *testing.T) {
		// An attacker with one address, and one client of the attack spread
		// over a /24: each report equals the log's figures for that
		// address, its rules include the attack's category (the second's
		// through its network), and its network's other clients are the
		// log's other addresses of its /24 or /48.
		var single, spread labelledAttacker
		for _, x := range tl.attackers {
			if x.scope == "client" && len(x.ips) == 1 && single.label == "" {
				single = x
			}
			if x.scope == "network" && x.ips[0].Is4() {
				spread = x
			}
		}
		if single.label == "" || spread.label == "" {
			t.Fatal("no single-address or spread attacker in the log")
		}
		checkClientReport(t, dataDir, tl, single, " atk-"+single.label, report)
		checkClientReport(t, dataDir, tl, spread, " atk-"+spread.label+"-0", report)
	})

	t.Run("health", func(t *testing.T) {
		since := tl.records[0].ts.Truncate(time.Second)
		until := tl.records[len(tl.records)-1].ts.Add(time.Second)
		bucket := 5 * time.Minute
		rows := jsonRows(t, report("health", "--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339),
			"--bucket", bucket.String(), "--format", "json"))
		type fig struct {
			requests, s2, s3, s4, s5 int
			times                    []float64
		}
		add := func(f *fig, r logRecord) {
			f.requests++
			switch r.status / 100 {
			case 2:
				f.s2++
			case 3:
				f.s3++
			case 4:
				f.s4++
			case 5:
				f.s5++
			}
			f.times = append(f.times, r.rt)
		}
		total := &fig{}
		series := map[time.Time]*fig{}
		for _, r := range tl.records {
			add(total, r)
			b := r.ts.Truncate(bucket)
			if series[b] == nil {
				series[b] = &fig{}
			}
			add(series[b], r)
		}
		// quantileExact: the value at position floor(level*n) of the
		// sorted request times.
		quantile := func(ts []float64, level float64) float64 {
			s := slices.Clone(ts)
			sort.Float64s(s)
			return s[min(int(level*float64(len(s))), len(s)-1)]
		}
		check := func(what string, got map[string]any, want *fig) {
			t.Helper()
			for _, c := range []struct {
				col  string
				want float64
				tol  float64
			}{
				{"requests", float64(want.requests), 0},
				{"timed", float64(want.requests), 0},
				{"status_2xx", float64(want.s2), 0},
				{"status_3xx", float64(want.s3), 0},
				{"status_4xx", float64(want.s4), 0},
				{"status_5xx", float64(want.s5), 0},
				// Rates are printed to 5 decimals.
				{"error_rate", float64(want.s5) / float64(want.requests), 5e-6},
				{"client_error_rate", float64(want.s4) / float64(want.requests), 5e-6},
				// Request times are logged in milliseconds and stored as
				// Float32: exact to well within a microsecond.
				{"p50_s", quantile(want.times, 0.5), 1e-6},
				{"p95_s", quantile(want.times, 0.95), 1e-6},
				{"p99_s", quantile(want.times, 0.99), 1e-6},
			} {
				if g := jnum(t, got[c.col]); math.Abs(g-c.want) > c.tol {
					t.Errorf("%s %s = %v, computed from the log %v", what, c.col, g, c.want)
				}
			}
		}
		var totals, points int
		for _, r := range rows {
			switch r["section"] {
			case "totals":
				totals++
				check("total", r, total)
				t.Logf("health total: %v requests, 5xx %v, error rate %v, p50 %v s, p95 %v s, p99 %v s",
					r["requests"], r["status_5xx"], r["error_rate"], r["p50_s"], r["p95_s"], r["p99_s"])
			case "series":
				points++
				ts, err := time.Parse("2006-01-02 15:04:05.000", r["time"].(string))
				if err != nil || series[ts] == nil {
					t.Fatalf("series point at %v: %v", r["time"], err)
				}
				check("bucket "+ts.Format(time.TimeOnly), r, series[ts])
			}
		}
		if totals != 1 || points != len(series) {
			t.Fatalf("%d totals and %d series points, want 1 and %d", totals, points, len(series))
		}
		t.Logf("health: totals and %d five-minute buckets equal the log's figures (counts exact, quantileExact percentiles within 1e-6 s)", points)
	})

	t.Run("top", func(t *testing.T) {
		rows := jsonRows(t, report("top", "--since", "2h", "--format", "json", "--n", "5"))
		paths := map[string]int{}
		for _, r := range tl.records {
			p, _, _ := strings.Cut(r.target, "?")
			paths[p]++
		}
		var want []string
		for p := range paths {
			want = append(want, p)
		}
		sort.Slice(want, func(i, j int) bool {
			if paths[want[i]] != paths[want[j]] {
				return paths[want[i]] > paths[want[j]]
			}
			return want[i] < want[j]
		})
		var gotPaths []string
		var flood float64
		for _, r := range rows {
			switch r["section"] {
			case "paths":
				gotPaths = append(gotPaths, r["key"].(string))
				if n := int(jnum(t, r["requests"])); n != paths[r["key"].(string)] {
					t.Errorf("path %v: %d requests, log has %d", r["key"], n, paths[r["key"].(string)])
				}
			case "clients":
				if jnum(t, r["rank"]) == 1 {
					flood = jnum(t, r["requests"])
				}
			}
		}
		if !slices.Equal(gotPaths, want[:5]) {
			t.Errorf("top paths %v, log's %v", gotPaths, want[:5])
		}
		if flood != 900 {
			t.Errorf("top client has %v requests; the flood sent 900", flood)
		}
	})

	// No output of vakt names an IP.
	ips := map[netip.Addr]bool{}
	for _, r := range tl.records {
		ips[r.ip] = true
	}
	for _, out := range outputs {
		for ip := range ips {
			if strings.Contains(out, ip.String()) {
				t.Fatalf("raw IP %s in vakt's output", ip)
			}
		}
	}
}

func TestReportCommandLine(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	rules := filepath.Join(work, "rules.d")
	os.Mkdir(rules, 0o700)
	os.WriteFile(filepath.Join(rules, "broken.yaml"), []byte("name: broken\ncategory: x\nscope: ip\nseverity: 2\ndescription: d\nwindow: 1h\nsql: SELECT 1\n"), 0o600)
	cfg := filepath.Join(work, "vakt.yaml")
	os.WriteFile(cfg, []byte("rules:\n  dir: "+rules+"\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int    // exit status
		want string // in stdout or stderr
	}{
		{"no report name", []string{"report"}, 2, "name a report"},
		{"unknown report", []string{"report", "weather"}, 2, `unknown report "weather"`},
		{"client without id", []string{"report", "client"}, 2, "name the client"},
		{"bad since", []string{"report", "health", "--since", "yesterday"}, 1, "--since"},
		{"empty range", []string{"report", "top", "--since", "1h", "--until", "2h"}, 1, "not before"},
		{"bad format", []string{"report", "top", "--format", "xml"}, 1, "--format"},
		{"broken rule file", []string{"report", "threats", "--config", cfg}, 1, "broken.yaml: scope"},
		{"check names the rule file", []string{"check", "--config", cfg}, 1, "rules.dir: rule " + filepath.Join(rules, "broken.yaml") + ": scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := vakt(t, append(tc.args, "--data-dir", filepath.Join(work, "data"))...)
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q:\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
		})
	}
}

// checkClientReport checks `vakt report client` of attacker a's first
// address (its user agent ends in uaSuffix) against the log.
func checkClientReport(t *testing.T, dataDir string, tl *threatLog, a labelledAttacker, uaSuffix string, report func(args ...string) string) {
	t.Helper()
	out, errOut, err := vakt(t, "sql", "--data-dir", dataDir, "--format", "tsv",
		"SELECT DISTINCT toString(client_id), epoch FROM vakt.requests WHERE endsWith(user_agent, '"+uaSuffix+"')")
	if err != nil {
		t.Fatalf("vakt sql: %v\n%s", err, errOut)
	}
	id, epoch, ok := strings.Cut(strings.TrimSpace(out), "\t")
	if !ok || strings.Contains(epoch, "\n") {
		t.Fatalf("attacker %s: ids %q", a.label, out)
	}
	rows := jsonRows(t, report("client", "--since", "2h", "--format", "json", "--epoch", epoch, "--n", "100", id))
	prefix := func(ip netip.Addr) netip.Prefix {
		if ip.Is4() {
			p, _ := ip.Prefix(24)
			return p
		}
		p, _ := ip.Prefix(48)
		return p
	}
	var requests, s4, s5 int
	paths := map[string]int{}
	others := map[netip.Addr]int{}
	for _, r := range tl.records {
		switch {
		case r.ip == a.ips[0]:
			requests++
			if r.status/100 == 4 {
				s4++
			} else if r.status/100 == 5 {
				s5++
			}
			p, _, _ := strings.Cut(r.target, "?")
			paths[fmt.Sprintf("%s %d", p, r.status)]++
		case prefix(r.ip) == prefix(a.ips[0]):
			others[r.ip]++
		}
	}
	var wantOthers, gotOthers []int
	for _, n := range others {
		wantOthers = append(wantOthers, n)
	}
	slices.Sort(wantOthers)
	sections := map[string]int{}
	var rules []string
	for _, r := range rows {
		sections[r["section"].(string)]++
		switch r["section"] {
		case "summary":
			if int(jnum(t, r["requests"])) != requests || int(jnum(t, r["status_4xx"])) != s4 || int(jnum(t, r["status_5xx"])) != s5 {
				t.Errorf("summary %v; the log has %d requests, %d 4xx, %d 5xx", r, requests, s4, s5)
			}
		case "paths":
			k := fmt.Sprintf("%s %v", r["path"], r["status"])
			if int(jnum(t, r["requests"])) != paths[k] {
				t.Errorf("path %s: %v requests, the log has %d", k, r["requests"], paths[k])
			}
		case "rules":
			rules = append(rules, r["category"].(string)+"/"+r["scope"].(string))
		case "network":
			gotOthers = append(gotOthers, int(jnum(t, r["requests"])))
		}
	}
	slices.Sort(gotOthers)
	if sections["summary"] != 1 || sections["paths"] != min(len(paths), 100) || !slices.Contains(rules, a.category+"/"+a.scope) || !slices.Equal(gotOthers, wantOthers) {
		t.Errorf("client report of attacker %s (%s/%s): sections %v, rules %v; network's other clients' requests %v, the log's %v",
			a.label, a.category, a.scope, sections, rules, gotOthers, wantOthers)
	}
	t.Logf("client %s (attacker %s): %d requests, %d paths with statuses, rules %v, %d other clients in its network", id, a.label, requests, len(paths), rules, len(gotOthers))
}
