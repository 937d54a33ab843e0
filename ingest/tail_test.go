package ingest

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/ingest/logformat"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
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
	waitFor(t, "reader", func() bool { return strings.Contains(logs.String(), "following log files") })

	w.runFor(time.Second, 100*time.Millisecond, 100, func(k int) { w.rotateRename(fmt.Sprintf("access.log.%d", k)) })
	w.close()
	n := w.written()
	c := newSeqCounter(t, js)
	c.until("every line", 20*time.Second, func() bool { return len(c.counts) >= n })
	// Rotated files are closed once quiet for rotateGrace.
	waitFor(t, "rotated files closed", func() bool { return strings.Count(logs.String(), "finished a rotated log file") == w.rots })
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
			waitFor(t, "reader", func() bool { return strings.Contains(logs.String(), "following log files") })

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

// TestTailRestartExactlyOnce crashes a follower in the middle (its NATS
// connection dies: acknowledgements and checkpoint writes in flight are
// lost) while lines are written and rotated at full speed, then starts
// another: every line is stored exactly once.
func TestTailRestartExactlyOnce(t *testing.T) {
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	// connect returns a connection and a function that kills it as a
	// crash would: the socket is closed under the client, so whatever it
	// had not sent yet is lost, and it does not reconnect.
	connect := func() (func(), jetstream.JetStream) {
		d := &killDialer{}
		nc, js, err := bus.Connect(bus.ConnConfig{URL: e.ClientURL(), Name: "test",
			Options: []nats.Option{nats.NoReconnect(), nats.SetCustomDialer(d)}}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return func() { d.kill(); nc.Close() }, js
	}
	closeMain, js := connect()
	defer closeMain()
	if err := bus.Ensure(context.Background(), js, bus.DefaultStreamConfig()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w := newSeqWriter(t, path)
	w.write(3000) // before the first start: read because of FromStart
	// Batches of 64 lines from bursts of 100: most batches are cut by the
	// end of what a poll finds, at places a restart would not cut them
	// again without the recorded boundaries.
	cfg := Config{Files: []string{filepath.Join(dir, "access.log*")}, FromStart: true, BatchLines: 64, MaxInFlight: 32,
		DrainTimeout: 300 * time.Millisecond}

	var writing atomic.Bool
	writing.Store(true)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for k := 1; writing.Load(); k++ {
			w.runFor(100*time.Millisecond, time.Hour, 100, nil)
			if k%2 == 0 {
				w.rotateRename(fmt.Sprintf("access.log.%d", k))
			} else {
				w.rotateCopyTruncate(fmt.Sprintf("access.log.%d", k))
			}
		}
	}()

	crashes, inFlight, replayed := 0, int64(0), int64(0)
	// Some kills come early, in the middle of replaying the boundaries the
	// previous crash left (a second crash must not forget them), others
	// late, with many batches stored but not yet checkpointed.
	killAt := []int64{2500, 1200, 6000, 1500}
	for round := range 4 {
		// While no follower runs, lines pile up; the next one starts
		// behind and is killed while catching up, with batches in flight.
		time.Sleep(150 * time.Millisecond)
		closeConn, js1 := connect()
		ing, stop := startFollow(t, cfg, js1, nil)
		for ing.Stats().LinesRead < killAt[round] {
			time.Sleep(100 * time.Microsecond)
		}
		closeConn()
		st := ing.Stats()
		stop()
		if st.LinesRead == 0 {
			t.Fatalf("round %d read nothing", round)
		}
		crashes++
		inFlight += st.LinesRead - st.Published - st.Duplicates
		replayed += st.Duplicates
		t.Logf("round %d: at the crash %+v", round, st)
	}
	if inFlight == 0 {
		t.Fatal("no crash left lines read but unacknowledged: the test tests nothing")
	}
	writing.Store(false)
	<-writerDone
	w.close()
	n := w.written()

	closeLast, js2 := connect()
	defer closeLast()
	var logs logBuf
	ing, stop := startFollow(t, cfg, js2, logs.logger())
	c := newSeqCounter(t, js)
	c.until("every line", 30*time.Second, func() bool { return len(c.counts) >= n })
	time.Sleep(300 * time.Millisecond) // time for any extra batch to arrive
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c.fetch(300 * time.Millisecond)
	st := ing.Stats()
	replayed += st.Duplicates
	t.Logf("%d lines, %d rotations, %d crashes; last run %+v; records of replayed batches JetStream dropped as stored already: %d",
		n, w.rots, crashes, st, replayed)
	c.exactlyOnce(n)
	if replayed == 0 {
		t.Fatal("no restart replayed a batch stored before the crash: the test tests nothing")
	}
}

// TestTailGzipAndNewFiles: files appearing later are picked up, a .gz of
// a file already read adds nothing, an unknown .gz is imported once, even
// across a restart, and each source labels its own site.
func TestTailGzipAndNewFiles(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	seq := 0
	lines := func(n int) []byte {
		var out []byte
		for range n {
			out = appendSeqLine(out, seq, time.Now())
			seq++
		}
		return out
	}
	writeGzip := func(path string, data []byte) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		zw.Write(data)
		zw.Close()
		f.Close()
		old := time.Now().Add(-time.Minute) // not being written
		os.Chtimes(path, old, old)
	}
	// History from before the start, read whole with FromStart: a plain
	// file and an old rotation, compressed.
	if err := os.WriteFile(filepath.Join(a, "x.log"), lines(100), 0o600); err != nil {
		t.Fatal(err)
	}
	writeGzip(filepath.Join(a, "x.log.2.gz"), lines(100))

	cfg := Config{
		FromStart: true,
		Sources: []Source{
			{Files: []string{filepath.Join(a, "*.log*")}, Site: "a.example"},
			{Files: []string{filepath.Join(b, "*.log")}, Site: "b.example"},
		},
	}
	var logs logBuf
	_, stop := startFollow(t, cfg, js, logs.logger())
	c := newSeqCounter(t, js)
	c.until("history", 10*time.Second, func() bool { return c.total >= 200 })

	// A new file in each source.
	if err := os.WriteFile(filepath.Join(b, "y.log"), lines(50), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, "z.log"), lines(70), 0o600); err != nil {
		t.Fatal(err)
	}
	c.until("new files", 10*time.Second, func() bool { return c.total >= 320 })
	// z.log rotated and compressed: its .gz holds nothing new.
	zdata, _ := os.ReadFile(filepath.Join(a, "z.log"))
	if err := os.Rename(filepath.Join(a, "z.log"), filepath.Join(a, "z.log.1")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	writeGzip(filepath.Join(a, "z.log.1.gz"), zdata)
	os.Remove(filepath.Join(a, "z.log.1"))
	imported := regexp.MustCompile(`"imported compressed log file"[^\n]*z\.log\.1\.gz`)
	waitFor(t, "compressed rotation imported", func() bool { return imported.MatchString(logs.String()) })
	c.fetch(300 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c.fetch(100 * time.Millisecond)
	c.exactlyOnce(320)
	if c.sites["a.example"] != 270 || c.sites["b.example"] != 50 {
		t.Fatalf("sites %v", c.sites)
	}

	// A restart reads nothing again, the compressed files included.
	var logs2 logBuf
	ing2, stop2 := startFollow(t, cfg, js, logs2.logger())
	time.Sleep(300 * time.Millisecond)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if st := ing2.Stats(); st.LinesRead != 0 {
		t.Fatalf("restart read lines again: %+v\n%s", st, logs2.String())
	}
	c.fetch(100 * time.Millisecond)
	c.exactlyOnce(320)
}

// killDialer dials NATS and can close the socket under the client.
type killDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *killDialer) Dial(network, addr string) (net.Conn, error) {
	c, err := net.Dial(network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *killDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
}

// TestCheckpointCoversPublished checks rule 1 of checkpoint.go as it
// happens: whenever a batch is in the stream, the checkpoint of its
// generation either has passed its end or lists its end.
func TestCheckpointCoversPublished(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w := newSeqWriter(t, path)
	_, stop := startFollow(t, Config{Files: []string{path}, BatchLines: 50}, js, nil)
	kv, err := js.KeyValue(context.Background(), bus.CheckpointBucket)
	if err != nil {
		t.Fatal(err)
	}
	prefix := sourceKey([]string{path})
	cons, err := js.Consumer(context.Background(), bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.runFor(600*time.Millisecond, 200*time.Millisecond, 37, func(k int) { w.rotateRename(fmt.Sprintf("access.log.%d", k)) })
	}()
	checked := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for msg := range batch.Messages() {
			id := msg.Headers().Get(jetstream.MsgIDHeader)
			var g string
			var start, end int64
			if k := strings.IndexByte(id, ':'); k < 0 {
				t.Fatalf("message id %q", id)
			} else if _, err := fmt.Sscanf(id[k+1:], "%d-%d", &start, &end); err != nil {
				t.Fatalf("message id %q: %v", id, err)
			} else {
				g = id[:k]
			}
			e, err := kv.Get(context.Background(), prefix+"."+g)
			if err != nil {
				t.Fatalf("batch %s stored, no checkpoint: %v", id, err)
			}
			var cp checkpoint
			if err := json.Unmarshal(e.Value(), &cp); err != nil {
				t.Fatal(err)
			}
			if end > cp.Offset && !slices.Contains(cp.Ends, end) {
				t.Fatalf("batch %s stored; its checkpoint (offset %d, ends %v) does not cover it", id, cp.Offset, cp.Ends)
			}
			checked++
			msg.Ack()
		}
	}
	stop()
	w.close()
	if checked < 100 {
		t.Fatalf("only %d batches checked", checked)
	}
}

