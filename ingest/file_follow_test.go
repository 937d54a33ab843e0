package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/loggen"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/logformat"
)

// seqWriter writes combined-format lines whose paths are /t/<seq>, unique
// per line, to a log file that it rotates as a server and logrotate would.
type seqWriter struct {
	t    *testing.T
	path string

	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	seq  int
	buf  []byte
	rots int
}

func newSeqWriter(t *testing.T, path string) *seqWriter {
	w := &seqWriter{t: t, path: path}
	w.open()
	return w
}

func (w *seqWriter) open() {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		w.t.Error(err)
		return
	}
	w.f, w.w = f, bufio.NewWriterSize(f, 16<<10)
}

// appendLine appends line number seq.
func appendSeqLine(b []byte, seq int, now time.Time) []byte {
	b = fmt.Appendf(b, "10.%d.%d.%d - - [", seq>>16&255, seq>>8&255, seq&255)
	b = logformat.AppendTime(b, now)
	b = fmt.Appendf(b, "] \"GET /t/%d HTTP/1.1\" 200 %d \"-\" \"test\"\n", seq, seq%5000)
	return b
}

// write appends n lines; the buffer is flushed at the end (a server writes
// whole buffers).
func (w *seqWriter) write(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for range n {
		w.buf = appendSeqLine(w.buf[:0], w.seq, now)
		w.seq++
		w.w.Write(w.buf)
	}
	if err := w.w.Flush(); err != nil {
		w.t.Error(err)
	}
}

func (w *seqWriter) written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

// rotateRename renames the log away (to name), writes a few more lines to
// the renamed file as a server does until it reopens its log, and then
// opens a new file at the path.
func (w *seqWriter) rotateRename(name string) {
	w.mu.Lock()
	if err := os.Rename(w.path, filepath.Join(filepath.Dir(w.path), name)); err != nil {
		w.t.Error(err)
	}
	w.rots++
	w.mu.Unlock()
	w.write(50) // still to the old file
	w.mu.Lock()
	w.f.Close()
	w.open()
	w.mu.Unlock()
}

// rotateCopyTruncate copies the log to name and truncates it, as
// logrotate's copytruncate does, with no write in between.
func (w *seqWriter) rotateCopyTruncate(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	src, err := os.Open(w.path)
	if err != nil {
		w.t.Error(err)
		return
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(filepath.Dir(w.path), name))
	if err != nil {
		w.t.Error(err)
		return
	}
	if _, err := io.Copy(dst, src); err != nil {
		w.t.Error(err)
	}
	dst.Close()
	if err := w.f.Truncate(0); err != nil {
		w.t.Error(err)
	}
	w.rots++
}

func (w *seqWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.f.Close()
}

// runFor writes bursts of burst lines, one every millisecond (a busy
// server: about burst*1000 lines a second) until d has passed, calling
// rotate every every.
func (w *seqWriter) runFor(d, every time.Duration, burst int, rotate func(k int)) {
	end := time.Now().Add(d)
	next := time.Now().Add(every)
	for k := 1; time.Now().Before(end); {
		w.write(burst)
		if time.Now().After(next) {
			rotate(k)
			k++
			next = time.Now().Add(every)
		}
		time.Sleep(time.Millisecond)
	}
}

// seqCounter reads records off the RAW stream with the pseudonymiser's
// durable consumer and counts how often each /t/<seq> arrives.
type seqCounter struct {
	t      *testing.T
	cons   jetstream.Consumer
	counts map[int]int
	idOf   map[int][]string // message ids a line came in, for failure reports
	ids    map[string]bool
	sites  map[string]int
	total  int
}

func newSeqCounter(t *testing.T, js jetstream.JetStream) *seqCounter {
	cons, err := js.Consumer(context.Background(), bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	return &seqCounter{t: t, cons: cons, counts: map[int]int{}, idOf: map[int][]string{}, ids: map[string]bool{}, sites: map[string]int{}}
}

func (c *seqCounter) fetch(wait time.Duration) int {
	c.t.Helper()
	batch, err := c.cons.Fetch(512, jetstream.FetchMaxWait(wait))
	if err != nil {
		c.t.Fatal(err)
	}
	got := 0
	for msg := range batch.Messages() {
		id := msg.Headers().Get(jetstream.MsgIDHeader)
		if id == "" || c.ids[id] {
			c.t.Fatalf("message id %q missing or stored twice", id)
		}
		c.ids[id] = true
		err := event.RangeRaw(msg.Data(), func(r *event.Raw) error {
			n, err := strconv.Atoi(strings.TrimPrefix(r.Target, "/t/"))
			if err != nil {
				return fmt.Errorf("unexpected target %q", r.Target)
			}
			c.counts[n]++
			c.idOf[n] = append(c.idOf[n], id)
			c.sites[r.Site]++
			c.total++
			got++
			return nil
		})
		if err != nil {
			c.t.Fatal(err)
		}
		msg.Ack()
	}
	return got
}

// until fetches until cond holds, failing after timeout.
func (c *seqCounter) until(what string, timeout time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s: %d distinct lines, %d records", what, len(c.counts), c.total)
		}
		c.fetch(100 * time.Millisecond)
	}
}

