package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/nats-io/nats.go"

	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/store"
)

// Issue 12's attack suite: every attack found by probing `vakt run` with its
// defaults, replayed against a running vakt and seen refused, while the
// legitimate paths (vakt sql, vakt report, the dashboard's API, a read-only
// client over HTTP and the store) keep working.

// runtimeEndpoints are the listeners a running vakt publishes for its data dir.
type runtimeEndpoints struct {
	NATS       string `json:"nats_url"`
	ClickHouse string `json:"clickhouse_http"`
}

func readRuntime(t *testing.T, dataDir string) runtimeEndpoints {
	t.Helper()
	var info runtimeEndpoints
	testenv.WaitFor(t, 90*time.Second, "the runtime file", func() bool {
		b, err := os.ReadFile(filepath.Join(dataDir, "vakt.runtime.json"))
		return err == nil && json.Unmarshal(b, &info) == nil && info.ClickHouse != "" && info.NATS != ""
	})
	// The endpoint answers before the schema is migrated: a test that
	// ends (and stops vakt) within the migration would see it fail.
	password := credential(t, dataDir, "clickhouse-vakt.password")
	want := strconv.Itoa(store.SchemaVersion())
	testenv.WaitFor(t, 90*time.Second, "the schema migrated", func() bool {
		return chQuery(strings.TrimPrefix(info.ClickHouse, "http://"), "vakt", password,
			"SELECT max(version) FROM vakt."+store.MigrationsTable) == want
	})
	return info
}

// credential reads a generated credential of a data dir.
func credential(t *testing.T, dataDir, name string) string {
	t.Helper()
	v, err := secrets.Read(dataDir, name)
	if err != nil {
		t.Fatalf("credential %s: %v", name, err)
	}
	return v
}

// chAnswer is one answer of the ClickHouse endpoint.
type chAnswer struct {
	status int
	code   string // X-ClickHouse-Exception-Code
	body   string
}

func (a chAnswer) String() string {
	return fmt.Sprintf("HTTP %d code %q: %s", a.status, a.code, strings.TrimSpace(tailOf(a.body, 300)))
}

// chAsk sends query to the endpoint at base (http://host:port) as user (no
// credentials when user is empty), by POST or GET, with extra headers.
func chAsk(t *testing.T, base, method, user, password, query string, header map[string]string) chAnswer {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, base+"/?query="+url.QueryEscape(query), nil)
	} else {
		req, err = http.NewRequest(method, base+"/", strings.NewReader(query))
	}
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, query, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return chAnswer{resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"), string(b)}
}

