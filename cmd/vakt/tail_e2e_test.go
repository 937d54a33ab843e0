package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// process is a vakt subprocess whose output is kept.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func startVakt(t *testing.T, args ...string) *process {
	t.Helper()
	return startVaktEnv(t, nil, args...)
}

// startVaktEnv starts vakt with extra environment variables (KEY=value),
// which a parallel test cannot set with t.Setenv.
func startVaktEnv(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(vaktBin, args...), done: make(chan struct{})}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() {
		p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("vakt did not stop:\n%s", p.output())
	}
}

func (p *process) waitOutput(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		select {
		case <-p.done:
			t.Fatalf("vakt exited:\n%s", p.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no %q in vakt's output:\n%s", re, p.output())
	return nil
}

// TestFollowSurvivesSIGKILL follows a log that is written and rotated (by
// rename and by copytruncate) while `vakt ingest` is killed with SIGKILL
// twice and started again; the pipeline runs in `vakt run` on the same
// data dir. Every line is stored exactly once.
func TestFollowSurvivesSIGKILL(t *testing.T) {
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logDir := filepath.Join(work, "logs")
	if err := os.Mkdir(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// One configuration for the pipeline, another with the files for the
	// ingest process: only one process may follow a source.
	common := fmt.Sprintf(`data_dir: %s
nats: {listen: "127.0.0.1:0"}
clickhouse: {listen: "127.0.0.1:0"}
http: {listen: ""}
store: {flush_interval: 200ms}
`, dataDir)
	runCfg, cfgFile := filepath.Join(work, "run.yaml"), filepath.Join(work, "ingest.yaml")
	ingestCfg := common + fmt.Sprintf(`ingest:
  from_start: true
  sources:
    - files: [%s]
      site: e2e.example
`, filepath.Join(logDir, "access.log*"))
	if err := os.WriteFile(runCfg, []byte(common), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, []byte(ingestCfg), 0o600); err != nil {
		t.Fatal(err)
	}

	pipeline := startVakt(t, "run", "--config", runCfg)
	chAddr := pipeline.waitOutput(t, regexp.MustCompile(`ClickHouse endpoint:\s+http://(\S+)`))[1]
	count := func() (rows, paths int) { return chCount(chAddr, dataDir) }

	// The writer: a busy server, rotated every 250ms.
	path := filepath.Join(logDir, "access.log")
	var written atomic.Int64
	var stopWriting atomic.Bool
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			t.Error(err)
			return
		}
		var buf []byte
		seq, rot := 0, 0
		next := time.Now().Add(250 * time.Millisecond)
		for !stopWriting.Load() {
			buf = buf[:0]
			now := time.Now().Format("02/Jan/2006:15:04:05 -0700")
			for range 20 {
				buf = fmt.Appendf(buf, "10.1.%d.%d - - [%s] \"GET /t/%d HTTP/1.1\" 200 %d \"-\" \"e2e\"\n",
					seq>>8&255, seq&255, now, seq, seq)
				seq++
			}
			f.Write(buf)
			written.Store(int64(seq))
			if time.Now().After(next) {
				rot++
				rotated := filepath.Join(logDir, fmt.Sprintf("access.log.%d", rot))
				if rot%2 == 1 {
					os.Rename(path, rotated)
					f.Write([]byte(fmt.Sprintf("10.2.0.1 - - [%s] \"GET /t/%d HTTP/1.1\" 200 0 \"-\" \"e2e\"\n", now, seq)))
					seq++
					written.Store(int64(seq))
					f.Close()
					f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
				} else {
					data, _ := os.ReadFile(path)
					os.WriteFile(rotated, data, 0o600)
					f.Truncate(0)
				}
				next = time.Now().Add(250 * time.Millisecond)
			}
			time.Sleep(2 * time.Millisecond)
		}
		f.Close()
	}()

	var ing *process
	for round := range 3 {
		ing = startVakt(t, "ingest", "--config", cfgFile)
		ing.waitOutput(t, regexp.MustCompile(`following log files`))
		if round == 2 {
			break
		}
		// Kill it while it is busy.
		time.Sleep(time.Duration(700+300*round) * time.Millisecond) // the scenario: kill it while busy
		ing.kill()
		t.Logf("SIGKILL %d at %d lines written", round+1, written.Load())
	}
	time.Sleep(500 * time.Millisecond) // the scenario: the last ingest tails a while
	stopWriting.Store(true)
	<-writerDone
	n := int(written.Load())

	deadline := time.Now().Add(60 * time.Second)
	for rows, _ := count(); rows < n && time.Now().Before(deadline); rows, _ = count() {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // anything extra would arrive now
	rows, paths := count()
	ing.stop(t)
	pipeline.stop(t)

	// Nothing at rest holds a client IP: not the checkpoints, not the
	// message ids, not the stores.
	var ips []netip.Addr
	for seq := 0; seq < n && seq < 1<<16; seq++ {
		ips = append(ips, netip.AddrFrom4([4]byte{10, 1, byte(seq >> 8), byte(seq)}))
	}
	scanDataDir(t, dataDir, append(ips, netip.MustParseAddr("10.2.0.1")))

	conn := openStore(t, dataDir)
	var total, distinct, inRange uint64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf(
		"SELECT count(), uniqExact(path), countIf(toUInt64OrZero(substring(path, 4)) < %d AND site = 'e2e.example') FROM vakt.requests", n),
	).Scan(&total, &distinct, &inRange); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines written; %d rows stored, %d distinct paths (live: %d rows, %d paths)", n, total, distinct, rows, paths)
	if total != uint64(n) || distinct != uint64(n) || inRange != uint64(n) {
		t.Fatalf("%d lines written, %d rows stored, %d distinct paths, %d in range", n, total, distinct, inRange)
	}
}

// TestQuarantineCommand imports bad lines and shows them with vakt
// quarantine: masked, by reason, at most QuarantinePerHour per reason.
func TestQuarantineCommand(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	var b strings.Builder
	now := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	for k := range 15 {
		fmt.Fprintf(&b, "203.0.113.%d - - [%s] \"GET /x HTTP/1.1\" 2000 1 \"-\" \"-\"\n", k, now) // bad_status
		fmt.Fprintf(&b, "2001:db8::%x user%d@example.org no format at all\n", k, k)               // bad_format
		fmt.Fprintf(&b, "198.51.100.%d - - [%s] \"GET /ok HTTP/1.1\" 200 1 \"-\" \"-\"\n", k, now)
	}
	path := filepath.Join(work, "bad.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := vakt(t, "import", "--data-dir", dataDir, "--site", "q.example", path)
	if err != nil {
		t.Fatalf("vakt import: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "bad_status") {
		t.Fatalf("import summary:\n%s", stdout)
	}
	stdout, stderr, err = vakt(t, "quarantine", "--data-dir", dataDir, "--limit", "0")
	if err != nil {
		t.Fatalf("vakt quarantine: %v\n%s\n%s", err, stdout, stderr)
	}
	t.Logf("vakt quarantine:\n%s", stdout)
	if n := strings.Count(stdout, "bad_status"); n != 10 {
		t.Errorf("%d bad_status samples, want 10", n)
	}
	if !strings.Contains(stdout, "x.x.x.x - - [") || !strings.Contains(stdout, "x:x::x x@x no format") {
		t.Errorf("samples not masked as expected")
	}
	if regexp.MustCompile(`203\.0\.113\.|2001:db8|198\.51\.100\.|example\.org`).MatchString(stdout + stderr) {
		t.Fatal("an address survived in vakt quarantine's output")
	}
	stdout, _, err = vakt(t, "quarantine", "--data-dir", dataDir, "--reason", "bad_format", "--format", "json", "--limit", "3")
	if err != nil || strings.Count(stdout, "\n") != 3 || !strings.Contains(stdout, `"reason":"bad_format"`) {
		t.Fatalf("json: %v\n%s", err, stdout)
	}
}