// exactlyOnce checks that lines 0..n-1 each arrived exactly once.
func (c *seqCounter) exactlyOnce(n int) {
	c.t.Helper()
	missing, dup := 0, 0
	var example []string
	for k := range n {
		switch c.counts[k] {
		case 0:
			missing++
		case 1:
		default:
			dup++
			if len(example) < 5 {
				example = append(example, fmt.Sprintf("line %d in %v", k, c.idOf[k]))
			}
		}
	}
	if dup > 0 {
		c.t.Logf("stored more than once: %s", strings.Join(example, "; "))
	}
	if missing > 0 || dup > 0 || c.total != n {
		c.t.Fatalf("%d lines written: %d missing, %d stored more than once, %d records in all", n, missing, dup, c.total)
	}
}

func startFollow(t *testing.T, cfg Config, js jetstream.JetStream, log *slog.Logger) (*Ingest, func() error) {
	t.Helper()
	cfg.Follow = true
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 20 * time.Millisecond
	}
	ing, err := New(cfg, js, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	ing.pub.minBackoff, ing.pub.maxBackoff = 10*time.Millisecond, 100*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return ing, stop
}

// TestTailRotateRenameFullSpeed writes as fast as it can while rotating by
// rename every 150ms (the pattern matches only the live file); every line
// arrives exactly once.
func TestTailRotateRenameFullSpeed(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w := newSeqWriter(t, path)
	var logs logBuf
	ing, stop := startFollow(t, Config{Files: []string{path}, Site: "rename.example"}, js, logs.logger())
	testenv.WaitFor(t, 10*time.Second, "reader", func() bool { return strings.Contains(logs.String(), "following log files") })

	w.runFor(time.Second, 100*time.Millisecond, 100, func(k int) { w.rotateRename(fmt.Sprintf("access.log.%d", k)) })
	w.close()
	n := w.written()
	c := newSeqCounter(t, js)
	c.until("every line", 20*time.Second, func() bool { return len(c.counts) >= n })
	// Rotated files are closed once quiet for rotateGrace.
	testenv.WaitFor(t, 10*time.Second, "rotated files closed", func() bool { return strings.Count(logs.String(), "finished a rotated log file") == w.rots })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c.fetch(200 * time.Millisecond)
	c.exactlyOnce(n)
	t.Logf("%d lines, %d rotations, %.0f lines/s written; stats %+v", n, w.rots, float64(n), ing.Stats())
	if w.rots < 5 || n < 20_000 {
		t.Fatalf("only %d lines and %d rotations", n, w.rots)
	}
	if c.sites["rename.example"] != n {
		t.Fatalf("sites %v", c.sites)
	}
}

// TestTailCopytruncateFullSpeed does the same with copytruncate, once with
// a pattern that matches the copies and once with one that does not (the
// rest of a truncated file is then found next to it).
func TestTailCopytruncateFullSpeed(t *testing.T) {
	for _, tc := range []struct {
		name, pattern string
	}{
		{"copies matched", "access.log*"},
		{"copies not matched", "access.log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := startNATS(t, bus.DefaultStreamConfig())
			dir := t.TempDir()
			path := filepath.Join(dir, "access.log")
			w := newSeqWriter(t, path)
			var logs logBuf
			_, stop := startFollow(t, Config{Files: []string{filepath.Join(dir, tc.pattern)}}, js, logs.logger())
			testenv.WaitFor(t, 10*time.Second, "reader", func() bool { return strings.Contains(logs.String(), "following log files") })

			w.runFor(time.Second, 100*time.Millisecond, 100, func(k int) { w.rotateCopyTruncate(fmt.Sprintf("access.log.%d", k)) })
			w.close()
			n := w.written()
			c := newSeqCounter(t, js)
			c.until("every line", 20*time.Second, func() bool { return len(c.counts) >= n })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			c.fetch(200 * time.Millisecond)
			c.exactlyOnce(n)
			truncs := strings.Count(logs.String(), "log file truncated")
			t.Logf("%d lines, %d rotations, %d truncations seen, %d rests read from copies", n, w.rots, truncs,
				strings.Count(logs.String(), "reading the rest of a rotated log file"))
			if w.rots < 5 || truncs < w.rots/2 {
				t.Fatalf("%d rotations, %d noticed", w.rots, truncs)
			}
		})
	}
}

// TestTailSecondFollowerStops: two followers of the same files (same host
// and patterns) would publish the same lines twice; the checkpoints'
// revisions give them away and one of them stops.
func TestTailSecondFollowerStops(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log")
	w := newSeqWriter(t, path)
	defer w.close()
	var logs1, logs2 logBuf
	_, stop1 := startFollow(t, Config{Files: []string{path}}, js, logs1.logger())
	testenv.WaitFor(t, 10*time.Second, "first follower", func() bool { return strings.Contains(logs1.String(), "following log files") })
	_, stop2 := startFollow(t, Config{Files: []string{path}}, js, logs2.logger())
	testenv.WaitFor(t, 10*time.Second, "second follower", func() bool { return strings.Contains(logs2.String(), "following log files") })
	const msg = "another process follows the same files"
	for k := 0; !strings.Contains(logs1.String()+logs2.String(), msg); k++ {
		if k > 500 {
			t.Fatal("two followers of the same files did not notice each other")
		}
		w.write(100)
		time.Sleep(10 * time.Millisecond)
	}
	stop1()
	stop2()
}

