package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestRunSyslogEndToEnd configures `vakt run` with the syslog receiver and
// no files: nginx logs to it over UDP (access_log syslog:...,tag=...) and
// logger over TCP (RFC 5424, octet-counted), and the rows arrive in
// ClickHouse under the sites their tags name, pseudonymised.
func TestRunSyslogEndToEnd(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	logger, err := exec.LookPath("logger")
	if err != nil {
		if testenv.CI() {
			t.Fatal("logger (Debian's bsdutils) is required in CI")
		}
		t.Skip("logger not installed")
	}
	work := t.TempDir()
	port := testenv.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := filepath.Join(work, "vakt.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
nats: {listen: "127.0.0.1:0"}
clickhouse: {listen: "127.0.0.1:0"}
http: {listen: ""}
store: {flush_interval: 200ms}
ingest:
  syslog: {udp: "%s", tcp: "%s", site_from: tag}
`, filepath.Join(work, "data"), addr, addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	run := startVakt(t, "run", "--config", cfg)
	chAddr := run.waitOutput(t, regexp.MustCompile(`ClickHouse endpoint:\s+http://(\S+)`))[1]
	run.waitOutput(t, regexp.MustCompile(`syslog receiver listening`))

	front := testenv.FreePort(t)
	testenv.StartNginx(t, fmt.Sprintf(`
  server {
    listen 127.0.0.1:%d;
    access_log syslog:server=%s,tag=blog combined;
    location / { return 200 "ok\n"; }
  }`, front, addr), front)
	for i := range 20 {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", front))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /post/%d?utm=x HTTP/1.0\r\nUser-Agent: e2e\r\n\r\n", i)
		_, _ = io.ReadAll(c)
		c.Close()
	}
	now := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	for i := range 5 {
		line := fmt.Sprintf(`203.0.113.%d - - [%s] "GET /shop/%d HTTP/1.1" 200 10 "-" "logger"`, i+1, now, i)
		if out, err := exec.Command(logger, "--rfc5424", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P", strconv.Itoa(port),
			"-t", "shop", line).CombinedOutput(); err != nil {
			t.Fatalf("logger: %v\n%s", err, out)
		}
	}

	query := func(q string) string {
		password, _ := secrets.Read(filepath.Join(work, "data"), app.ClickHousePasswordFile(app.DefaultClickHouseUser))
		return chQuery(chAddr, app.DefaultClickHouseUser, password, q)
	}
	want := "blog\t20\t1\nshop\t5\t5"
	q := "SELECT site, count(), uniqExact(client_id) FROM vakt.requests GROUP BY site ORDER BY site"
	deadline := time.Now().Add(60 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		if got = query(q); got == want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("rows by site:\n%s\nwant\n%s\nvakt output:\n%s", got, want, run.output())
	}
	if q := query("SELECT count() FROM vakt.requests WHERE path LIKE '/post/%' AND status = 200 AND user_agent = 'e2e'"); q != "20" {
		t.Errorf("nginx rows with path, status and user agent: %s", q)
	}
	run.stop(t)
	if out := run.output(); strings.Contains(out, "203.0.113.") || strings.Contains(out, "127.0.0.1 -") {
		t.Errorf("vakt's output contains a client IP:\n%s", out)
	}
}
