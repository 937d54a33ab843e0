package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/loggen"
	"github.com/vakt-dev/vakt/logformat"
)

// logRecord is one request written to a threat test log, for figures
// computed independently of vakt.
type logRecord struct {
	ts     time.Time
	ip     netip.Addr
	method string
	target string
	status uint16
	rt     float64 // seconds, millisecond resolution as nginx logs it
	ua     string
}

// labelledAttacker is one attacker of a threat test log: its expected
// category, the scope its offender row has, and its clients. Each client's
// user agent ends in " atk-<label>" (and "-<n>" for several clients), which
// maps pseudonymous ids back to attackers.
type labelledAttacker struct {
	label, category, scope string
	ips                    []netip.Addr
}

type threatLog struct {
	path      string
	records   []logRecord
	attackers []labelledAttacker
	benign    map[netip.Addr]bool
}

// writeThreatLog writes nginx JSON access-log lines (with request times):
// benign traffic from internal/loggen (browsers and crawlers, Zipf-heavy
// regulars, 404s, 500s, mistyped passwords; IPv4 and IPv6) and, mixed in,
// attackers of every category, each labelled.
func writeThreatLog(t *testing.T, dir string, benignLines, clients int) *threatLog {
	t.Helper()
	rng := rand.New(rand.NewPCG(21, 12))
	now := time.Now().UTC()
	start := now.Add(-50 * time.Minute)
	g := loggen.New(loggen.Config{Seed: 5, Clients: clients, Start: start, Rate: 10, AttackShare: -1})
	tl := &threatLog{path: filepath.Join(dir, "access.json.log"), benign: map[netip.Addr]bool{}}
	rt := func() float64 { return math.Round(math.Exp(rng.NormFloat64()*0.9-2.6)*1000) / 1000 }
	nets := map[[6]byte]bool{}
	netOf := func(ip netip.Addr) [6]byte {
		var k [6]byte
		if ip.Is4() {
			b := ip.As4()
			copy(k[:], b[:3])
		} else {
			b := ip.As16()
			copy(k[:], b[:6])
		}
		return k
	}
	for len(tl.records) < benignLines {
		l := g.Next()
		var r event.Raw
		if err := logformat.ParseCombined(l.Text, &r); err != nil {
			t.Fatal(err)
		}
		if r.Method == "" { // a connection closed before its request
			continue
		}
		tl.records = append(tl.records, logRecord{ts: l.Time, ip: l.IP, method: r.Method, target: r.Target, status: r.Status, rt: rt(), ua: r.UserAgent})
		tl.benign[l.IP] = true
		nets[netOf(l.IP)] = true
	}
	end := tl.records[len(tl.records)-1].ts

	// Attackers get addresses in networks no benign client uses.
	newNet := func(v6 bool) [6]byte {
		for {
			var k [6]byte
			if v6 {
				k = [6]byte{0x2a, 0x0e, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
			} else {
				k = [6]byte{byte(11 + rng.IntN(89)), byte(rng.IntN(256)), byte(rng.IntN(256))}
			}
			if !nets[k] {
				nets[k] = true
				return k
			}
		}
	}
	host := func(k [6]byte, v6 bool, n int) netip.Addr {
		if v6 {
			var b [16]byte
			copy(b[:6], k[:])
			b[15] = byte(n + 1)
			b[9] = byte(rng.IntN(256))
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{k[0], k[1], k[2], byte(10 + n)})
	}
	firefox := "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	pages := []string{"/", "/blog", "/products", "/pricing", "/about", "/docs/getting-started"}
	type req struct {
		method, target string
		status         uint16
	}
	get := func(target string, status uint16) req { return req{"GET", target, status} }
	attack := func(label, category, scope string, v6 bool, clients int, baseUA string, at time.Time, gap time.Duration, reqs func(client int) []req) {
		a := labelledAttacker{label: label, category: category, scope: scope}
		k := newNet(v6)
		for c := range clients {
			ip := host(k, v6, c)
			a.ips = append(a.ips, ip)
			ua := baseUA + " atk-" + label
			if clients > 1 {
				ua += "-" + strconv.Itoa(c)
			}
			ts := at.Add(time.Duration(c) * 17 * time.Second)
			for _, q := range reqs(c) {
				tl.records = append(tl.records, logRecord{ts: ts, ip: ip, method: q.method, target: q.target, status: q.status, rt: rt(), ua: ua})
				ts = ts.Add(gap)
			}
		}
		tl.attackers = append(tl.attackers, a)
	}
	at := func(min int) time.Time { return start.Add(time.Duration(min) * time.Minute) }
	list := func(status uint16, targets ...string) func(int) []req {
		return func(int) []req {
			var out []req
			for _, tg := range targets {
				out = append(out, get(tg, status))
			}
			return out
		}
	}
	attack("scan", "scanning", "client", false, 1, firefox, at(3), 3*time.Second, func(int) []req {
		var out []req
		for i := range 40 {
			out = append(out, get(fmt.Sprintf("/%s%d", []string{"backup", "old", "test", "dev", "tmp", "upload"}[i%6], i), 404))
		}
		return out
	})
	attack("sens", "sensitive_file", "client", true, 1, firefox, at(5), 4*time.Second,
		list(404, "/.env", "/.git/config", "/wp-config.php.bak", "/backup.sql", "/.aws/credentials", "/.ssh/id_rsa", "/.htpasswd"))
	attack("admin", "admin_probe", "client", false, 1, firefox, at(7), 2*time.Second,
		list(404, "/phpmyadmin/", "/pma/", "/admin/", "/manager/html", "/jenkins/login", "/actuator/env"))
	attack("trav", "path_traversal", "client", true, 1, firefox, at(9), 5*time.Second,
		list(400, "/static/../../../../etc/passwd", "/download?file=../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/images/..%2f..%2f..%2fwindows/win.ini"))
	attack("sqli", "sql_injection", "client", false, 1, firefox, at(11), 5*time.Second,
		list(500, "/products?id=1'%20OR%20'1'='1", "/products?id=1 OR 1=1--", "/search?q=1%27%20UNION%20SELECT%20NULL,NULL,version()--", "/item.php?id=1 AND SLEEP(5)"))
	attack("xss", "xss", "client", true, 1, firefox, at(13), 5*time.Second,
		list(200, "/search?q=<script>alert(1)</script>", "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E", `/search?q="><img src=x onerror=alert(1)>`))
	attack("brute", "brute_force", "client", false, 1, firefox, at(15), 3*time.Second, func(int) []req {
		var out []req
		for i := range 30 {
			out = append(out, req{"POST", []string{"/wp-login.php", "/login", "/user/login"}[i%3], 401})
		}
		return out
	})
	attack("badua", "bad_user_agent", "client", true, 1, "sqlmap/1.8.4#stable (https://sqlmap.org)", at(17), 2*time.Second, list(200, "/", "/products", "/about", "/blog", "/pricing"))
	attack("tool", "bad_user_agent", "client", false, 1, "python-requests/2.31.0", at(19), 4*time.Second, func(int) []req {
		var out []req
		for i := range 25 {
			out = append(out, get(pages[i%len(pages)], 200))
		}
		return out
	})
	attack("flood", "flood", "client", true, 1, firefox, at(21), 200*time.Millisecond, func(int) []req {
		var out []req
		for i := range 900 {
			out = append(out, get(pages[i%len(pages)], 200))
		}
		return out
	})
	// Distributed: every client stays under every per-client threshold.
	attack("dist4", "distributed", "network", false, 8, firefox, at(23), 5*time.Second, func(int) []req {
		return []req{{"POST", "/wp-login.php", 403}, {"POST", "/wp-login.php", 403}, {"POST", "/login", 401}, get("/products?id=1 OR 1=1--", 200)}
	})
	attack("dist6", "distributed", "network", true, 6, firefox, at(26), 5*time.Second,
		list(404, "/phpmyadmin/", "/admin/", "/.env", "/search?q=<script>alert(1)</script>"))

	sort.SliceStable(tl.records, func(i, j int) bool { return tl.records[i].ts.Before(tl.records[j].ts) })
	if last := tl.records[len(tl.records)-1].ts; last.After(end) {
		end = last
	}
	if !end.Before(now) {
		t.Fatalf("log runs into the future: %s", end)
	}
	f, err := os.OpenFile(tl.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, r := range tl.records {
		err := enc.Encode(map[string]any{
			"remote_addr": r.ip.String(), "time_iso8601": r.ts.Format(time.RFC3339), "request": r.method + " " + r.target + " HTTP/1.1",
			"status": r.status, "body_bytes_sent": 512, "http_referer": "", "http_user_agent": r.ua, "request_time": r.rt,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return tl
}

// jsonRows parses `--format json` output: one object per line.
func jsonRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		rows = append(rows, m)
	}
	return rows
}

// jnum reads a number that JSON output gives as a number or, for 64-bit
// integers, as a string.
func jnum(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			t.Fatalf("not a number: %q", x)
		}
		return f
	case nil:
		return math.NaN()
	}
	t.Fatalf("not a number: %v", v)
	return 0
}
