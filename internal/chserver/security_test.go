package chserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/vakt-dev/vakt/internal/chserver"
)

type account struct{ user, password string }

var (
	writerAcct = account{writer, writerPassword}
	readerAcct = account{"reader", "s3cret"}
)

// do sends one query and returns status, exception code and body.
func do(t *testing.T, method string, a *account, query string, hdr http.Header) (int, string, string) {
	t.Helper()
	var req *http.Request
	if method == http.MethodGet {
		req, _ = http.NewRequest(method, srv.URL()+"/?"+url.Values{"query": {query}}.Encode(), nil)
	} else {
		req, _ = http.NewRequest(method, srv.URL()+"/", strings.NewReader(query))
		req.Header.Set("Content-Type", "text/plain")
	}
	if a != nil {
		req.SetBasicAuth(a.user, a.password)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if h := hdr.Get("Host"); h != "" {
		req.Host = h
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("X-ClickHouse-Exception-Code"), string(b)
}

// TestAttacksRefused: every attack of issue 12 on the engine, for both
// accounts, by POST and by GET, is refused with ClickHouse's codes, and
// leaves no trace (no file written, no request to a local service, no table).
func TestAttacksRefused(t *testing.T) {
	var hits atomic.Int64
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "secret\n")
	}))
	defer local.Close()
	out := filepath.Join(t.TempDir(), "written")
	inData := filepath.Join(dataDir, "store", "probe.txt")
	os.MkdirAll(filepath.Dir(inData), 0o700)
	if err := os.WriteFile(inData, []byte("salt-like secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustOK(t, writerAcct, "CREATE TABLE IF NOT EXISTS victim (x String) ENGINE = MergeTree ORDER BY x")
	mustOK(t, writerAcct, "INSERT INTO victim VALUES ('kept')")

	attacks := []struct {
		name, q string
		codes   string // accepted exception codes
	}{
		{"file /etc/passwd", "SELECT * FROM file('/etc/passwd', 'LineAsString')", "497"},
		{"proc environ", "SELECT * FROM file('/proc/self/environ', 'RawBLOB')", "497"},
		{"file in the data dir", "SELECT * FROM file('" + inData + "', 'RawBLOB')", "497"},
		{"file upper case", "SELECT * FROM FILE('/etc/passwd', 'LineAsString')", "497"},
		{"scalar file()", "SELECT file('/etc/passwd')", "497"},
		{"file in IN", "SELECT 1 IN file('/etc/passwd')", "497"},
		{"file in a subquery", "SELECT count() FROM (SELECT * FROM numbers(1)) WHERE 1 IN (SELECT 1 FROM file('/etc/passwd', 'LineAsString'))", "497"},
		{"describe file", "DESCRIBE TABLE file('/etc/passwd', 'LineAsString')", "497"},
		{"insert into function file", "INSERT INTO FUNCTION file('" + out + "', 'CSV') SELECT 1", "497,164"},
		{"into outfile", "SELECT 1 INTO OUTFILE '" + out + "' APPEND", "497"},
		{"from infile", "INSERT INTO victim FROM INFILE '/etc/passwd' FORMAT LineAsString", "497,164"},
		{"url to a local service", "SELECT * FROM url('" + local.URL + "/', 'LineAsString')", "497"},
		{"remote", "SELECT * FROM remote('127.0.0.1', system.one)", "497"},
		{"s3", "SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV')", "497"},
		{"executable", "SELECT * FROM executable('id', 'TSV', 'x String')", "497"},
		{"mysql", "SELECT * FROM mysql('127.0.0.1:1', 'd', 't', 'u', 'p')", "497"},
		{"input", "SELECT * FROM input('x String')", "497"},
		{"create table engine File", "CREATE TABLE t_file (x String) ENGINE = File(CSV)", "497,164"},
		{"create table engine URL", "CREATE TABLE t_url (x String) ENGINE = URL('" + local.URL + "/', CSV)", "497,164"},
		{"create table as file", "CREATE TABLE t_as AS file('/etc/passwd', 'LineAsString')", "497,164"},
		{"column default file", "CREATE TABLE t_def (x String DEFAULT file('/etc/passwd')) ENGINE = Memory", "497,164"},
		{"database Filesystem", "CREATE DATABASE d_fs ENGINE = Filesystem('/')", "497,164"},
		{"dictionary source", "CREATE DICTIONARY d_f (k UInt64, v String) PRIMARY KEY k SOURCE(FILE(path '/etc/passwd' format 'CSV')) LAYOUT(FLAT()) LIFETIME(0)", "497,164"},
		{"disk setting", "CREATE TABLE t_disk (x UInt8) ENGINE = MergeTree ORDER BY x SETTINGS disk = disk(type = 'local', path = '/tmp/h1disk/')", "497,164"},
		{"materialized view engine File", "CREATE MATERIALIZED VIEW mv_f ENGINE = File(CSV) AS SELECT 1 AS x", "497,164"},
		{"backup", "BACKUP TABLE victim TO File('/tmp/h1backup')", "497"},
		{"attach from", "ATTACH TABLE t_att FROM '/tmp/h1att' (x UInt8) ENGINE = MergeTree ORDER BY x", "497"},
		{"system shutdown", "SYSTEM SHUTDOWN", "497"},
		{"system reload config", "SYSTEM RELOAD CONFIG", "497"},
		{"kill query", "KILL QUERY WHERE 1", "497"},
		{"set a limit away", "SET max_memory_usage = 0", "497"},
		{"settings clause lifts a limit", "SELECT 1 SETTINGS max_memory_usage = 0", "452,164"},
		{"settings clause raises time", "SELECT 1 SETTINGS max_execution_time = 100000", "452,164"},
		{"settings clause names a file", "SELECT 1 SETTINGS format_template_row = '/etc/passwd'", "452,164"},
		{"multi-statement", "SELECT 1; SELECT * FROM file('/etc/passwd', 'LineAsString')", "62"},
		{"expression in VALUES data", "INSERT INTO victim VALUES (file('/etc/passwd'))", "497,164,62,27,344"},
		{"explain a write", "EXPLAIN PIPELINE INSERT INTO FUNCTION file('" + out + "', 'CSV') SELECT 1", "497"},
	}
	for _, a := range []account{writerAcct, readerAcct} {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			for _, at := range attacks {
				t.Run(a.user+"/"+method+"/"+at.name, func(t *testing.T) {
					status, code, body := do(t, method, &a, at.q, nil)
					if status == 200 || !strings.Contains(","+at.codes+",", ","+code+",") {
						t.Fatalf("status %d code %q (want one of %s): %s", status, code, at.codes, body)
					}
					if strings.Contains(body, "root:") || strings.Contains(body, "secret") {
						t.Fatalf("the answer leaks: %s", body)
					}
				})
			}
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the local service got %d requests", n)
	}
	// The engine is still up, the victim table still there.
	if _, _, body := do(t, http.MethodPost, &readerAcct, "SELECT x FROM victim", nil); body != "kept\n" {
		t.Fatalf("after the attacks: %q", body)
	}
}

// TestReadOnlyAccountCannotWrite: the reader may read, never change state.
func TestReadOnlyAccountCannotWrite(t *testing.T) {
	mustOK(t, writerAcct, "CREATE TABLE IF NOT EXISTS ro_victim (x UInt8) ENGINE = MergeTree ORDER BY x")
	for _, q := range []string{
		"DROP TABLE ro_victim SYNC", "TRUNCATE TABLE ro_victim", "INSERT INTO ro_victim VALUES (1)",
		"ALTER TABLE ro_victim DELETE WHERE 1", "CREATE TABLE ro_t2 (x UInt8) ENGINE = Memory",
		"RENAME TABLE ro_victim TO ro_gone", "OPTIMIZE TABLE ro_victim FINAL", "KILL QUERY WHERE 1 SYNC",
	} {
		status, code, body := do(t, http.MethodPost, &readerAcct, q, nil)
		if status == 200 || (code != "164" && code != "497") {
			t.Errorf("%s: status %d code %s: %s", q, status, code, body)
		}
	}
	// GET is no state change for vakt's account either.
	if status, code, _ := do(t, http.MethodGet, &writerAcct, "DROP TABLE ro_victim SYNC", nil); status == 200 || code != "164" {
		t.Errorf("DROP by GET: status %d code %s", status, code)
	}
	if _, _, body := do(t, http.MethodPost, &readerAcct, "EXISTS TABLE ro_victim", nil); body != "1\n" {
		t.Fatalf("ro_victim: %q", body)
	}
	for _, q := range []string{"SELECT count() FROM ro_victim", "SHOW TABLES", "DESCRIBE TABLE ro_victim",
		"EXPLAIN SELECT 1", "SELECT 1 UNION ALL SELECT 2", "SELECT sum(number) FROM numbers(10)"} {
		if status, _, body := do(t, http.MethodPost, &readerAcct, q, nil); status != 200 {
			t.Errorf("reader %s: %d %s", q, status, body)
		}
	}
}

func TestAnonymousHostAndOrigin(t *testing.T) {
	if status, code, _ := do(t, http.MethodPost, nil, "SELECT 1", nil); status != 401 || code != "516" {
		t.Errorf("anonymous: status %d code %s", status, code)
	}
	if status, code, _ := do(t, http.MethodGet, &account{"default", ""}, "SELECT 1", nil); status != 401 || code != "516" {
		t.Errorf("default without password: status %d code %s", status, code)
	}
	// A cross-origin text/plain POST (what a web page can send without a
	// preflight) is refused before anything runs.
	h := http.Header{"Origin": {"http://evil.example"}}
	if status, _, _ := do(t, http.MethodPost, &writerAcct, "CREATE TABLE origin_t (x UInt8) ENGINE = Memory", h); status != 403 {
		t.Errorf("cross-origin POST: status %d", status)
	}
	h = http.Header{"Origin": {"http://127.0.0.1:1"}}
	if status, _, _ := do(t, http.MethodPost, &writerAcct, "SELECT 1", h); status != 403 {
		t.Errorf("other loopback port origin: status %d", status)
	}
	h = http.Header{"Sec-Fetch-Site": {"cross-site"}}
	if status, _, _ := do(t, http.MethodGet, &writerAcct, "SELECT 1", h); status != 403 {
		t.Errorf("cross-site fetch: status %d", status)
	}
	// DNS rebinding: a foreign name pointing at 127.0.0.1.
	h = http.Header{"Host": {"attacker.example:" + port(srv.Addr())}}
	if status, _, _ := do(t, http.MethodGet, &writerAcct, "SELECT 1", h); status != 403 {
		t.Errorf("foreign Host: status %d", status)
	}
	if _, _, body := do(t, http.MethodPost, &writerAcct, "EXISTS TABLE origin_t", nil); body != "0\n" {
		t.Errorf("the cross-origin CREATE ran: %q", body)
	}
	// The endpoint's own origin and localhost are fine.
	for _, h := range []http.Header{
		{"Origin": {srv.URL()}},
		{"Origin": {"http://localhost:" + port(srv.Addr())}, "Host": {"localhost:" + port(srv.Addr())}},
	} {
		if status, _, body := do(t, http.MethodPost, &writerAcct, "SELECT 1", h); status != 200 {
			t.Errorf("same origin %v: %d %s", h, status, body)
		}
	}
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func TestStartNeedsAccounts(t *testing.T) {
	for _, users := range []map[string]chserver.User{nil, {"vakt": {}}} {
		if _, err := chserver.Start(context.Background(), chserver.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Users: users}); err == nil {
			t.Fatalf("started with users %v", users)
		}
	}
}

// TestSlowBodiesHoldNoSession: clients that open INSERT bodies and send
// nothing neither take the concurrency slots (2 here) nor block a normal
// query, and are cut after the body idle timeout.
func TestSlowBodiesHoldNoSession(t *testing.T) {
	mustOK(t, writerAcct, "CREATE TABLE IF NOT EXISTS slow_t (x UInt8) ENGINE = Memory")
	var wg sync.WaitGroup
	cut := make(chan time.Duration, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				return
			}
			defer c.Close()
			q := url.Values{"query": {"INSERT INTO slow_t FORMAT TSV"}}.Encode()
			fmt.Fprintf(c, "POST /?%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Length: 1000\r\n\r\n1\n", q, srv.Addr(), basic(writerAcct))
			start := time.Now()
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err == nil && res.Header.Get("X-ClickHouse-Exception-Code") != "209" {
				t.Errorf("silent body: status %d code %q", res.StatusCode, res.Header.Get("X-ClickHouse-Exception-Code"))
			}
			cut <- time.Since(start)
		}()
	}
	time.Sleep(200 * time.Millisecond) // let them connect; not a synchronisation the assertions need
	start := time.Now()
	for range 3 {
		if status, _, body := do(t, http.MethodPost, &readerAcct, "SELECT 1", nil); status != 200 {
			t.Fatalf("a normal query behind slow bodies: %d %s", status, body)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("normal queries took %v behind slow bodies", d)
	}
	wg.Wait()
	close(cut)
	for d := range cut {
		if d > 10*time.Second {
			t.Errorf("a silent body was held %v (idle timeout 2s)", d)
		}
	}
}

