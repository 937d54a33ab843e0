package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// rssBound is the documented bound (README, BENCHMARKS.md) on the resident
// memory of a `vakt run` whose ClickHouse is down while input keeps
// arriving, with the default streams.raw_max_bytes (32 MiB) and store
// batch: the RAW stream, one held store batch, and the runtime's share.
const rssBound = 320 << 20

// TestBackpressureBoundedMemory runs `vakt run` against a ClickHouse that
// goes away for 30 s while a log keeps growing at ~10,000 lines/s. The
// store holds its batch, the events stream fills up to its limit, the
// pseudonymiser stops taking raw events, the RAW stream fills, and ingest
// waits (counted as backpressure) instead of dropping: the log file is the
// buffer. The process's resident memory, sampled throughout, stays under
// rssBound; once ClickHouse is back every line is stored exactly once.
func TestBackpressureBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("30-second ClickHouse outage: skipped with -short")
	}
	work := t.TempDir()
	const chPassword = "backpressure-test-password"
	srv := testenv.RunEngine(t, testenv.EngineDataDir(filepath.Join(work, "clickhouse")), testenv.EngineAccount("vakt", chPassword))
	proxy := startTCPProxy(t, srv.Addr())

	logFile := filepath.Join(work, "access.log")
	metricsAddr := freeLoopbackAddr(t)
	cfg := faultConfig(t, work, "run.yaml", filepath.Join(work, "data"), fmt.Sprintf(`clickhouse: {addr: [%s], protocol: http, user: vakt, password: `+chPassword+`}
http: {listen: %q}
store: {flush_interval: 200ms}
streams: {events_max_bytes: 8388608}
ingest:
  from_start: true
  files: [%s]
  site: pressure.example
`, proxy.addr, metricsAddr, logFile))
	w := startLogWriter(t, logFile, 200, 5*time.Millisecond)
	t.Setenv("GOMEMLIMIT", "256MiB") // read by vakt's runtime, not this one's
	p := startVakt(t, "run", "--config", cfg)
	p.waitOutput(t, regexp.MustCompile(`following log files`))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if n, _ := chCountAs(srv.Addr(), "vakt", chPassword); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no row stored within 30s:\n%s", p.output())
		}
	}

	var peak atomic.Int64
	stopSampling := sampleRSS(t, p.cmd.Process.Pid, &peak)
	waitsBefore := metricValue(t, metricsAddr, filepath.Join(work, "data"), `vakt_backpressure_waits_total{stage="ingest"}`)
	proxy.setDown(true)
	t.Logf("ClickHouse down at %d lines written", w.written.Load())
	time.Sleep(30 * time.Second) // the scenario: the writer keeps writing through 30 s of outage
	waits := metricValue(t, metricsAddr, filepath.Join(work, "data"), `vakt_backpressure_waits_total{stage="ingest"}`) - waitsBefore
	held, _ := chCountAs(srv.Addr(), "vakt", chPassword)
	proxy.setDown(false)
	t.Logf("ClickHouse up at %d lines written (%d rows stored); ingest waited on a full RAW stream %.0f times; peak RSS %.0f MiB",
		w.written.Load(), held, waits, float64(peak.Load())/(1<<20))
	time.Sleep(2 * time.Second) // the scenario: writing goes on after the recovery
	w.stop()
	n := int(w.written.Load())
	// A generous deadline: the drain of a million lines is slow on a busy
	// machine, and the counts below are what the test asserts.
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if rows, _ := chCountAs(srv.Addr(), "vakt", chPassword); rows >= n {
			break
		}
	}
	time.Sleep(time.Second) // anything extra (a duplicate) arrives
	stopSampling()
	p.stop(t)

	if waits == 0 {
		t.Error("ingest never waited: the outage did not reach it, so the bound was not exercised")
	}
	if got := peak.Load(); got > rssBound {
		t.Errorf("peak RSS %.0f MiB, over the documented bound %d MiB", float64(got)/(1<<20), rssBound>>20)
	}
	rows, paths := chCountAs(srv.Addr(), "vakt", chPassword)
	t.Logf("%d lines written; %d rows, %d distinct paths; peak RSS %.0f MiB (bound %d MiB)",
		n, rows, paths, float64(peak.Load())/(1<<20), rssBound>>20)
	if rows != n || paths != n {
		t.Fatalf("%d lines written: %d rows stored, %d distinct paths (want %d each)", n, rows, paths, n)
	}
}

// sampleRSS records the peak VmRSS of pid every 100 ms until the returned
// function is called.
func sampleRSS(t *testing.T, pid int, peak *atomic.Int64) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := vmRSS(pid); err == nil && rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func vmRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// metricValue reads one sample of vakt's /metrics (with the data dir's
// token), 0 when it is absent.
func metricValue(t *testing.T, addr, dataDir, series string) float64 {
	t.Helper()
	token, err := secrets.Read(dataDir, app.HTTPTokenName)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// tcpProxy forwards connections to a backend; down, it refuses new
// connections (its listener is closed) and cuts the open ones, as a
// ClickHouse server that went away would.
type tcpProxy struct {
	t       *testing.T
	addr    string
	backend string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func startTCPProxy(t *testing.T, backend string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, backend: backend, conns: map[net.Conn]struct{}{}}
	p.listen("127.0.0.1:0")
	t.Cleanup(func() { p.setDown(true) })
	return p
}

func (p *tcpProxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.ln = ln
	go p.accept(ln)
}

func (p *tcpProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[b] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { io.Copy(b, c); b.Close() }()
		go func() { io.Copy(c, b); c.Close() }()
	}
}

func (p *tcpProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if down {
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
		return
	}
	if p.ln == nil {
		p.listen(p.addr)
	}
}
