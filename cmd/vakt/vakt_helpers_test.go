package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// Helpers the end-to-end tests share: addresses, configurations, a vakt in
// the background, the runtime's ClickHouse, metrics and the raw-IP scan.

// freeLoopbackAddr returns a loopback address with a port free a moment ago
// (testenv.FreePort).
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

// writeConfig writes a configuration with free ports and debug logging,
// plus extra YAML lines, and returns its path.
func writeConfig(t *testing.T, dir, extra string) (path, metricsAddr string) {
	t.Helper()
	metricsAddr = freeLoopbackAddr(t)
	cfg := fmt.Sprintf(`log:
  level: debug
nats:
  listen: %s
clickhouse:
  listen: %s
http:
  listen: %s
%s`, freeLoopbackAddr(t), freeLoopbackAddr(t), metricsAddr, extra)
	path = filepath.Join(dir, "vakt.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, metricsAddr
}

// outBuffer collects a subprocess's output while the test reads it.
type outBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *outBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *outBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// bgVakt is a vakt process the test stops with SIGTERM.
type bgVakt struct {
	cmd            *exec.Cmd
	stdout, stderr outBuffer
	done           chan error
}

func startBackground(t *testing.T, args ...string) *bgVakt {
	t.Helper()
	b := &bgVakt{done: make(chan error, 1)}
	b.cmd = exec.Command(vaktBin, args...)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	b.cmd.Env = append(os.Environ(), "VAKT_LOG_LEVEL=debug")
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.done <- b.cmd.Wait() }()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop sends SIGTERM and waits for a clean exit.
func (b *bgVakt) stop(t *testing.T) {
	t.Helper()
	if b.cmd.ProcessState != nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("vakt exited with %v\nstderr:\n%s", err, tailOf(b.stderr.String(), 4000))
		}
	case <-time.After(60 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
		t.Errorf("vakt did not stop within 60s of SIGTERM")
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// runtimeCH connects to the ClickHouse endpoint a running vakt serves for
// dataDir, found through its runtime file.
func runtimeCH(t *testing.T, dataDir string) driver.Conn {
	t.Helper()
	var info struct {
		ClickHouse string `json:"clickhouse_http"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dataDir, "vakt.runtime.json"))
		if err == nil && json.Unmarshal(b, &info) == nil && info.ClickHouse != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no runtime file in %s", dataDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// vakt's own account, whose password vakt generated into the data dir.
	password, err := secrets.Read(dataDir, app.ClickHousePasswordFile(app.DefaultClickHouseUser))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{strings.TrimPrefix(info.ClickHouse, "http://")}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: app.DefaultClickHouseUser, Password: password}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func countRows(t *testing.T, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func scrapeMetrics(t *testing.T, addr, dataDir string) string {
	t.Helper()
	body, err := tryScrape(addr, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// tryScrape reads /metrics with the data dir's token (http.token).
func tryScrape(addr, dataDir string) (string, error) {
	token, err := secrets.Read(dataDir, app.HTTPTokenName)
	if err != nil {
		return "", fmt.Errorf("scrape /metrics: %w", err)
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return "", fmt.Errorf("scrape /metrics: %d %v", resp.StatusCode, err)
	}
	return string(b), nil
}

// metricSum adds every sample of a metric family in a scrape.
func metricSum(body, name string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// appendMalformed appends lines that carry a client IP but cannot be
// parsed, from addresses that send nothing valid, and returns those IPs.
func appendMalformed(t *testing.T, tl *testLog) []netip.Addr {
	t.Helper()
	var ips []netip.Addr
	var b strings.Builder
	for i := range 12 {
		ip := netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)})
		if i%3 == 2 {
			ip = netip.MustParseAddr(fmt.Sprintf("2001:db8:bad:%x::%x", i, 7*i+1))
		}
		ips = append(ips, ip)
		switch i % 4 {
		case 0: // timestamp that is not one
			fmt.Fprintf(&b, "%s - - [yesterday at noon] \"GET /bad/%d HTTP/1.1\" 200 12 \"-\" \"-\"\n", ip, i)
		case 1: // cut short in the request line
			fmt.Fprintf(&b, "%s - - [%s] \"GET /cut/%d?email=x@y.se\n", ip, time.Now().Format("02/Jan/2006:15:04:05 -0700"), i)
		case 2: // the address alone
			fmt.Fprintf(&b, "%s\n", ip)
		case 3: // a status that is not a number
			fmt.Fprintf(&b, "%s - - [%s] \"GET /st/%d HTTP/1.1\" OK 12 \"-\" \"-\"\n", ip, time.Now().Format("02/Jan/2006:15:04:05 -0700"), i)
		}
		tl.malformed++
	}
	f, err := os.OpenFile(tl.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	return ips
}

func assertNoIPText(t *testing.T, where, text string, ips []netip.Addr) {
	t.Helper()
	for _, ip := range ips {
		for _, s := range []string{ip.String(), ip.StringExpanded()} {
			if strings.Contains(text, s) {
				i := strings.Index(text, s)
				t.Fatalf("raw IP %s in %s: ...%s...", s, where, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
}
