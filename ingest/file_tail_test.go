package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/logformat"
)

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
	port := testenv.FreePort(t) // NATS restarts on it: out of bind(0)'s reach
	store := t.TempDir()
	start := func() *server.Server { return testenv.RunNATS(t, testenv.NATSStoreDir(store), testenv.NATSPort(port)) }
	e := start()
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
	testenv.WaitFor(t, 10*time.Second, "reader", func() bool { return strings.Contains(logs.String(), "following log files") })
	w.write(5000)
	c := newSeqCounter(t, js)
	c.until("lines before the outage", 10*time.Second, func() bool { return len(c.counts) >= 5000 })

	e.Shutdown()
	e.WaitForShutdown()
	for range 40 {
		w.write(1000)
		time.Sleep(10 * time.Millisecond) // the scenario: the log grows while NATS is down
	}
	read := waitStalled(t, ing)
	t.Logf("NATS down: %d of %d lines read", read, w.written())
	if limit := int64(5000 + (8+groupBatches+2)*100); read > limit {
		t.Fatalf("read %d lines while NATS was down, more than the in-flight limit allows (%d)", read, limit)
	}
	start() // on the same port and store; RunNATS shuts it down at the end
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

// TestTailBadInput: garbage in a followed file (binary, invalid UTF-8, a
// 2 MiB line, a half line that is never finished for a while) is counted
// by reason and does not stop the lines after it.
func TestTailBadInput(t *testing.T) {
	t.Parallel()
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
	testenv.WaitFor(t, 10*time.Second, "first lines", func() bool { return ing.Stats().Published == 10 })
	garbage := make([]byte, 300<<10)
	for k := range garbage {
		garbage[k] = byte(k*31+k>>7) | 1
		if garbage[k] == '\n' {
			garbage[k] = 0
		}
	}
	raw(garbage[:200<<10])            // half a line of binary, finished later
	time.Sleep(50 * time.Millisecond) // the scenario: the rest of the line comes later
	raw(append(garbage[200<<10:], '\n'))
	raw([]byte("192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /\xff HTTP/1.1\" 200 1 \"-\" \"-\"\n"))
	raw(append([]byte("192.0.2.2 "), append(make([]byte, 2<<20), '\n')...))
	w.write(10)
	testenv.WaitFor(t, 10*time.Second, "lines after the garbage", func() bool { return ing.Stats().Published == 20 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st := ing.Stats()
	if st.LinesRead != 23 || st.Rejected["too_long"] != 1 || st.Rejected["invalid_utf8"]+st.Rejected["bad_format"]+st.Rejected["bad_ip"] != 2 {
		t.Fatalf("stats %+v", st)
	}
}
