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

	"github.com/nats-io/nats.go"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestSubjectRestrictLeavesClientOut is issue 14's acceptance (3): with
// `vakt run` following a log, an attacker restricted before its burst
// raises no alert (another one's burst does), and is absent from `vakt
// report threats|top|health` and the dashboard's API while count() still
// has its rows; `vakt subject unrestrict` brings it back.
func TestSubjectRestrictLeavesClientOut(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logPath := filepath.Join(work, "access.log")
	ts := func() string { return time.Now().Format("02/Jan/2006:15:04:05 -0700") }
	var benign strings.Builder
	var ips []netip.Addr
	for c := range 30 {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(c), 9})
		ips = append(ips, ip)
		for i := range 5 {
			fmt.Fprintf(&benign, "%s - - [%s] \"GET /page/%d/%d HTTP/1.1\" 200 500 \"-\" \"Mozilla/5.0 benign\"\n", ip, ts(), c, i)
		}
	}
	if err := os.WriteFile(logPath, []byte(benign.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := filepath.Join(work, "vakt.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
nats: {listen: "127.0.0.1:0"}
clickhouse: {listen: "127.0.0.1:0"}
http: {listen: %q}
store: {flush_interval: 200ms}
ingest: {files: [%q], site: shop, from_start: true}
alerts: {interval: 1s}
`, dataDir, httpAddr, logPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	run := startVakt(t, "run", "--config", cfg)
	run.waitOutput(t, regexp.MustCompile(`ClickHouse endpoint:\s+http://(\S+)`))
	sql := func(q string) string {
		o, _, _ := vakt(t, "sql", "--config", cfg, "--format", "tsv", q)
		return strings.TrimSpace(o)
	}
	testenv.WaitFor(t, 60*time.Second, "the benign lines stored", func() bool { return sql("SELECT count() FROM vakt.requests") == "150" })

	var outputs strings.Builder
	cmd := func(args ...string) string {
		t.Helper()
		o, e, err := vakt(t, append(args, "--config", cfg)...)
		outputs.WriteString(o + e)
		if err != nil {
			t.Fatalf("vakt %v: %v\n%s\n%s", args, err, o, e)
		}
		return o
	}
	restricted, other := netip.MustParseAddr("203.0.113.66"), netip.MustParseAddr("198.51.100.23")
	ips = append(ips, restricted, other)
	if o := cmd("subject", "restrict", "--ip", restricted.String()); !strings.Contains(o, "Restricted in 1 epoch") {
		t.Fatalf("restrict: %s", o)
	}

	// Alerts go to vakt_ops's subscribers.
	var natsURL string
	testenv.WaitFor(t, 10*time.Second, "the runtime file", func() bool {
		b, _ := os.ReadFile(filepath.Join(dataDir, "vakt.runtime.json"))
		var info struct {
			NATSURL string `json:"nats_url"`
		}
		_ = json.Unmarshal(b, &info)
		natsURL = info.NATSURL
		return natsURL != ""
	})
	pw, err := secrets.Read(dataDir, bus.PasswordFile(bus.UserOps))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsURL, bus.UserOptions(bus.UserOps, pw)...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	var alerts []string
	if _, err := nc.Subscribe("vakt.alerts.>", func(m *nats.Msg) { mu.Lock(); alerts = append(alerts, string(m.Data)); mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	alerted := func(requests int) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range alerts {
			if strings.Contains(a, `"category":"sensitive_file"`) && strings.Contains(a, fmt.Sprintf(`"requests":%d,`, requests)) {
				return true
			}
		}
		return false
	}

	// The bursts: 37 probes from the restricted address, 23 from another.
	probes := []string{"/.env", "/.git/config", "/wp-config.php.bak", "/.aws/credentials", "/backup.sql", "/config.php~", "/.htpasswd", "/db.sql"}
	var burst strings.Builder
	for i := range 37 {
		fmt.Fprintf(&burst, "%s - - [%s] \"GET %s?n=%d HTTP/1.1\" 404 100 \"-\" \"curl/8.0\"\n", restricted, ts(), probes[i%len(probes)], i)
	}
	for i := range 23 {
		fmt.Fprintf(&burst, "%s - - [%s] \"GET %s?m=%d HTTP/1.1\" 404 100 \"-\" \"curl/8.0\"\n", other, ts(), probes[i%len(probes)], i)
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(burst.String()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	testenv.WaitFor(t, 60*time.Second, "both bursts stored", func() bool { return sql("SELECT count() FROM vakt.requests") == "210" })
	testenv.WaitFor(t, 60*time.Second, "the other attacker's alert", func() bool { return alerted(23) })
	// Two more evaluations over the stored bursts.
	evaluations := func() float64 {
		body, err := tryScrape(httpAddr, dataDir)
		if err != nil {
			return -1
		}
		return metricSum(body, `vakt_rule_duration_seconds_count{rule="sensitive-file-probe"}`)
	}
	n0 := evaluations()
	testenv.WaitFor(t, 30*time.Second, "two more alert evaluations", func() bool { return evaluations() >= n0+2 })
	if alerted(37) {
		t.Errorf("the restricted client raised an alert")
	}

	// Reports and the dashboard's API leave it out; count() has its rows.
	check := func(present bool) {
		t.Helper()
		threats := cmd("report", "threats", "--since", "1h", "--format", "json")
		top := cmd("report", "top", "--since", "1h", "--format", "json", "--section", "clients")
		health := cmd("report", "health", "--since", "1h", "--format", "json", "--section", "totals")
		api := dashboardGet(t, httpAddr, dataDir, "/api/threats?since=1h") + dashboardGet(t, httpAddr, dataDir, "/api/top?since=1h")
		wantTotal := map[bool]string{true: `"requests":"210"`, false: `"requests":"173"`}[present]
		if got := strings.Contains(threats, `"requests":"37"`); got != present || !strings.Contains(threats, `"requests":"23"`) {
			t.Errorf("threats (restricted client shown: %v, want %v):\n%s", got, present, threats)
		}
		if got := strings.Contains(top, `"requests":"37"`); got != present {
			t.Errorf("top clients (restricted client shown: %v, want %v):\n%s", got, present, top)
		}
		if !strings.Contains(health, wantTotal) {
			t.Errorf("health totals, want %s:\n%s", wantTotal, health)
		}
		if got := strings.Contains(api, `"requests":37`); got != present || !strings.Contains(api, `"requests":23`) {
			t.Errorf("dashboard API (restricted client shown: %v, want %v):\n%s", got, present, api)
		}
		if c := sql("SELECT count() FROM vakt.requests"); c != "210" {
			t.Errorf("count() = %s, want 210: restriction keeps the rows", c)
		}
	}
	check(false)
	if o := cmd("subject", "unrestrict", "--ip", restricted.String()); !strings.Contains(o, "lifted in 1 epoch") {
		t.Fatalf("unrestrict: %s", o)
	}
	// The dashboard caches answers for up to 10 s.
	testenv.WaitFor(t, 30*time.Second, "the dashboard to show the client again", func() bool {
		return strings.Contains(dashboardGet(t, httpAddr, dataDir, "/api/threats?since=1h"), `"requests":37`)
	})
	check(true)
	// Erasing the alerted client also forgets the alert loop's memory of it.
	if o := cmd("subject", "erase", "--ip", other.String()); !strings.Contains(o, "Erased 23 request rows") || !strings.Contains(o, "Forgot 2 alert(s)") {
		t.Errorf("erase of the alerted client:\n%s", o)
	}
	run.stop(t)
	assertNoIPText(t, "vakt's output", outputs.String()+run.output(), ips)
}

// dashboardGet fetches a dashboard API path with the data dir's token.
func dashboardGet(t *testing.T, addr, dataDir, path string) string {
	t.Helper()
	token, err := secrets.Read(dataDir, app.HTTPTokenName)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", path, res.StatusCode, b)
	}
	return string(b)
}
