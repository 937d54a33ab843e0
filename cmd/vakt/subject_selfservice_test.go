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
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestSubjectSelfServicePage is the self-service page of `vakt run`
// (subject.listen): behind a trusted proxy (127.0.0.1, X-Forwarded-For), a
// visitor sees its own requests and downloads them; an address that looks
// shared (more user agents than subject.shared_agents) sees per-day counts
// only; another address sees nothing of them; the page answers 429 past
// its rate, and no address reaches vakt's output.
func TestSubjectSelfServicePage(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logPath := filepath.Join(work, "access.log")
	own, shared, other, nobody := netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("203.0.113.20"),
		netip.MustParseAddr("192.0.2.30"), netip.MustParseAddr("2001:db8::99")
	ips := []netip.Addr{own, shared, other, nobody}
	ts := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	var log strings.Builder
	line := func(ip netip.Addr, path, ua string) {
		fmt.Fprintf(&log, "%s - - [%s] \"GET %s HTTP/1.1\" 200 512 \"-\" \"%s\"\n", ip, ts, path, ua)
	}
	for i := range 5 {
		line(own, fmt.Sprintf("/own/page-%d", i), "Mozilla/5.0 own")
	}
	for i := range 8 {
		line(shared, fmt.Sprintf("/shared/secret-%d", i), fmt.Sprintf("Mozilla/5.0 household-%d", i%5))
	}
	for i := range 3 {
		line(other, fmt.Sprintf("/other/page-%d", i), "curl/8.0")
	}
	if err := os.WriteFile(logPath, []byte(log.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	pageAddr := freeLoopbackAddr(t)
	cfg, metricsAddr := writeConfig(t, work, fmt.Sprintf(`data_dir: %s
store: {flush_interval: 200ms}
ingest: {files: [%q], site: shop, from_start: true}
pseudonymize: {trusted_proxies: [127.0.0.1]}
subject: {listen: %q, rate_per_minute: 6}
`, dataDir, logPath, pageAddr))
	run := startVakt(t, "run", "--config", cfg)
	run.waitOutput(t, regexp.MustCompile(`self-service page:\s+http://`))
	// The rollups' parts commit after the requests' in the same insert (a
	// reader can see the rows before their client activity): wait for both.
	testenv.WaitFor(t, 60*time.Second, "the 16 lines stored, with their client activity", func() bool {
		o, _, _ := vakt(t, "sql", "--config", cfg, "--format", "tsv",
			"SELECT (SELECT count() FROM vakt.requests), (SELECT sum(requests) FROM vakt.client_activity_1h)")
		return strings.TrimSpace(o) == "16\t16"
	})

	client := &http.Client{Timeout: 30 * time.Second}
	var bodies strings.Builder
	get := func(from netip.Addr, path string, host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+pageAddr+path, nil)
		req.Header.Set("X-Forwarded-For", from.String())
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		bodies.Write(b)
		return resp.StatusCode, string(b)
	}
	mustGet := func(from netip.Addr, path string) string {
		t.Helper()
		code, body := get(from, path, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		return body
	}
	type export struct {
		Format   string `json:"format"`
		Version  int    `json:"version"`
		Shared   bool   `json:"shared_address"`
		Requests []struct {
			Path string `json:"path"`
		} `json:"requests"`
		Activity []json.RawMessage `json:"client_activity"`
		Daily    []struct {
			Requests uint64 `json:"requests"`
		} `json:"daily_requests"`
	}
	download := func(from netip.Addr) (export, string) {
		t.Helper()
		body := mustGet(from, "/export.json")
		var x export
		if err := json.Unmarshal([]byte(body), &x); err != nil {
			t.Fatalf("download: %v\n%s", err, body)
		}
		if x.Format != "vakt.subject-export" || x.Version != 1 {
			t.Fatalf("download is not the export format: %s %d", x.Format, x.Version)
		}
		return x, body
	}

	// Its own rows: every path, nobody else's.
	page := mustGet(own, "/")
	if !strings.Contains(page, "Requests held: <strong>5</strong>") {
		t.Fatalf("own page does not count 5 requests:\n%s", page)
	}
	for i := range 5 {
		if !strings.Contains(page, fmt.Sprintf("/own/page-%d", i)) {
			t.Fatalf("own page lacks /own/page-%d:\n%s", i, page)
		}
	}
	if strings.Contains(page, "/shared/") || strings.Contains(page, "/other/") {
		t.Fatalf("own page shows others' rows:\n%s", page)
	}
	x, body := download(own)
	if len(x.Requests) != 5 || x.Shared || len(x.Activity) == 0 || strings.Contains(body, "/shared/") || strings.Contains(body, "/other/") {
		t.Fatalf("own download: %d requests, shared %v, %d activity rows:\n%s", len(x.Requests), x.Shared, len(x.Activity), body)
	}

	// The shared address: per-day counts, no paths, on the page and in the download.
	page = mustGet(shared, "/")
	if !strings.Contains(page, `id="shared"`) || !strings.Contains(page, "Requests held: <strong>8</strong>") || strings.Contains(page, "/shared/") {
		t.Fatalf("shared page is not per-day counts only:\n%s", page)
	}
	x, body = download(shared)
	var daily uint64
	for _, d := range x.Daily {
		daily += d.Requests
	}
	if !x.Shared || len(x.Requests) != 0 || len(x.Activity) != 0 || daily != 8 || strings.Contains(body, "/shared/") || strings.Contains(body, "household") {
		t.Fatalf("shared download: shared %v, %d requests, %d activity rows, %d per day:\n%s", x.Shared, len(x.Requests), len(x.Activity), daily, body)
	}

	// Another address, and one with nothing held, see nothing of the first.
	page = mustGet(other, "/")
	if !strings.Contains(page, "Requests held: <strong>3</strong>") || strings.Contains(page, "/own/") || strings.Contains(page, "/shared/") {
		t.Fatalf("other page:\n%s", page)
	}
	page = mustGet(nobody, "/")
	if !strings.Contains(page, "Nothing is held") || strings.Contains(page, "/own/") || strings.Contains(page, "/other/") {
		t.Fatalf("nobody's page:\n%s", page)
	}
	if x, _ := download(nobody); len(x.Requests)+len(x.Activity)+len(x.Daily) != 0 {
		t.Fatalf("nobody's download holds rows: %+v", x)
	}

	// A foreign Host (DNS rebinding) is refused.
	if code, _ := get(own, "/", "attacker.example"); code != http.StatusForbidden {
		t.Fatalf("foreign Host: %d, want 403", code)
	}

	// The rate limit: 6 a minute per client, then 429 (a new minute may
	// reset it once, so ask until it answers 429).
	limited := false
	for range 40 {
		if code, _ := get(other, "/", ""); code == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("40 requests from one client were never answered 429")
	}
	// The limit is per client: another one is still answered.
	if code, _ := get(nobody, "/", ""); code != http.StatusOK {
		t.Fatalf("another client after the limited one: %d, want 200", code)
	}

	assertNoIPText(t, "/metrics", scrapeMetrics(t, metricsAddr, dataDir), ips)
	run.stop(t)
	assertNoIPText(t, "vakt run's output", run.output(), ips)
	assertNoIPText(t, "the page's answers", bodies.String(), ips)
}