func TestFollow(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	gen := loggen.New(loggen.Config{Seed: 5, Clients: 200, Now: time.Now})
	ips := map[netip.Addr]int{}
	appendLines := func(p string, n int, count bool) {
		t.Helper()
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for range n {
			l := gen.Next()
			if count {
				ips[l.IP]++
			}
			f.Write(append(l.Text, '\n'))
		}
	}
	appendLines(path, 100, false) // before the start: skipped
	// Half a line at the end, completed later: skipped too.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("192.0.2.1 - - [")
	f.Close()

	var logs logBuf
	ing, err := New(Config{Files: []string{path}, Follow: true, FlushInterval: 20 * time.Millisecond}, js, logs.logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	testenv.WaitFor(t, 10*time.Second, "tailer started", func() bool { return strings.Contains(logs.String(), "reading log file") })
	wait := func(what string, published int64) {
		t.Helper()
		testenv.WaitFor(t, 10*time.Second, what, func() bool { return ing.Stats().Published == published })
	}

	f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("rest of the half line\n")
	f.Close()
	start := time.Now()
	appendLines(path, 50, true)
	wait("appended lines", 50)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("appended lines took %v to publish", d)
	}

	// A partial line waits for its newline.
	l := gen.Next()
	ips[l.IP]++
	f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(l.Text[:20])
	time.Sleep(100 * time.Millisecond) // room to read the partial line, which it must not
	if st := ing.Stats(); st.LinesRead != 50 {
		t.Fatalf("partial line read: %+v", st)
	}
	f.Write(append(l.Text[20:], '\n'))
	f.Close()
	wait("completed line", 51)

	// Rotation by rename: the server writes a little more to the old
	// file, then reopens.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(path+".1", 10, true)
	appendLines(path, 20, true)
	wait("rotation", 81)

	// Truncation in place (copytruncate).
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the scenario: the file stays empty a moment, as after copytruncate
	appendLines(path, 5, true)
	wait("truncation", 86)
	testenv.WaitFor(t, 10*time.Second, "rotated file finished", func() bool { return strings.Contains(logs.String(), "finished a rotated log file") })

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := ing.Stats()
	if st.LinesRead != 86 || len(st.Rejected) != 0 || st.Duplicates != 0 {
		t.Fatalf("stats %+v", st)
	}
	sameCounts(t, countIPs(readRaw(t, js, 86)), ips)
	for _, msg := range []string{"finished a rotated log file", "log file truncated"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("no %q in log", msg)
		}
	}
	logs.assertNoIPs(t, ips)
}

func TestFollowMissingFile(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "later.log")
	ing, err := New(Config{Files: []string{path}, Follow: true, FlushInterval: 20 * time.Millisecond}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // the scenario: the file appears while ingest runs
	if _, err := loggen.New(loggen.Config{Seed: 6, Now: time.Now}).WriteFile(path, 30); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "file that appeared", func() bool { return ing.Stats().Published == 30 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTailNoReaderAfterShutdown: a scan that runs after shutdown began (the
// ticker and ctx both ready) starts no reader for a file whose reader has
// stopped; one would read the file again from its checkpoint, whose batches
// no pseudonymiser has taken yet.
func TestTailNoReaderAfterShutdown(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log")
	var b []byte
	for seq := range 10 {
		b = appendSeqLine(b, seq, time.Now())
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ing, stop := startFollow(t, Config{Files: []string{path}, FromStart: true}, js, nil)
	testenv.WaitFor(t, 10*time.Second, "the lines", func() bool { return ing.Stats().Published == 10 })
	stop()

	ing, err := New(Config{Files: []string{path}, Follow: true}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cps, _, err := openCheckpoints(ctx, ing.js, sourceKey([]string{path}), ing.log)
	if err != nil {
		t.Fatal(err)
	}
	fl := &follower{ing: ing, owner: map[fileKey]*tailSource{}, active: map[string]bool{}}
	s := &tailSource{fl: fl, ing: ing, src: Source{Files: []string{path}}, patterns: []string{path}, cps: cps,
		log: ing.log, files: map[fileKey]*tailFile{}, skip: map[fileKey]skipEntry{}}
	rctx, cancel := context.WithCancel(ctx)
	cancel()
	s.scan(rctx, ctx, false)
	s.mu.Lock()
	n := len(s.files)
	s.mu.Unlock()
	s.wg.Wait()
	if n != 0 || ing.Stats().LinesRead != 0 {
		t.Fatalf("%d readers started after shutdown, %d lines read", n, ing.Stats().LinesRead)
	}
}
