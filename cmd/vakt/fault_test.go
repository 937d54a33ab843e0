package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// logWriter appends access-log lines to a file, each with a unique path
// /f/<seq>, until stopped: a busy web server.
type logWriter struct {
	path    string
	written atomic.Int64
	stopped atomic.Bool
	done    chan struct{}
}

// startLogWriter writes about perTick lines every tick.
func startLogWriter(t *testing.T, path string, perTick int, tick time.Duration) *logWriter {
	t.Helper()
	w := &logWriter{path: path, done: make(chan struct{})}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		defer f.Close()
		var buf []byte
		seq := 0
		for !w.stopped.Load() {
			buf = buf[:0]
			now := time.Now().Format("02/Jan/2006:15:04:05 -0700")
			for range perTick {
				buf = fmt.Appendf(buf, "10.3.%d.%d - - [%s] \"GET /f/%d HTTP/1.1\" 200 %d \"-\" \"fault\"\n",
					seq>>8&255, seq&255, now, seq, seq)
				seq++
			}
			if _, err := f.Write(buf); err != nil {
				t.Error(err)
				return
			}
			w.written.Store(int64(seq))
			time.Sleep(tick)
		}
	}()
	t.Cleanup(w.stop)
	return w
}

// stop stops writing and returns the number of lines written.
func (w *logWriter) stop() {
	w.stopped.Store(true)
	<-w.done
}

// chCount asks a running vakt's embedded ClickHouse endpoint for the rows
// and distinct paths stored, as vakt's own account of dataDir; -1 when it
// cannot tell.
func chCount(addr, dataDir string) (rows, paths int) {
	password, err := secrets.Read(dataDir, app.ClickHousePasswordFile(app.DefaultClickHouseUser))
	if err != nil {
		return -1, -1
	}
	return chCountAs(addr, app.DefaultClickHouseUser, password)
}

// chQuery runs q on the ClickHouse endpoint at addr as user; "" on failure.
func chQuery(addr, user, password, q string) string {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/?query="+url.QueryEscape(q), nil)
	if err != nil {
		return ""
	}
	req.SetBasicAuth(user, password)
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// chPost runs a statement that changes state (the endpoint takes those
// by POST only).
func chPost(addr, user, password, q string) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(q))
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, password)
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return nil
}

func chCountAs(addr, user, password string) (rows, paths int) {
	f := strings.Fields(chQuery(addr, user, password, "SELECT count(), uniqExact(path) FROM vakt.requests"))
	if len(f) != 2 {
		return -1, -1
	}
	rows, _ = strconv.Atoi(f[0])
	paths, _ = strconv.Atoi(f[1])
	return rows, paths
}

// waitStored polls until addr's store holds want rows, then waits a little
// more for anything extra (a duplicate) to arrive.
func waitStored(t *testing.T, addr, dataDir string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for rows, _ := chCount(addr, dataDir); rows < want && time.Now().Before(deadline); rows, _ = chCount(addr, dataDir) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // room for a duplicate to arrive: the callers check none did
}

// checkExactlyOnce queries the stopped data dir's store (with `vakt sql`,
// so that the engine is a subprocess's and the test can run in parallel)
// and checks that the rows are exactly the n lines written: count(),
// uniqExact(path), and every path in range.
func checkExactlyOnce(t *testing.T, dataDir string, n int) {
	t.Helper()
	stdout, stderr, err := vakt(t, "sql", "--data-dir", dataDir, "--format", "tsv", fmt.Sprintf(
		"SELECT count(), uniqExact(path), countIf(startsWith(path, '/f/') AND toUInt64OrZero(substring(path, 4)) < %d) FROM vakt.requests", n))
	if err != nil {
		t.Fatalf("vakt sql: %v\n%s", err, stderr)
	}
	var total, distinct, inRange uint64
	if _, err := fmt.Sscan(stdout, &total, &distinct, &inRange); err != nil {
		t.Fatalf("vakt sql printed %q: %v", stdout, err)
	}
	t.Logf("%d lines written; %d rows stored, %d distinct paths, %d in range", n, total, distinct, inRange)
	if total != uint64(n) || distinct != uint64(n) || inRange != uint64(n) {
		t.Fatalf("%d lines written: %d rows stored, %d distinct paths, %d in range (want all %d)", n, total, distinct, inRange, n)
	}
}

