package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// attack is one attacker: the requests that cross its rule's threshold,
// from its own address, and the status it must get once banned.
type attack struct {
	category string
	addr     string
	status   int
	requests func(c *webClient)
}

// scanPath is the scanning attacker's i-th refused path.
func scanPath(i int) string { return fmt.Sprintf("/old-%d.php", i) }

// probe is the path the test asks for until the attacker is denied. The
// scanner's is one of its refused paths: a page it is served lowers its
// error ratio, and on a busy machine enough polls came before the rule's
// next evaluation to take it under the threshold (a CI run beside a
// `vakt bench` loop).
func (a attack) probe() string {
	if a.category == "scanning" {
		return scanPath(0)
	}
	return "/"
}

func get(paths ...string) func(c *webClient) {
	return func(c *webClient) {
		for _, p := range paths {
			c.do(http.MethodGet, p, browserUA)
		}
	}
}

// attacks has an attacker of each category whose rule bans by default.
func attacks() []attack {
	scan := make([]string, 14)
	for i := range scan {
		scan[i] = scanPath(i)
	}
	// Each attacker in a /24 of its own: together they would be a
	// distributed attack from one network.
	return []attack{
		{"sensitive_file", "127.2.1.1", 403, get("/.env", "/.git/config", "/backup.sql")},
		{"path_traversal", "127.2.2.1", 403, get("/download?file=..%2F..%2F..%2Fetc%2Fpasswd", "/static/..%2f..%2f..%2fetc%2fshadow")},
		{"sql_injection", "127.2.3.1", 403, get("/products/1.html?id=1%27%20OR%201%3D1--", "/products/2.html?id=1+UNION+SELECT+user,pass+FROM+users")},
		{"xss", "127.2.4.1", 403, get("/?q=%3Cscript%3Ealert(1)%3C/script%3E", "/about.html?q=%3Cscript%3Ealert(2)%3C/script%3E")},
		{"brute_force", "127.2.5.1", 403, func(c *webClient) {
			for range 12 {
				c.do(http.MethodPost, "/login", browserUA)
			}
		}},
		{"scanning", "127.2.6.1", 403, get(scan...)},
		{"admin_probe", "127.2.7.1", 403, get("/wp-admin/", "/phpmyadmin/", "/administrator/")},
		{"bad_user_agent", "127.2.8.1", 403, func(c *webClient) { c.do(http.MethodGet, "/", "sqlmap/1.7.2#stable (https://sqlmap.org)") }},
		{"flood", "127.2.9.1", 429, func(c *webClient) {
			for range 240 {
				c.do(http.MethodGet, "/", browserUA)
			}
		}},
		// Five clients of one /24, each under every per-client threshold,
		// 20 signals together: the network is banned, so a sixth address
		// of it that was never seen is denied too.
		{"distributed", "127.3.0.99", 403, func(c *webClient) {
			var wg sync.WaitGroup
			for i := 1; i <= 5; i++ {
				wg.Go(func() {
					get("/.env", "/?id=1%27%20OR%201%3D1--", "/?q=%3Cscript%3Ealert(1)%3C/script%3E", "/x?f=..%2F..%2Fetc%2Fpasswd")(newWebClient(fmt.Sprintf("127.3.0.%d", i), c.base))
				})
			}
			wg.Wait()
		}},
	}
}