// appendBigLines appends n lines of about 1.2 KB (a long user agent).
func appendBigLines(b []byte, from, n int) []byte {
	ua := strings.Repeat("Mozilla/5.0 (X11; Linux x86_64) ", 36)
	now := time.Now()
	for seq := from; seq < from+n; seq++ {
		b = fmt.Appendf(b, "10.0.%d.%d - - [", seq>>8&255, seq&255)
		b = logformat.AppendTime(b, now)
		b = fmt.Appendf(b, "] \"GET /t/%d HTTP/1.1\" 200 1 \"-\" \"%s\"\n", seq, ua)
	}
	return b
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// waitStalled waits until reading has stopped advancing for a while.
func waitStalled(t *testing.T, ing *Ingest) int64 {
	t.Helper()
	last, since := int64(-1), time.Now()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n := ing.Stats().LinesRead
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 300*time.Millisecond {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("reading never stalled")
	return 0
}

// TestTailBackpressureBoundedMemory: with a small RAW stream and nobody
// consuming it, following a 48 MB file stalls after a few batches, with
// memory bounded by the in-flight limit; once a consumer drains the stream,
// every line arrives exactly once.
func TestTailBackpressureBoundedMemory(t *testing.T) {
	sc := bus.DefaultStreamConfig()
	sc.RawMaxBytes = 2 << 20
	js := startNATS(t, sc)
	path := filepath.Join(t.TempDir(), "access.log")
	const n = 40_000
	data := appendBigLines(nil, 0, n)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	size := len(data)
	data = nil
	base := heapAlloc()
	ing, stop := startFollow(t, Config{Files: []string{path}, FromStart: true, BatchLines: 100, MaxInFlight: 8}, js, nil)
	read := waitStalled(t, ing)
	grown := int64(heapAlloc()) - int64(base)
	t.Logf("file %d MB; stalled after %d lines; heap grew by %.1f MB; backpressure waits %.0f",
		size>>20, read, float64(grown)/(1<<20), counterValue(ing.met.fullWaits))
	if read > n/4 {
		t.Fatalf("read %d of %d lines with a full stream: reading does not wait", read, n)
	}
	if grown > 24<<20 {
		t.Fatalf("heap grew by %d MB while stalled", grown>>20)
	}
	if counterValue(ing.met.fullWaits) == 0 {
		t.Fatal("the stream never refused a batch")
	}
	c := newSeqCounter(t, js)
	c.until("every line", 30*time.Second, func() bool { return len(c.counts) >= n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c.fetch(100 * time.Millisecond)
	c.exactlyOnce(n)
}

// TestTailNATSRestart: while NATS is down, reading stops after a bounded
// number of lines instead of buffering the file; when it is back, every
// line written meanwhile arrives exactly once.
func TestTailNATSRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	store := t.TempDir()
	start := func() *bus.Embedded {
		e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: store, Port: port})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := start()
	defer func() { e.Shutdown() }()
	nc, js, err := bus.Connect(bus.ConnConfig{URL: e.ClientURL(), Name: "test"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ensure := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bus.Ensure(ctx, js, bus.DefaultStreamConfig()); err != nil {
			t.Fatal(err)
		}
	}
	ensure()
	path := filepath.Join(t.TempDir(), "access.log")
	w := newSeqWriter(t, path)
	var logs logBuf
	ing, stop := startFollow(t, Config{Files: []string{path}, BatchLines: 100, MaxInFlight: 8}, js, logs.logger())
	waitFor(t, "reader", func() bool { return strings.Contains(logs.String(), "following log files") })
	w.write(5000)
	c := newSeqCounter(t, js)
	c.until("lines before the outage", 10*time.Second, func() bool { return len(c.counts) >= 5000 })

	e.Shutdown()
	for range 40 {
		w.write(1000)
		time.Sleep(10 * time.Millisecond)
	}
	read := waitStalled(t, ing)
	t.Logf("NATS down: %d of %d lines read", read, w.written())
	if limit := int64(5000 + (8+groupBatches+2)*100); read > limit {
		t.Fatalf("read %d lines while NATS was down, more than the in-flight limit allows (%d)", read, limit)
	}
	e = start()
	ensure()
	c.cons = nil
	c2 := newSeqCounter(t, js)
	c2.counts, c2.ids, c2.total = c.counts, c.ids, c.total
	n := w.written()
	c2.until("every line", 30*time.Second, func() bool { return len(c2.counts) >= n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c2.fetch(100 * time.Millisecond)
	c2.exactlyOnce(n)
	w.close()
}

// TestTailSecondFollowerStops: two followers of the same files (same host
// and patterns) would publish the same lines twice; the checkpoints'
// revisions give them away and one of them stops.
func TestTailSecondFollowerStops(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log")
	w := newSeqWriter(t, path)
	defer w.close()
	var logs1, logs2 logBuf
	_, stop1 := startFollow(t, Config{Files: []string{path}}, js, logs1.logger())
	waitFor(t, "first follower", func() bool { return strings.Contains(logs1.String(), "following log files") })
	_, stop2 := startFollow(t, Config{Files: []string{path}}, js, logs2.logger())
	waitFor(t, "second follower", func() bool { return strings.Contains(logs2.String(), "following log files") })
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

// TestTailRotatedWhileDown: while no follower runs, the log is rotated
// twice (once by rename, once by copytruncate, then once more by rename)
// and written to; the pattern matches only the live file. The next
// follower finds the rest of the generation it was reading and the
// generations it never saw next to it, and every line arrives once.
func TestTailRotatedWhileDown(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w := newSeqWriter(t, path)
	cfg := Config{Files: []string{path}}
	var logs logBuf
	_, stop := startFollow(t, cfg, js, logs.logger())
	waitFor(t, "follower", func() bool { return strings.Contains(logs.String(), "following log files") })
	w.write(1000)
	c := newSeqCounter(t, js)
	c.until("lines before the stop", 10*time.Second, func() bool { return c.total >= 1000 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	w.write(500)                         // the rest of the generation being read
	w.rotateRename("access.log.1")       // ... renamed away, then 50 more lines
	w.write(700)                         // a generation never seen
	w.rotateCopyTruncate("access.log-2") // ... copied away
	w.write(300)                         // another one never seen
	w.rotateRename("access.log.3")       // ... renamed away, then 50 more lines
	w.write(200)                         // the live file

	var logs2 logBuf
	_, stop2 := startFollow(t, cfg, js, logs2.logger())
	n := w.written()
	c.until("every line", 10*time.Second, func() bool { return len(c.counts) >= n })
	time.Sleep(200 * time.Millisecond)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	c.fetch(100 * time.Millisecond)
	c.exactlyOnce(n)
	w.close()
	if got := strings.Count(logs2.String(), "reading a rotated log file never seen"); got != 2 {
		t.Errorf("%d unseen generations found, want 2\n%s", got, logs2.String())
	}
}

// TestImportGzip: vakt import reads a .gz file decompressed.
func TestImportGzip(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log.2.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	var b []byte
	for seq := range 500 {
		b = appendSeqLine(b[:0], seq, time.Now())
		zw.Write(b)
	}
	zw.Close()
	f.Close()
	ing := run(t, Config{Files: []string{path}}, js, nil)
	if st := ing.Stats(); st.Published != 500 || len(st.Rejected) != 0 {
		t.Fatalf("stats %+v", st)
	}
	c := newSeqCounter(t, js)
	c.until("every line", 5*time.Second, func() bool { return c.total >= 500 })
	c.exactlyOnce(500)
}

// TestCheckpointGC: checkpoints of generations no file holds any more are
// deleted once older than MaxAge; those of files still there are kept.
func TestCheckpointGC(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	keep, gone := filepath.Join(dir, "keep.log"), filepath.Join(dir, "gone.log")
	var b []byte
	for seq := range 10 {
		b = appendSeqLine(b, seq, time.Now())
	}
	os.WriteFile(keep, b, 0o600)
	os.WriteFile(gone, appendSeqLine(nil, 99, time.Now()), 0o600)
	pattern := filepath.Join(dir, "*.log")
	cfg := Config{Files: []string{pattern}, FromStart: true}
	ing, stop := startFollow(t, cfg, js, nil)
	waitFor(t, "both files", func() bool { return ing.Stats().Published == 11 })
	stop()
	os.Remove(gone)

	ing, err := New(Config{Files: []string{pattern}, Follow: true, MaxAge: time.Nanosecond}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cps, started, err := openCheckpoints(ctx, ing.js, sourceKey([]string{pattern}), ing.log)
	if err != nil || !started || len(cps.all()) != 2 {
		t.Fatalf("checkpoints %v %v %d", err, started, len(cps.all()))
	}
	fl := &follower{ing: ing, owner: map[fileKey]*tailSource{}, active: map[string]bool{}}
	s := &tailSource{fl: fl, ing: ing, src: Source{Files: []string{pattern}}, patterns: []string{pattern}, cps: cps,
		log: ing.log, files: map[fileKey]*tailFile{}, skip: map[fileKey]skipEntry{}}
	rctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); s.wg.Wait() }()
	s.scan(rctx, ctx, false) // keep.log is followed again
	waitFor(t, "keep.log followed", func() bool { return len(s.held()) == 1 })
	s.gc(ctx)
	if n := len(cps.all()); n != 1 {
		t.Fatalf("%d checkpoints after gc, want 1", n)
	}
}

func TestValidateSources(t *testing.T) {
	if err := (Config{Sources: []Source{{Files: []string{"/var/log/nginx/shop*.log"}, Site: "shop"}}}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg Config
		key string
	}{
		{Config{Sources: []Source{{Site: "shop"}}}, "sources[0].files"},
		{Config{Files: []string{"a"}, Sources: []Source{{Files: []string{"ok"}}, {Files: []string{"[x"}}}}, "sources[1].files"},
		{Config{Sources: []Source{{Files: []string{"a"}, Format: "klingon"}}}, "sources[0].format"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ingest: "+tc.key+":") {
			t.Errorf("%+v: %v, want an error about %s", tc.cfg, err, tc.key)
		}
	}
	srcs := (Config{Files: []string{"a"}, Site: "main", Format: "combined", Sources: []Source{{Files: []string{"b"}}, {Files: []string{"c"}, Site: "c"}}}).sources()
	if len(srcs) != 3 || srcs[0].Site != "main" || srcs[1].Site != "main" || srcs[1].Format != "combined" || srcs[2].Site != "c" {
		t.Fatalf("sources %+v", srcs)
	}
}

// TestFingerprintCarriesNoIP: the generation id, kept at rest in
// checkpoints and message ids, does not depend on the client address.
func TestFingerprintCarriesNoIP(t *testing.T) {
	line := func(ip string) []byte {
		return []byte(ip + ` - - [10/Oct/2025:13:55:36 +0000] "GET /a HTTP/1.1" 200 1 "-" "curl"` + "\n")
	}
	g1, n1, ok1 := fingerprintOf(line("192.0.2.1"))
	g2, _, ok2 := fingerprintOf(line("198.51.100.77"))
	g3, _, _ := fingerprintOf(line("2001:db8::5"))
	g4, _, _ := fingerprintOf(line("2a01:4f8:c0c:1234::1"))
	if !ok1 || !ok2 || g1 != g2 || g3 != g4 || n1 != len(line("192.0.2.1")) {
		t.Fatalf("ids %s %s %s %s", g1, g2, g3, g4)
	}
	other, _, _ := fingerprintOf([]byte(`192.0.2.1 - - [10/Oct/2025:13:55:37 +0000] "GET /a HTTP/1.1" 200 1 "-" "curl"` + "\n"))
	if other == g1 {
		t.Fatal("different lines, same id")
	}
	if _, _, ok := fingerprintOf([]byte("short line\n")); ok {
		t.Fatal("a short first line names the file")
	}
}

// TestReplayKeepsRecordedEnds: while a restarted follower replays the
// batch boundaries an earlier run recorded, the checkpoints it writes keep
// the boundaries it has not reached, so that a second crash in the middle
// of the replay does not forget them. The RAW stream is full, so the
// follower stops after its first batch and the checkpoint can be looked at.
func TestReplayKeepsRecordedEnds(t *testing.T) {
	sc := bus.DefaultStreamConfig()
	sc.RawMaxBytes = 8 << 10
	js := startNATS(t, sc)
	ctx := context.Background()
	if _, err := js.Publish(ctx, bus.RawSubject("filler"), make([]byte, 8000)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "access.log")
	var data []byte
	var lineEnds []int64
	for seq := range 20 {
		data = appendSeqLine(data, seq, time.Now())
		lineEnds = append(lineEnds, int64(len(data)))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	g, n, ok := fingerprintOf(data[:fpBytes])
	if !ok {
		t.Fatal("no fingerprint")
	}
	// What a crashed run left: nothing acknowledged, four batches recorded.
	ends := []int64{lineEnds[2], lineEnds[6], lineEnds[11], lineEnds[19]}
	cps, _, err := openCheckpoints(ctx, js, sourceKey([]string{path}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := cps.put(ctx, g, checkpoint{Offset: 0, Ends: ends, FPBytes: n, Path: path}); err != nil {
		t.Fatal(err)
	}
	if err := cps.markStarted(ctx); err != nil {
		t.Fatal(err)
	}
	key := sourceKey([]string{path}) + "." + g
	first, err := cps.kv.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}

	_, stop := startFollow(t, Config{Files: []string{path}, MaxInFlight: 1, DrainTimeout: 100 * time.Millisecond}, js, nil)
	var cp checkpoint
	waitFor(t, "the replay's first checkpoint", func() bool {
		e, err := cps.kv.Get(ctx, key)
		if err != nil || e.Revision() == first.Revision() {
			return false
		}
		return json.Unmarshal(e.Value(), &cp) == nil
	})
	for _, e := range ends {
		if e > cp.Offset && !slices.Contains(cp.Ends, e) {
			t.Fatalf("checkpoint during the replay (offset %d, ends %v) forgot the recorded end %d", cp.Offset, cp.Ends, e)
		}
	}
	if cp.Offset != 0 {
		t.Logf("the stream took batches: offset %d", cp.Offset)
	}
	stop()
}

// TestTailBadInput: garbage in a followed file (binary, invalid UTF-8, a
// 2 MiB line, a half line that is never finished for a while) is counted
// by reason and does not stop the lines after it.
func TestTailBadInput(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log")
	w := newSeqWriter(t, path)
	defer w.close()
	ing, stop := startFollow(t, Config{Files: []string{path}, Format: "combined", FromStart: true}, js, nil)
	raw := func(b []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
		f.Close()
	}
	w.write(10)
	waitFor(t, "first lines", func() bool { return ing.Stats().Published == 10 })
	garbage := make([]byte, 300<<10)
	for k := range garbage {
		garbage[k] = byte(k*31+k>>7) | 1
		if garbage[k] == '\n' {
			garbage[k] = 0
		}
	}
	raw(garbage[:200<<10]) // half a line of binary, finished later
	time.Sleep(50 * time.Millisecond)
	raw(append(garbage[200<<10:], '\n'))
	raw([]byte("192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /\xff HTTP/1.1\" 200 1 \"-\" \"-\"\n"))
	raw(append([]byte("192.0.2.2 "), append(make([]byte, 2<<20), '\n')...))
	w.write(10)
	waitFor(t, "lines after the garbage", func() bool { return ing.Stats().Published == 20 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st := ing.Stats()
	if st.LinesRead != 23 || st.Rejected["too_long"] != 1 || st.Rejected["invalid_utf8"]+st.Rejected["bad_format"]+st.Rejected["bad_ip"] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestReplayCutsAtRecordedEnds: after a restart, batches end exactly at
// the boundaries the crashed run recorded, so they get the ids they had,
// and a batch the crashed run stored is dropped by JetStream.
func TestReplayCutsAtRecordedEnds(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "access.log")
	var data []byte
	var lineEnds []int64
	for seq := range 30 {
		data = appendSeqLine(data, seq, time.Now())
		lineEnds = append(lineEnds, int64(len(data)))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	g, n, _ := fingerprintOf(data[:fpBytes])
	ends := []int64{lineEnds[2], lineEnds[6], lineEnds[11], lineEnds[19]}
	cps, _, err := openCheckpoints(ctx, js, sourceKey([]string{path}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := cps.put(ctx, g, checkpoint{Offset: 0, Ends: ends, FPBytes: n, Path: path}); err != nil {
		t.Fatal(err)
	}
	if err := cps.markStarted(ctx); err != nil {
		t.Fatal(err)
	}
	// The crashed run had stored its second batch (lines 3 to 6).
	stored := fmt.Sprintf("%s:%d-%d", g, ends[0], ends[1])
	if _, err := js.Publish(ctx, bus.RawSubject("default"), event.AppendRaw(nil, &event.Raw{Time: time.Now(), Target: "/t/3"}),
		jetstream.WithMsgID(stored)); err != nil {
		t.Fatal(err)
	}

	ing, stop := startFollow(t, Config{Files: []string{path}, BatchLines: 1000}, js, nil)
	waitFor(t, "every line", func() bool { return ing.Stats().Published+ing.Stats().Duplicates == 30 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := ing.Stats(); st.Duplicates != 4 {
		t.Fatalf("stats %+v: the stored batch (4 lines) was not recognised", st)
	}
	cons, err := js.Consumer(ctx, bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(100, jetstream.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for msg := range batch.Messages() {
		ids = append(ids, msg.Headers().Get(jetstream.MsgIDHeader))
	}
	want := []string{
		stored,
		fmt.Sprintf("%s:%d-%d", g, 0, ends[0]),
		fmt.Sprintf("%s:%d-%d", g, ends[1], ends[2]),
		fmt.Sprintf("%s:%d-%d", g, ends[2], ends[3]),
		fmt.Sprintf("%s:%d-%d", g, ends[3], lineEnds[29]), // after the replay: ordinary batching
	}
	slices.Sort(ids) // published asynchronously: in any order
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("message ids\n got %v\nwant %v", ids, want)
	}
}