// faultConfig writes a configuration for a test pipeline and returns its
// path. Lines of extra for the top-level keys nats, store, clickhouse and
// http replace the defaults; the rest is appended as is.
func faultConfig(t *testing.T, dir, name, dataDir, extra string) string {
	t.Helper()
	f := filepath.Join(dir, name)
	c := fmt.Sprintf("data_dir: %s\nalerts: {enabled: false}\n", dataDir)
	for key, def := range map[string]string{
		"nats": `{listen: "127.0.0.1:0"}`, "store": "{flush_interval: 200ms}",
		"clickhouse": `{listen: "127.0.0.1:0"}`, "http": `{listen: ""}`,
	} {
		if !strings.Contains(extra, key+": ") {
			c += key + ": " + def + "\n"
		}
	}
	c += extra
	if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

var chEndpointRe = regexp.MustCompile(`ClickHouse endpoint:\s+http://(\S+)`)

// TestRunSIGKILLWhileTailing kills `vakt run` (every stage and the embedded
// engines in one process) with SIGKILL twice while it follows a busy log,
// and starts it again on the same data dir each time. Every line is stored
// exactly once: reading resumes from the KV checkpoints, batches read
// again are marked as replays, and the store finds those it stored before
// the kill by their ingest batch key. (The embedded NATS dies too, and
// with it the RAW stream and the duplicate windows.) A short ack wait
// brings back sooner what the dead store held.
func TestRunSIGKILLWhileTailing(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logFile := filepath.Join(work, "access.log")
	cfg := faultConfig(t, work, "run.yaml", dataDir, fmt.Sprintf(`streams: {ack_wait: 5s}
ingest:
  from_start: true
  files: [%s]
  site: fault.example
`, logFile))
	w := startLogWriter(t, logFile, 20, 5*time.Millisecond)

	var p *process
	for round := range 3 {
		p = startVakt(t, "run", "--config", cfg)
		p.waitOutput(t, chEndpointRe)
		if round == 2 {
			break
		}
		time.Sleep(time.Duration(1500+500*round) * time.Millisecond) // the scenario: kill it while busy
		p.kill()
		t.Logf("SIGKILL %d at %d lines written", round+1, w.written.Load())
	}
	time.Sleep(time.Second) // the scenario: the last run tails a while
	w.stop()
	n := int(w.written.Load())
	addr := chEndpointRe.FindStringSubmatch(p.output())[1]
	waitStored(t, addr, dataDir, n, 60*time.Second)
	p.stop(t)
	checkExactlyOnce(t, dataDir, n)
}

// TestImportSIGKILLThenAgain kills `vakt import` in the middle of a large
// file, once its first batch is stored, and runs the import again: the file
// is stored exactly once. A third import finds every line stored already.
func TestImportSIGKILLThenAgain(t *testing.T) {
	t.Parallel()
	p, cfg, dataDir, logFile, n := importUntilFirstBatch(t, 400_000)
	p.kill()
	if strings.Contains(p.output(), `msg="ingest finished"`) {
		t.Log("killed after ingest had read the whole file (while the store was busy)")
	} else {
		t.Log("killed while ingest was still reading")
	}
	stdout, stderr, err := vakt(t, "import", "--config", cfg, "--site", "fault.example", logFile)
	if err != nil {
		t.Fatalf("import again: %v\n%s\n%s", err, stdout, stderr)
	}
	t.Logf("second import:\n%s", stdout)
	stdout, stderr, err = vakt(t, "import", "--config", cfg, "--site", "fault.example", logFile)
	if err != nil {
		t.Fatalf("third import: %v\n%s\n%s", err, stdout, stderr)
	}
	if !regexp.MustCompile(`(?m)^\s*stored:\s+0$`).MatchString(stdout) {
		t.Errorf("third import of the same file stored lines again:\n%s", stdout)
	}
	checkExactlyOnce(t, dataDir, n)
}

// natsServer is an external nats-server with JetStream on file storage
// that a test can restart on the same port and store dir.
type natsServer struct {
	opts *server.Options
	srv  *server.Server
}

func startNATSServer(t *testing.T, opts *server.Options) *natsServer {
	t.Helper()
	ns := &natsServer{opts: opts}
	ns.start(t)
	return ns
}

func (ns *natsServer) start(t *testing.T) {
	t.Helper()
	if ns.opts.Port <= 0 {
		// Outside the ephemeral range: while the server is down, no other
		// process's bind(0) takes the port it restarts on.
		ns.opts.Port = testenv.FreePort(t)
	}
	ns.srv = testenv.RunNATSWith(t, ns.opts)
}

func (ns *natsServer) restart(t *testing.T, down time.Duration) {
	t.Helper()
	ns.srv.Shutdown()
	ns.srv.WaitForShutdown()
	time.Sleep(down) // the outage is the scenario
	ns.start(t)
}

func (ns *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", ns.opts.Port) }

// TestNATSRestartMidStream runs the stages as separate processes (`vakt
// ingest`, two `vakt pseudonymize`, `vakt store` inside `vakt run`)
// against an external nats-server and restarts that server twice while
// lines flow. Every line is stored exactly once.
func TestNATSRestartMidStream(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	ns := startNATSServer(t, &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: filepath.Join(work, "js"), NoSigs: true, NoLog: true,
	})
	dataDir := filepath.Join(work, "data")
	logFile := filepath.Join(work, "access.log")
	natsYAML := fmt.Sprintf("nats: {url: %q}\n", ns.url())
	runCfg := faultConfig(t, work, "run.yaml", dataDir, natsYAML)
	ingestCfg := faultConfig(t, work, "ingest.yaml", filepath.Join(work, "ingest-data"), natsYAML+fmt.Sprintf(`ingest:
  from_start: true
  files: [%s]
  site: fault.example
`, logFile))
	w := startLogWriter(t, logFile, 20, 5*time.Millisecond)

	run := startVakt(t, "run", "--config", runCfg)
	addr := run.waitOutput(t, chEndpointRe)[1]
	ing := startVakt(t, "ingest", "--config", ingestCfg)
	ing.waitOutput(t, regexp.MustCompile(`following log files`))
	for i := range 2 {
		time.Sleep(1500 * time.Millisecond) // the scenario: lines flow between restarts
		if i == 0 {
			t.Logf("stored before the first restart: %v", fmt.Sprint(chCount(addr, dataDir)))
		}
		before := w.written.Load()
		ns.restart(t, 300*time.Millisecond)
		t.Logf("NATS restart %d at %d lines written", i+1, before)
	}
	time.Sleep(1500 * time.Millisecond) // the scenario: lines flow after the last fault
	w.stop()
	n := int(w.written.Load())
	waitStored(t, addr, dataDir, n, 60*time.Second)
	if rows, _ := chCount(addr, dataDir); rows != n {
		t.Logf("vakt run:\n%s", lastLines(run.output(), 30))
		t.Logf("vakt ingest:\n%s", lastLines(ing.output(), 30))
	}
	ing.stop(t)
	run.stop(t)
	checkExactlyOnce(t, dataDir, n)
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestReplicaSIGKILL runs two more pseudonymiser replicas and one more
// store replica next to `vakt run` and kills one of each with SIGKILL in the
// middle of the stream;
// the others keep running and take over what the dead ones held once the
// ack wait (2s here) has passed. Every line is stored exactly once.
func TestReplicaSIGKILL(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logFile := filepath.Join(work, "access.log")
	streams := "streams: {ack_wait: 2s}\n"
	runCfg := faultConfig(t, work, "run.yaml", dataDir, streams)
	ingestCfg := faultConfig(t, work, "ingest.yaml", dataDir, streams+fmt.Sprintf(`ingest:
  from_start: true
  files: [%s]
  site: fault.example
`, logFile))
	w := startLogWriter(t, logFile, 20, 5*time.Millisecond)

	run := startVakt(t, "run", "--config", runCfg)
	addr := run.waitOutput(t, chEndpointRe)[1]
	running := regexp.MustCompile(`stage running`)
	ps1 := startVakt(t, "pseudonymize", "--config", runCfg, "--log-level", "debug")
	ps2 := startVakt(t, "pseudonymize", "--config", runCfg, "--log-level", "debug")
	st := startVakt(t, "store", "--config", runCfg, "--log-level", "debug")
	for _, p := range []*process{ps1, ps2, st} {
		p.waitOutput(t, running)
	}
	ing := startVakt(t, "ingest", "--config", ingestCfg)
	ing.waitOutput(t, regexp.MustCompile(`following log files`))
	time.Sleep(1500 * time.Millisecond) // the scenario: kill each while busy
	ps1.kill()
	t.Logf("pseudonymiser SIGKILL at %d lines written", w.written.Load())
	time.Sleep(1000 * time.Millisecond) // the scenario: the survivor works alone a while
	// A store replica killed between its insert and its acks leaves
	// messages the survivor batches otherwise (another deduplication
	// token): it finds them stored by their ingest batch key.
	st.kill()
	t.Logf("store replica SIGKILL at %d lines written", w.written.Load())
	time.Sleep(1500 * time.Millisecond) // the scenario: lines flow after the last fault
	w.stop()
	n := int(w.written.Load())
	waitStored(t, addr, dataDir, n, 60*time.Second)
	ing.stop(t)
	ps2.stop(t)
	st.stop(t) // returns at once if it was killed
	run.stop(t)
	checkExactlyOnce(t, dataDir, n)
}

// TestSIGTERMDrainsWithinTimeout stops a busy `vakt run` with SIGTERM: it
// exits 0 within shutdown_timeout (plus the engines' own shutdown), and
// every line it acknowledged (read, published and checkpointed) is stored,
// exactly once; a restart then stores the rest.
func TestSIGTERMDrainsWithinTimeout(t *testing.T) {
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logFile := filepath.Join(work, "access.log")
	cfg := faultConfig(t, work, "run.yaml", dataDir, fmt.Sprintf(`shutdown_timeout: 3s
store: {flush_interval: 2s}
ingest:
  from_start: true
  files: [%s]
  site: fault.example
`, logFile))
	w := startLogWriter(t, logFile, 20, 5*time.Millisecond)
	p := startVakt(t, "run", "--config", cfg, "--log-level", "debug")
	p.waitOutput(t, chEndpointRe)
	time.Sleep(2500 * time.Millisecond) // the scenario: SIGTERM a busy vakt
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("vakt run did not stop within 20s of SIGTERM:\n%s", p.output())
	}
	took := time.Since(start)
	w.stop()
	n := int(w.written.Load())
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("vakt run exited %d after SIGTERM:\n%s", code, p.output())
	}
	t.Logf("SIGTERM to exit: %s", took)
	if took > 3*time.Second+5*time.Second {
		t.Fatalf("vakt run took %s to stop with shutdown_timeout 3s", took)
	}
	// What the stopped vakt stored equals what its ingest acknowledged
	// (published: stored by JetStream, then checkpointed).
	m := regexp.MustCompile(`ingest finished.* published=(\d+) duplicates=0`).FindStringSubmatch(p.output())
	if m == nil {
		t.Fatalf("no ingest summary in the output:\n%s", p.output())
	}
	published, _ := strconv.Atoi(m[1])
	stdout, stderr, err := vakt(t, "sql", "--config", cfg, "--format", "tsv", "SELECT count(), uniqExact(path) FROM vakt.requests")
	if err != nil {
		t.Fatalf("vakt sql: %v\n%s", err, stderr)
	}
	f := strings.Fields(stdout)
	if len(f) != 2 {
		t.Fatalf("vakt sql: %q", stdout)
	}
	stored, _ := strconv.Atoi(f[0])
	distinct, _ := strconv.Atoi(f[1])
	t.Logf("%d lines written at exit; ingest acknowledged %d; %d rows stored before exit", n, published, stored)
	if stored == 0 || stored != published || distinct != stored {
		t.Fatalf("ingest acknowledged %d lines, %d rows (%d distinct paths) stored before exit", published, stored, distinct)
	}

	// The next start stores the rest, exactly once.
	p = startVakt(t, "run", "--config", cfg)
	addr := p.waitOutput(t, chEndpointRe)[1]
	waitStored(t, addr, dataDir, n, 60*time.Second)
	p.stop(t)
	checkExactlyOnce(t, dataDir, n)
}