// TestEnforceThroughNginx is the decision endpoint's acceptance test, with
// real nginx on loopback using configs/enforce-nginx*.conf and `vakt run`
// following that nginx's access log: an attacker of each blocking
// category is denied within seconds of crossing its rule's threshold while
// hundreds of benign clients keep getting 200; a ban ends after its
// duration; a ban made just before an epoch change still denies after it;
// with vakt stopped or hung, nginx keeps serving (fail-open), measured; no
// address reaches vakt's disk, KV, logs, metrics or command output.
func TestEnforceThroughNginx(t *testing.T) {
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	accessLog := filepath.Join(work, "access.log")
	rulesDir := filepath.Join(work, "rules.d")
	const site = "shop.test"
	webPort := testenv.FreePort(t)
	// The unix socket option of the snippet (TCP is tested in enforce/
	// and by scripts/bench-enforce.sh).
	enforceSock := filepath.Join(work, "enforce.sock")
	enforceAddr := "unix:" + enforceSock
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))

	// The admin-probe rule with a 6 s ban, to see a rule's ban end.
	adminRule := snippet(t, "../analyze/rules/admin-probe.yaml") + "action: {type: ban, duration: 6s}\n"
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rulesDir, "admin-probe.yaml"), []byte(adminRule), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(work, "vakt.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
nats: {listen: "127.0.0.1:0"}
clickhouse: {listen: "127.0.0.1:0"}
http: {listen: %q}
ingest: {files: [%q], site: %s, from_start: true}
alerts: {interval: 1s}
rules: {dir: %q}
enforce: {listen: %q}
`, dataDir, metricsAddr, accessLog, site, rulesDir, enforceAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := startVakt(t, "run", "--config", cfgPath)
	run.waitOutput(t, regexp.MustCompile(`decision endpoint: +unix:`))
	key, err := secrets.Read(dataDir, "enforce.key")
	if err != nil {
		t.Fatal(err)
	}

	// nginx with the snippets, as an operator would install them.
	ngx := testenv.StartNginx(t, snippet(t, "enforce-nginx-upstream.conf", "VAKT_ENDPOINT", enforceAddr)+fmt.Sprintf(`
server {
  listen 127.0.0.1:%d;
  root DIR/www;
  access_log %s combined;
  location = /login { auth_basic "login"; auth_basic_user_file DIR/htpasswd; }
  %s
}
`, webPort, accessLog, snippet(t, "enforce-nginx.conf", "VAKT_KEY", key, "VAKT_SITE", site, "/var/log/nginx", "DIR")))
	webRoot(t, filepath.Join(ngx.Dir, "www"))
	base := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	probe := newWebClient("127.0.0.1", base)
	testenv.WaitFor(t, 30*time.Second, "nginx serving", func() bool { s, _ := probe.do(http.MethodGet, "/", browserUA); return s == 200 })

	// Several hundred benign clients, all along.
	var benign []*webClient
	var allAddrs []netip.Addr
	for i := range 400 {
		c := newWebClient(fmt.Sprintf("127.1.%d.%d", i/200, 1+i%200), base)
		benign = append(benign, c)
		allAddrs = append(allAddrs, c.addr)
	}
	load := startBenign(benign, 6)
	testenv.WaitFor(t, 60*time.Second, "the benign traffic stored", func() bool {
		o, _, err := vakt(t, "sql", "--data-dir", dataDir, "--format", "tsv", "SELECT uniqExact(client_id) >= 300 FROM vakt.requests")
		return err == nil && strings.TrimSpace(o) == "1"
	})

	// Each attacker crosses its threshold; it must be denied within seconds.
	type result struct {
		a        attack
		deniedIn time.Duration
	}
	results := make([]result, 0, len(attacks()))
	var rmu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range attacks() {
		c := newWebClient(a.addr, base)
		allAddrs = append(allAddrs, c.addr)
		wg.Go(func() {
			a.requests(c)
			crossed := time.Now()
			testenv.WaitFor(t, 90*time.Second, a.category+" attacker denied", func() bool {
				s, _ := c.do(http.MethodGet, a.probe(), browserUA)
				return s == a.status
			})
			rmu.Lock()
			results = append(results, result{a, time.Since(crossed)})
			rmu.Unlock()
		})
	}
	for i := 1; i <= 5; i++ {
		allAddrs = append(allAddrs, netip.MustParseAddr(fmt.Sprintf("127.3.0.%d", i)))
	}
	wg.Wait()
	for _, r := range results {
		t.Logf("%-15s attacker %s: %d within %.1fs of crossing the threshold", r.a.category, r.a.addr, r.a.status, r.deniedIn.Seconds())
	}

	// The admin prober's 6 s ban (rules.dir) ends by itself.
	admin := newWebClient("127.2.7.1", base)
	testenv.WaitFor(t, 60*time.Second, "the 6s ban over", func() bool { s, _ := admin.do(http.MethodGet, "/", browserUA); return s == 200 })

	// A ban made just before an epoch change still denies after it.
	late := newWebClient("127.4.0.1", base)
	allAddrs = append(allAddrs, late.addr)
	if _, e, err := vakt(t, "decisions", "add", "--config", cfgPath, "--ip", "127.4.0.1", "--duration", "10m"); err != nil {
		t.Fatalf("vakt decisions add: %v\n%s", err, e)
	}
	testenv.WaitFor(t, 10*time.Second, "manual ban enforced", func() bool { s, _ := late.do(http.MethodGet, "/", browserUA); return s == 403 })
	if o, e, err := vakt(t, "salts", "rotate", "--config", cfgPath); err != nil {
		t.Fatalf("vakt salts rotate: %v\n%s%s", err, o, e)
	}
	testenv.WaitFor(t, 60*time.Second, "the ban carried to the new epoch", func() bool {
		if s, _ := late.do(http.MethodGet, "/", browserUA); s == 200 {
			t.Fatal("the ban no longer denies after the epoch change")
		}
		o, _, err := vakt(t, "decisions", "list", "--config", cfgPath, "--format", "json")
		return err == nil && strings.Contains(o, `"origin":"carried"`) && strings.Contains(o, `"rule":"manual"`)
	})

	// Benign clients were never denied.
	metrics := scrape(t, metricsAddr, dataDir)
	sent, bad, lat := load.finish()
	t.Logf("benign: %d requests from %d clients, p50 %s, p99 %s with the decision endpoint", sent, len(benign), percentile(lat, .5), percentile(lat, .99))
	// A transport error (status 0) on a loaded machine is not a denial;
	// every answer nginx gave must be 200.
	if lost := bad[0]; lost*100 > sent {
		t.Errorf("%d of %d benign requests got no answer", lost, sent)
	}
	delete(bad, 0)
	if len(bad) > 0 {
		t.Errorf("benign requests not answered 200: %v (of %d)", bad, sent)
	}

	list, _, err := vakt(t, "decisions", "list", "--config", cfgPath, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	checkDecisionsAndMetrics(t, list, metrics)

	// Fail-open: vakt stopped, then hung; nginx keeps serving.
	run.stop(t)
	failOpen(t, benign[:50], "vakt stopped", 400)
	blackHole(t, "unix", enforceSock)
	failOpen(t, benign[50:100], "vakt hung (accepts, never answers)", 48)
	if b, err := os.ReadFile(filepath.Join(ngx.Dir, "vakt-fail-open.log")); err != nil || strings.Count(string(b), "\n") < 448 {
		t.Errorf("nginx's fail-open log: %d lines (%v), want the 448 requests served without vakt", strings.Count(string(b), "\n"), err)
	}

	// No address anywhere vakt keeps or prints.
	outputs := run.output() + list + metrics
	for _, a := range allAddrs {
		if strings.Contains(outputs, a.String()) {
			t.Errorf("%s appears in vakt's logs, metrics or decisions list", a)
		}
	}
	scanDataDir(t, dataDir, allAddrs)
}

// failOpen sends n requests from clients with vakt not answering and
// checks every one is served; it logs the latency.
func failOpen(t *testing.T, clients []*webClient, what string, n int) {
	t.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	bad := map[int]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				s, took := clients[i%len(clients)].do(http.MethodGet, "/about.html", browserUA)
				mu.Lock()
				lat = append(lat, took)
				if s != 200 {
					bad[s]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("fail-open, %s: %d requests, %d not 200, p50 %s, p99 %s", what, n, len(bad), percentile(lat, .5), percentile(lat, .99))
	if len(bad) > 0 {
		t.Errorf("fail-open, %s: answers other than 200: %v", what, bad)
	}
}

// scrape reads vakt's /metrics.
func scrape(t *testing.T, addr, dataDir string) string {
	t.Helper()
	token, err := secrets.Read(dataDir, app.HTTPTokenName)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// checkDecisionsAndMetrics: every blocking category made a decision that
// counted hits, and the endpoint's metrics say so.
func checkDecisionsAndMetrics(t *testing.T, list, metrics string) {
	t.Helper()
	seen := map[string]bool{}
	for line := range strings.Lines(list) {
		var d struct {
			Scope, Rule, Origin string
			Hits                string
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("decisions list line %q: %v", line, err)
		}
		seen[d.Rule] = true
	}
	// One decision per client is kept (the longest): the traversal
	// attacker's ../etc/passwd is a sensitive-file probe too, whose ban
	// came first, so path-traversal has none of its own.
	for _, rule := range []string{"sensitive-file-probe", "sql-injection", "xss", "login-brute-force", "scanning", "bad-user-agent", "flood", "distributed-network"} {
		if !seen[rule] {
			t.Errorf("no active decision of rule %s:\n%s", rule, list)
		}
	}
	for _, want := range []string{`vakt_enforce_denied_total{rule="flood",scope="client"}`, `vakt_enforce_denied_total{rule="distributed-network",scope="network"}`,
		`vakt_enforce_decisions_active{scope="client"}`, `vakt_enforce_answer_seconds_bucket`, `vakt_enforce_answers_total{verdict="allow"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