func basic(a account) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(a.user, a.password)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestMemoryLimit: a query over the per-query limit fails with the engine's
// MEMORY_LIMIT_EXCEEDED and the endpoint keeps serving; a client cannot
// lift the limit by URL setting either.
func TestMemoryLimit(t *testing.T) {
	for _, a := range []account{writerAcct, readerAcct} {
		status, code, body := do(t, http.MethodPost, &a, "SELECT length(groupArray(number)) FROM numbers(300000000)", nil)
		if status == 200 || code != "241" {
			t.Fatalf("%s: status %d code %s: %.300s", a.user, status, code, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/?max_memory_usage=0", strings.NewReader("SELECT 1"))
	req.SetBasicAuth(writer, writerPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("X-ClickHouse-Exception-Code") != "452" {
		t.Errorf("max_memory_usage=0 in the URL: status %d code %s", res.StatusCode, res.Header.Get("X-ClickHouse-Exception-Code"))
	}
	if _, _, body := do(t, http.MethodPost, &readerAcct, "SELECT getSetting('max_memory_usage')", nil); body != fmt.Sprint(512<<20)+"\n" {
		t.Errorf("max_memory_usage in a session: %q", body)
	}
	if status, _, _ := do(t, http.MethodPost, &readerAcct, "SELECT 1", nil); status != 200 {
		t.Fatal("the endpoint does not serve after the limit")
	}
}

// TestConcurrencyCap: with 2 statements running, a third waits briefly
// (500ms here) and is then refused with code 202.
func TestConcurrencyCap(t *testing.T) {
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(t, http.MethodPost, &readerAcct, "SELECT sleep(2.5)", nil)
		}()
	}
	saw202 := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !saw202; {
		status, code, _ := do(t, http.MethodPost, &readerAcct, "SELECT 1", nil)
		saw202 = status == 503 && code == "202"
	}
	wg.Wait()
	if !saw202 {
		t.Fatal("no TOO_MANY_SIMULTANEOUS_QUERIES while 2 statements ran")
	}
	if status, _, _ := do(t, http.MethodPost, &readerAcct, "SELECT 1", nil); status != 200 {
		t.Fatal("no slot after the long statements ended")
	}
}

// TestClickHouseGoReader: the read-only account over clickhouse-go reads
// typed rows and is refused writes with READONLY.
func TestClickHouseGoReader(t *testing.T) {
	ctx := context.Background()
	w := open(t, writer, writerPassword)
	if err := w.Exec(ctx, "CREATE TABLE IF NOT EXISTS go_reader (id UInt32, s String) ENGINE = MergeTree ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	b, err := w.PrepareBatch(ctx, "INSERT INTO go_reader")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		b.Append(uint32(i), fmt.Sprint("s", i))
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	r := open(t, readerAcct.user, readerAcct.password)
	var n uint64
	var s string
	if err := r.QueryRow(ctx, "SELECT count(), max(s) FROM go_reader WHERE id < {n:UInt32}", clickhouse.Named("n", "500")).Scan(&n, &s); err != nil || n != 500 || s != "s99" {
		t.Fatalf("reader: %d %q %v", n, s, err)
	}
	_, err = r.PrepareBatch(ctx, "INSERT INTO go_reader")
	if err == nil {
		b, _ := r.PrepareBatch(ctx, "INSERT INTO go_reader")
		b.Append(uint32(1), "x")
		err = b.Send()
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 164 {
		t.Fatalf("reader batch insert: %v", err)
	}
}

// TestPolicyOverhead reports what the parser round trip costs, uncached and
// cached (clickhouse-go repeats the same INSERT text for every batch).
func TestPolicyOverhead(t *testing.T) {
	const n = 200
	srv.ClearPolicyCache()
	start := time.Now()
	for i := range n {
		if err := srv.Check(fmt.Sprintf("SELECT site, count() FROM vakt.requests WHERE status = %d GROUP BY site", i)); err != nil {
			t.Fatal(err)
		}
	}
	uncached := time.Since(start) / n
	start = time.Now()
	for range n {
		if err := srv.Check("INSERT INTO vakt.requests FORMAT Native"); err != nil {
			t.Fatal(err)
		}
	}
	cached := time.Since(start) / n
	t.Logf("policy check: %v per new statement, %v per cached one", uncached, cached)
	if cached > time.Millisecond {
		t.Errorf("a cached decision costs %v", cached)
	}
}

// TestParameterValuesShareADecision: a statement asked again with other
// values of its parameters (a report over a new time range) reuses the
// decision, allowed or refused; one with Identifier parameters is judged
// for each value.
func TestParameterValuesShareADecision(t *testing.T) {
	srv.ClearPolicyCache()
	steps := []struct {
		stmt, param, value string
		denied             bool
		misses             int64 // parser decisions so far
	}{
		{"SELECT count() FROM system.one WHERE now64(3) >= {since:DateTime64(3, 'UTC')}", "since", "2026-12-01 00:00:00.000", false, 1},
		{"SELECT count() FROM system.one WHERE now64(3) >= {since:DateTime64(3, 'UTC')}", "since", "2026-12-05 09:40:08.000", false, 1},
		{"SELECT * FROM url({u:String}, 'CSV', 'x String')", "u", "http://127.0.0.1:1/a", true, 2},
		{"SELECT * FROM url({u:String}, 'CSV', 'x String')", "u", "http://127.0.0.1:1/b", true, 2},
		{"SELECT count() FROM {t:Identifier}", "t", "system.one", false, 3},
		{"SELECT count() FROM {t:Identifier}", "t", "system.numbers", false, 4},
		{"SELECT count() FROM {t:Identifier}", "t", "system.one", false, 4},
	}
	base := srv.PolicyMisses()
	for i, st := range steps {
		err := srv.CheckWithParams(st.stmt, map[string]string{st.param: st.value})
		if (err != nil) != st.denied {
			t.Fatalf("step %d (%s = %s): err %v, want denied %v", i, st.param, st.value, err, st.denied)
		}
		if got := srv.PolicyMisses() - base; got != st.misses {
			t.Fatalf("step %d (%s = %s): %d parser decisions, want %d", i, st.param, st.value, got, st.misses)
		}
	}
}

func mustOK(t *testing.T, a account, q string) {
	t.Helper()
	if status, _, body := do(t, http.MethodPost, &a, q, nil); status != 200 {
		t.Fatalf("%s: %d %s", q, status, body)
	}
}