// TestSecurityAttacksRefused starts `vakt run --demo` with defaults (free
// ports only) and replays every attack of issue 12.
func TestSecurityAttacksRefused(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	cfgPath, httpAddr := writeConfig(t, work, "")
	run := startBackground(t, "run", "--demo", "--config", cfgPath, "--data-dir", dataDir)
	ep := readRuntime(t, dataDir)
	base := ep.ClickHouse

	// The data dir and its credentials are the owner's alone.
	for _, d := range []string{dataDir, secrets.Dir(dataDir)} {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Fatalf("%s: mode %v (%v); want owner-only", d, st.Mode().Perm(), err)
		}
	}
	vaktPass := credential(t, dataDir, "clickhouse-vakt.password")
	readerPass := credential(t, dataDir, "clickhouse-reader.password")
	accounts := []struct{ user, password string }{{"vakt", vaktPass}, {"reader", readerPass}}

	// Demo traffic is being stored: the store works before the attacks.
	reader, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{strings.TrimPrefix(base, "http://")}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: "reader", Password: readerPass},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var before uint64
	testenv.WaitFor(t, 90*time.Second, "demo rows stored", func() bool {
		return reader.QueryRow(context.Background(), "SELECT count() FROM vakt.requests").Scan(&before) == nil && before > 0
	})

	t.Run("anonymous", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			a := chAsk(t, base, m, "", "", "SELECT 1", nil)
			if a.status != http.StatusUnauthorized || a.code != "516" {
				t.Errorf("anonymous %s SELECT 1: %v; want 401 with code 516", m, a)
			}
		}
		a := chAsk(t, base, http.MethodPost, "", "", "DROP TABLE vakt.requests SYNC", nil)
		if a.status != http.StatusUnauthorized {
			t.Errorf("anonymous DROP TABLE: %v", a)
		}
		a = chAsk(t, base, http.MethodPost, "default", "", "SELECT 1", nil)
		if a.status != http.StatusUnauthorized {
			t.Errorf("user default without password: %v", a)
		}
	})

	saltFile := filepath.Join(dataDir, "nats", "jetstream", "$G", "streams", "KV_vakt_salts", "msgs", "1.blk")
	outFile := filepath.Join(work, "written-by-attacker.txt")
	attacks := []struct {
		name, query string
		get         bool // also tried by GET
	}{
		{"read /etc/passwd", "SELECT * FROM file('/etc/passwd', 'LineAsString')", true},
		{"read the environment", "SELECT * FROM file('/proc/self/environ', 'RawBLOB')", true},
		{"read the salt store", fmt.Sprintf("SELECT hex(raw_blob) FROM file('%s', 'RawBLOB')", saltFile), true},
		{"scalar file()", "SELECT file('/etc/passwd')", true},
		{"write through INSERT INTO FUNCTION", fmt.Sprintf("INSERT INTO FUNCTION file('%s', 'TSV', 's String') VALUES ('pwned')", outFile), true},
		{"write through INTO OUTFILE", fmt.Sprintf("SELECT 'pwned' INTO OUTFILE '%s' APPEND", outFile), true},
		{"reach a local service", fmt.Sprintf("SELECT * FROM url('http://%s/metrics', 'LineAsString')", httpAddr), true},
		{"run a program", "SELECT * FROM executable('id', 'TSV', 'x String')", true},
		{"File table engine", fmt.Sprintf("CREATE TABLE default.pwn (s String) ENGINE = File(TSV, '%s')", outFile), false},
		{"URL table engine", fmt.Sprintf("CREATE TABLE default.pwn2 (s String) ENGINE = URL('http://%s/metrics', LineAsString)", httpAddr), false},
		{"dictionary from a file", fmt.Sprintf("CREATE DICTIONARY default.d (k UInt64, v String) PRIMARY KEY k SOURCE(FILE(path '%s' format 'TSV')) LAYOUT(FLAT()) LIFETIME(0)", "/etc/passwd"), false},
		{"backup", fmt.Sprintf("BACKUP TABLE vakt.requests TO File('%s')", outFile), false},
		{"stop the process", "SYSTEM SHUTDOWN", true},
		{"kill queries", "KILL QUERY WHERE 1 SYNC", false},
		{"lift the read-only mode", "SELECT 1 SETTINGS readonly = 0", true},
		{"lift the memory limit", "SELECT 1 SETTINGS max_memory_usage = 0", true},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			for _, acc := range accounts {
				methods := []string{http.MethodPost}
				if at.get {
					methods = append(methods, http.MethodGet)
				}
				for _, m := range methods {
					a := chAsk(t, base, m, acc.user, acc.password, at.query, nil)
					if a.status == http.StatusOK || a.code == "" {
						t.Errorf("%s by %s (%s) was not refused: %v", at.name, acc.user, m, a)
						continue
					}
					if strings.Contains(a.body, "root:") || strings.Contains(a.body, "VAKT_") {
						t.Errorf("%s by %s (%s) leaked content: %v", at.name, acc.user, m, a)
					}
				}
			}
			if _, err := os.Stat(outFile); err == nil {
				t.Fatalf("%s: the attacker's file %s was written", at.name, outFile)
			}
		})
	}

	t.Run("read-only account", func(t *testing.T) {
		for _, q := range []string{"DROP TABLE vakt.requests SYNC", "INSERT INTO vakt.requests (site) VALUES ('x')",
			"CREATE TABLE default.t (x UInt8) ENGINE = Memory", "ALTER TABLE vakt.requests DELETE WHERE 1"} {
			a := chAsk(t, base, http.MethodPost, "reader", readerPass, q, nil)
			if a.status == http.StatusOK {
				t.Errorf("reader ran %q: %v", q, a)
			}
		}
		a := chAsk(t, base, http.MethodPost, "reader", readerPass, "SELECT count() > 0 FROM vakt.requests", nil)
		if a.status != http.StatusOK || strings.TrimSpace(a.body) != "1" {
			t.Errorf("reader cannot read: %v", a)
		}
	})

	t.Run("state change through GET", func(t *testing.T) {
		a := chAsk(t, base, http.MethodGet, "vakt", vaktPass, "CREATE TABLE default.by_get (x UInt8) ENGINE = Memory", nil)
		if a.status == http.StatusOK {
			t.Errorf("CREATE TABLE through GET: %v", a)
		}
	})

	t.Run("foreign Host and Origin", func(t *testing.T) {
		for _, h := range []map[string]string{
			{"Host": "attacker.example:8123"},
			{"Origin": "http://attacker.example", "Content-Type": "text/plain"},
			{"Origin": "null", "Content-Type": "text/plain"},
		} {
			a := chAsk(t, base, http.MethodPost, "vakt", vaktPass, "CREATE TABLE default.cross_origin (x UInt8) ENGINE = Memory", h)
			if a.status != http.StatusForbidden {
				t.Errorf("headers %v: %v; want 403", h, a)
			}
		}
		a := chAsk(t, base, http.MethodPost, "vakt", vaktPass, "EXISTS TABLE default.cross_origin", nil)
		if strings.TrimSpace(a.body) != "0" {
			t.Errorf("a refused request created its table: %v", a)
		}
	})

	t.Run("embedded NATS", func(t *testing.T) {
		if _, err := nats.Connect(ep.NATS, nats.Timeout(5*time.Second)); err == nil {
			t.Fatal("an anonymous client connected to the embedded NATS server")
		}
		for _, user := range []string{"ingest", "store", "ops", "shipper"} {
			u := connectUser(t, ep.NATS, user, credential(t, dataDir, "nats-vakt_"+user+".password"))
			u.Refused(t, "read a salt", "$JS.API.DIRECT.GET.KV_vakt_salts", request(u.NC, "$JS.API.DIRECT.GET.KV_vakt_salts", `{"last_by_subj":"$KV.vakt_salts.current"}`))
			u.Refused(t, "replace a salt", "$KV.vakt_salts", func(ctx context.Context) error {
				return u.NC.Publish("$KV.vakt_salts.epoch.1", []byte(strings.Repeat("A", 32)))
			})
			u.Refused(t, "delete the events stream", "$JS.API.STREAM.DELETE.VAKT_EVENTS", request(u.NC, "$JS.API.STREAM.DELETE.VAKT_EVENTS", ""))
			u.Refused(t, "publish forged events", "vakt.events.forged", func(ctx context.Context) error {
				return u.NC.Publish("vakt.events.forged", []byte("forged"))
			})
			u.Refused(t, "read raw events", "vakt.raw.>", func(ctx context.Context) error {
				_, err := u.NC.SubscribeSync("vakt.raw.>")
				return err
			})
		}
	})

	t.Run("huge query texts", func(t *testing.T) {
		// Four 60 MB statements at once cost ~470 MB each before: now the
		// endpoint stops reading at its 1 MiB cap and answers with an error.
		rssBefore, err := vmRSS(run.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		huge := "SELECT length('" + strings.Repeat("a", 60<<20) + "')"
		errs := make(chan string, 4)
		for range 4 {
			go func() {
				req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(huge))
				req.SetBasicAuth("reader", readerPass)
				resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
				if err != nil { // the endpoint may close before the body is sent
					errs <- ""
					return
				}
				defer resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					errs <- "a 60 MB statement was run"
					return
				}
				errs <- ""
			}()
		}
		for range 4 {
			if e := <-errs; e != "" {
				t.Error(e)
			}
		}
		rssAfter, err := vmRSS(run.cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("RSS %d MiB before, %d MiB after four 60 MB statements", rssBefore>>20, rssAfter>>20)
		if rssAfter-rssBefore > 200<<20 {
			t.Errorf("RSS grew by %d MiB", (rssAfter-rssBefore)>>20)
		}
		if a := chAsk(t, base, http.MethodPost, "reader", readerPass, "SELECT 1", nil); a.status != http.StatusOK {
			t.Errorf("the endpoint no longer answers: %v", a)
		}
	})

	t.Run("slow clients", func(t *testing.T) {
		// More stalled clients than either HTTP listener admits (dashboard
		// 64, ClickHouse endpoint 128 connections), each holding half a
		// request header: the header timeouts close them, and a real
		// request gets through while they keep coming.
		for _, l := range []struct{ name, addr, path string }{
			{"dashboard", httpAddr, "/healthz"},
			{"clickhouse endpoint", strings.TrimPrefix(base, "http://"), "/ping"},
		} {
			var stalled []net.Conn
			for range 140 {
				c, err := net.Dial("tcp", l.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				io.WriteString(c, "GET "+l.path+" HTTP/1.1\r\nHost: 127.0.0.1\r\n")
				stalled = append(stalled, c)
			}
			start := time.Now()
			resp, err := (&http.Client{Timeout: 60 * time.Second}).Get("http://" + l.addr + l.path)
			if err != nil {
				t.Fatalf("%s: a real request behind 140 stalled clients: %v", l.name, err)
			}
			resp.Body.Close()
			t.Logf("%s: answered %d after %s behind 140 stalled clients", l.name, resp.StatusCode, time.Since(start).Round(time.Millisecond))
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %d", l.name, resp.StatusCode)
			}
			closed := 0
			for _, c := range stalled {
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				if _, err := c.Read(make([]byte, 512)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					closed++
				} else if err == nil {
					closed++ // answered (408) and closed by the server
				}
			}
			if closed != len(stalled) {
				t.Errorf("%s: %d of %d stalled clients were closed by the server", l.name, closed, len(stalled))
			}
		}
	})

	t.Run("dashboard listener", func(t *testing.T) {
		token := credential(t, dataDir, "http.token")
		get := func(path string, header map[string]string) int {
			req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+path, nil)
			for k, v := range header {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			c := http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		bearer := map[string]string{"Authorization": "Bearer " + token}
		for _, p := range []string{"/api/health?since=1h", "/api/threats", "/metrics"} {
			if s := get(p, nil); s != http.StatusUnauthorized {
				t.Errorf("GET %s without the token: %d; want 401", p, s)
			}
			if s := get(p, map[string]string{"Authorization": "Bearer wrong"}); s != http.StatusUnauthorized {
				t.Errorf("GET %s with a wrong token: %d; want 401", p, s)
			}
			if s := get(p, bearer); s != http.StatusOK {
				t.Errorf("GET %s with the token: %d; want 200", p, s)
			}
			if s := get(p, map[string]string{"Authorization": "Bearer " + token, "Host": "attacker.example:9464"}); s != http.StatusForbidden {
				t.Errorf("GET %s with a foreign Host: %d; want 403", p, s)
			}
			if s := get(p, map[string]string{"Authorization": "Bearer " + token, "Origin": "http://attacker.example"}); s != http.StatusForbidden {
				t.Errorf("GET %s from a foreign Origin: %d; want 403", p, s)
			}
		}
		if s := get("/readyz", nil); s != http.StatusOK {
			t.Errorf("/readyz: %d", s)
		}
	})

	t.Run("addresses in free text", func(t *testing.T) {
		log := filepath.Join(work, "free-text.log")
		ts := time.Now().Add(-time.Minute).Format("02/Jan/2006:15:04:05 -0700")
		line := fmt.Sprintf("192.0.2.10 - - [%s] \"GET /free-text/198.51.100.23/x HTTP/1.1\" 200 10 \"http://203.0.113.77:8080/from\" \"curl/8 from 203.0.113.99 and 2001:db8::99\"\n", ts)
		if err := os.WriteFile(log, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := vakt(t, "import", "--data-dir", dataDir, "--config", cfgPath, "--site", "free.example", log)
		if err != nil {
			t.Fatalf("vakt import: %v\n%s\n%s", err, out, errOut)
		}
		var row string
		testenv.WaitFor(t, 60*time.Second, "the free-text row", func() bool {
			return reader.QueryRow(context.Background(), "SELECT concat(path, ' ', referrer, ' ', user_agent) FROM vakt.requests WHERE site = 'free.example' LIMIT 1").Scan(&row) == nil
		})
		for _, ip := range []string{"198.51.100.23", "203.0.113.77", "203.0.113.99", "2001:db8::99", "192.0.2.10"} {
			if strings.Contains(row, ip) {
				t.Errorf("raw address %s stored in free text: %q", ip, row)
			}
		}
		t.Logf("stored as: %s", row)
	})

	// The legitimate paths keep working after all of that.
	t.Run("legitimate use", func(t *testing.T) {
		out, errOut, err := vakt(t, "sql", "--data-dir", dataDir, "--config", cfgPath, "--format", "tsv", "SELECT count() > 0 FROM vakt.requests")
		if err != nil || strings.TrimSpace(out) != "1" {
			t.Errorf("vakt sql: %v %q\n%s", err, out, errOut)
		}
		out, errOut, err = vakt(t, "report", "health", "--data-dir", dataDir, "--config", cfgPath, "--since", "1h", "--format", "json")
		if err != nil || !strings.Contains(out, `"section"`) {
			t.Errorf("vakt report health: %v %q\n%s", err, tailOf(out, 500), errOut)
		}
		var after uint64
		testenv.WaitFor(t, 60*time.Second, "the store to keep storing", func() bool {
			return reader.QueryRow(context.Background(), "SELECT count() FROM vakt.requests").Scan(&after) == nil && after > before
		})
	})
}

// chProbePage, served by a page of another origin, asks the ClickHouse
// endpoint at %[1]q to create a table, with vakt's own credentials in the
// URL (so that only the Origin and Host checks can stop it): a text/plain
// POST, which browsers send without a CORS preflight, and a GET as an image.
const chProbePage = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body><pre id="out">running</pre><script>
const T = %[1]q, AUTH = %[2]q, out = [];
(async () => {
  try { const r = await fetch(T + "/?" + AUTH, {method: "POST", headers: {"Content-Type": "text/plain"}, body: "CREATE TABLE default.%[3]s_post (x UInt8) ENGINE = Memory"}); out.push("post=" + r.status); }
  catch (e) { out.push("post=blocked"); }
  await new Promise(done => { const i = new Image(); i.onload = i.onerror = done;
    i.src = T + "/?" + AUTH + "&query=" + encodeURIComponent("CREATE TABLE default.%[3]s_get (x UInt8) ENGINE = Memory"); });
  document.getElementById("out").textContent = "done " + out.join(" ");
})();
</script></body></html>
`

var chProbeOutRE = regexp.MustCompile(`<pre id="out">done ([^<]*)</pre>`)

// TestBrowserCannotReachClickHouseEndpoint is issue 12's acceptance 3 for
// the ClickHouse endpoint of `vakt run`: in headless Chromium, a page on
// another origin and a page under a rebound DNS name send it statements
// with valid credentials; none runs. The same statement sent without a
// browser does run, so only the Origin and Host checks stopped them.
func TestBrowserCannotReachClickHouseEndpoint(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	testenv.Chromium(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	cfgPath, _ := writeConfig(t, work, "alerts: {enabled: false}\n")
	startBackground(t, "run", "--config", cfgPath, "--data-dir", dataDir)
	ep := readRuntime(t, dataDir)
	vaktPass := credential(t, dataDir, "clickhouse-vakt.password")
	auth := url.Values{"user": {"vakt"}, "password": {vaktPass}}.Encode()
	testenv.WaitFor(t, 60*time.Second, "the endpoint to answer", func() bool {
		return chQuery(strings.TrimPrefix(ep.ClickHouse, "http://"), "vakt", vaktPass, "SELECT 1") == "1"
	})
	exists := func(table string) bool {
		return chQuery(strings.TrimPrefix(ep.ClickHouse, "http://"), "vakt", vaktPass, "EXISTS TABLE default."+table) == "1"
	}

	t.Run("another origin", func(t *testing.T) {
		foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, chProbePage, ep.ClickHouse, auth, "cross")
		}))
		defer foreign.Close()
		out := chProbeResult(t, testenv.RunPage(t, foreign.URL+"/"))
		if !strings.Contains(out, "post=blocked") && !strings.Contains(out, "post=403") {
			t.Errorf("the foreign page saw %q", out)
		}
		for _, table := range []string{"cross_post", "cross_get"} {
			if exists(table) {
				t.Errorf("a page of another origin created default.%s", table)
			}
		}
	})

	t.Run("foreign Host (DNS rebinding)", func(t *testing.T) {
		page := testenv.Rebound(t, ep.ClickHouse, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, chProbePage, "", auth, "rebound")
		})
		out := chProbeResult(t, testenv.RunPage(t, page, testenv.ReboundFlag))
		if !strings.Contains(out, "post=403") {
			t.Errorf("the rebound page saw %q, want post=403", out)
		}
		for _, table := range []string{"rebound_post", "rebound_get"} {
			if exists(table) {
				t.Errorf("a rebound page created default.%s", table)
			}
		}
	})

	// Control: the same statement, sent as a client would, runs.
	resp, err := http.Post(ep.ClickHouse+"/?"+auth, "text/plain", strings.NewReader("CREATE TABLE default.control_text (x UInt8) ENGINE = Memory"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !exists("control_text") {
		t.Fatalf("the control statement did not run (HTTP %d): the test cannot tell the checks from a broken request", resp.StatusCode)
	}
}

func chProbeResult(t *testing.T, b testenv.Browser) string {
	t.Helper()
	m := chProbeOutRE.FindStringSubmatch(b.Stdout)
	if m == nil {
		t.Fatalf("the probe page did not finish:\n%.2000s\nconsole: %v", b.Stdout, b.Console)
	}
	t.Logf("page saw: %s", m[1])
	return m[1]
}
