package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
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
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vakt-dev/vakt/ingest/logformat"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/loggen"
)

const secrepo = "/work/shared/testdata/secrepo-access-2021-10-22.log"

// startNATS starts an embedded nats-server with the pipeline's streams.
func startNATS(t testing.TB, sc bus.StreamConfig) jetstream.JetStream {
	t.Helper()
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, js, err := bus.Connect(bus.ConnConfig{URL: e.ClientURL(), Name: "test"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Ensure(ctx, js, sc); err != nil {
		t.Fatal(err)
	}
	return js
}

// logBuf captures log output so tests can check it holds no IP or line.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// assertNoIPs fails if the log mentions any of ips.
func (l *logBuf) assertNoIPs(t *testing.T, ips map[netip.Addr]int) {
	t.Helper()
	s := l.String()
	for ip := range ips {
		if strings.Contains(s, ip.String()) {
			t.Fatalf("log contains client IP %v:\n%s", ip, s)
		}
	}
}

// readRaw takes records off the RAW stream through the pseudonymiser's
// durable consumer until want have arrived, then checks that no more come.
func readRaw(t *testing.T, js jetstream.JetStream, want int) []event.Raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	var recs []event.Raw
	ids := map[string]bool{}
	for len(recs) < want && ctx.Err() == nil {
		recs = fetch(t, cons, recs, ids, 500*time.Millisecond)
	}
	if recs = fetch(t, cons, recs, ids, 100*time.Millisecond); len(recs) != want {
		t.Fatalf("read %d records from the stream, want %d", len(recs), want)
	}
	return recs
}

func fetch(t *testing.T, cons jetstream.Consumer, recs []event.Raw, ids map[string]bool, wait time.Duration) []event.Raw {
	t.Helper()
	batch, err := cons.Fetch(256, jetstream.FetchMaxWait(wait))
	if err != nil {
		t.Fatal(err)
	}
	for msg := range batch.Messages() {
		n, err := event.Count(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		if h := msg.Headers().Get(bus.HeaderRecords); h != strconv.Itoa(n) {
			t.Fatalf("header %s=%q, batch has %d records", bus.HeaderRecords, h, n)
		}
		id := msg.Headers().Get(jetstream.MsgIDHeader)
		if id == "" || ids[id] {
			t.Fatalf("message id %q missing or repeated", id)
		}
		ids[id] = true
		if err := event.RangeRaw(msg.Data(), func(r *event.Raw) error { recs = append(recs, *r); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Error(); err != nil {
		t.Fatal(err)
	}
	return recs
}

func countIPs(recs []event.Raw) map[netip.Addr]int {
	m := map[netip.Addr]int{}
	for _, r := range recs {
		m[r.ClientIP]++
	}
	return m
}

func sameCounts(t *testing.T, got, want map[netip.Addr]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d distinct IPs, want %d", len(got), len(want))
	}
	for ip, n := range want {
		if got[ip] != n {
			t.Fatalf("an IP has %d records, want %d", got[ip], n)
		}
	}
}

func run(t *testing.T, cfg Config, js jetstream.JetStream, log *slog.Logger) *Ingest {
	t.Helper()
	ing, err := New(cfg, js, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ing.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return ing
}

func TestImportAndDeduplicate(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log")
	const n = 20_000
	ips, err := loggen.New(loggen.Config{Seed: 1, Clients: 3000, Start: time.Now().Add(-2 * time.Hour), Rate: 5}).WriteFile(path, n)
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	cfg := Config{Files: []string{filepath.Join(filepath.Dir(path), "*.log")}, Site: "www.example.com", BatchLines: 700}

	ing := run(t, cfg, js, logs.logger())
	if st := ing.Stats(); st.LinesRead != n || st.Published != n || st.Duplicates != 0 || len(st.Rejected) != 0 {
		t.Fatalf("first import: %+v", st)
	}
	recs := readRaw(t, js, n)
	sameCounts(t, countIPs(recs), ips)
	for _, r := range recs {
		if r.Site != "www.example.com" || r.Method == "" && r.Target == "" && r.Status != 408 {
			t.Fatalf("record %+v", r)
		}
	}
	info, err := js.Stream(context.Background(), bus.RawStream)
	if err != nil {
		t.Fatal(err)
	}
	lastSeq := info.CachedInfo().State.LastSeq
	if want := uint64((n + 699) / 700); lastSeq != want {
		t.Errorf("%d messages, want %d batches", lastSeq, want)
	}

	// The same import again is recognised batch by batch.
	ing = run(t, cfg, js, logs.logger())
	if st := ing.Stats(); st.LinesRead != n || st.Published != 0 || st.Duplicates != n {
		t.Fatalf("second import: %+v", st)
	}
	si, err := info.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if si.State.LastSeq != lastSeq || si.State.Msgs != 0 {
		t.Fatalf("second import stored messages: last seq %d -> %d, %d in stream", lastSeq, si.State.LastSeq, si.State.Msgs)
	}
	logs.assertNoIPs(t, ips)
}

func TestImportRejects(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	now := time.Now()
	gen := loggen.New(loggen.Config{Seed: 2, Clients: 50, Start: now.Add(-time.Hour)})
	var file bytes.Buffer
	ips := map[netip.Addr]int{}
	good := 0
	addGood := func() {
		l := gen.Next()
		ips[l.IP]++
		good++
		file.Write(l.Text)
		file.WriteByte('\n')
	}
	stamp := func(t time.Time) string { return string(logformat.AppendTime(nil, t)) }
	bad := []struct{ line, reason string }{
		{"", "empty"},
		{"203.0.113.4 - -", "bad_format"},
		{`host.example.com - - [` + stamp(now) + `] "GET / HTTP/1.1" 200 1 "-" "-"`, "bad_ip"},
		{`198.18.0.1 - - [yesterday] "GET / HTTP/1.1" 200 1 "-" "-"`, "bad_timestamp"},
		{`203.0.113.5 - - [` + stamp(now) + `] "GET / HTTP/1.1" 2000 1 "-" "-"`, "bad_status"},
		{`203.0.113.6 - - [` + stamp(now) + `] "GET / HTTP/1.1" 200 lots "-" "-"`, "bad_bytes"},
		{"203.0.113.7 - - [" + stamp(now) + "] \"GET /\xff HTTP/1.1\" 200 1 \"-\" \"-\"", "invalid_utf8"},
		{`203.0.113.8 - - [` + stamp(now) + "] \"\x16\x03\x01\" 400 0 \"-\" \"-\"", "bad_request"},
		{"203.0.113.9 " + strings.Repeat("x", logformat.MaxLineBytes+10), "too_long"},
		{`203.0.113.10 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 1 "-" "-"`, ReasonPastRetention},
		{`203.0.113.11 - - [` + stamp(now.Add(2*time.Hour)) + `] "GET / HTTP/1.1" 200 1 "-" "-"`, ReasonFutureTimestamp},
	}
	want := map[string]int64{}
	for k, b := range bad {
		for range 10 + k {
			addGood()
		}
		file.WriteString(b.line)
		file.WriteByte('\n')
		want[b.reason]++
	}
	addGood()
	file.Truncate(file.Len() - 1) // the last line has no newline
	path := filepath.Join(dir, "mixed.log")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	ing := run(t, Config{Files: []string{path}, BatchLines: 40}, js, logs.logger())
	st := ing.Stats()
	if st.Published != int64(good) || st.LinesRead != int64(good+len(bad)) || fmt.Sprint(st.Rejected) != fmt.Sprint(want) {
		t.Fatalf("stats %+v\nwant %d published, rejected %v", st, good, want)
	}
	sameCounts(t, countIPs(readRaw(t, js, good)), ips)
	s := logs.String()
	for _, b := range bad {
		if b.line != "" && strings.Contains(s, b.line[:12]) {
			t.Fatalf("log contains line content %q:\n%s", b.line[:12], s)
		}
		if !strings.Contains(s, `"reason":"`+b.reason+`"`) {
			t.Errorf("rejection %s not logged", b.reason)
		}
	}
	logs.assertNoIPs(t, ips)
}

// TestSecRepoPastRetention imports a real log from 2021: every line is
// older than the retention and must not be stored, unless the retention is
// long enough.
func TestSecRepoPastRetention(t *testing.T) {
	if _, err := os.Stat(secrepo); err != nil {
		t.Skipf("test data: %v", err)
	}
	js := startNATS(t, bus.DefaultStreamConfig())
	ing := run(t, Config{Files: []string{secrepo}, Site: "secrepo.com"}, js, nil)
	if st := ing.Stats(); st.LinesRead != 644 || st.Published != 0 || st.Rejected[ReasonPastRetention] != 644 {
		t.Fatalf("stats %+v", st)
	}
	ing = run(t, Config{Files: []string{secrepo}, Site: "secrepo.com", MaxAge: 100 * 365 * 24 * time.Hour}, js, nil)
	if st := ing.Stats(); st.Published != 644 || len(st.Rejected) != 0 {
		t.Fatalf("stats with long retention %+v", st)
	}
	recs := readRaw(t, js, 644)
	if r := recs[0]; r.Site != "secrepo.com" {
		t.Errorf("site %q", r.Site)
	}
}

// TestBackpressure fills a small RAW stream: publishes are rejected
// (DiscardNew) and retried while a consumer drains it, and every record
// arrives exactly once.
func TestBackpressure(t *testing.T) {
	sc := bus.DefaultStreamConfig()
	sc.RawMaxBytes = 256 << 10
	js := startNATS(t, sc)
	path := filepath.Join(t.TempDir(), "access.log")
	const n = 20_000 // about 4 MB of records
	ips, err := loggen.New(loggen.Config{Seed: 4, Clients: 1000, Start: time.Now().Add(-time.Hour)}).WriteFile(path, n)
	if err != nil {
		t.Fatal(err)
	}
	ing, err := New(Config{Files: []string{path}, BatchLines: 100, MaxInFlight: 8}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ing.pub.minBackoff, ing.pub.maxBackoff = 10*time.Millisecond, 50*time.Millisecond

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	time.Sleep(300 * time.Millisecond) // let the stream fill up
	recs := readRaw(t, js, n)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sameCounts(t, countIPs(recs), ips)
	st := ing.Stats()
	if st.Published != n {
		t.Fatalf("stats %+v", st)
	}
	if got := counterValue(ing.met.fullWaits); got <= 0 {
		t.Error("no publish was rejected: the stream never filled")
	}
}

// TestWhenFullDrop: with ingest.when_full: drop and nobody draining a
// small RAW stream, an import does not wait: the batches the full stream
// refuses are dropped and counted, and every line is accounted for as
// published or dropped. What was published is in the stream, once.
func TestWhenFullDrop(t *testing.T) {
	sc := bus.DefaultStreamConfig()
	sc.RawMaxBytes = 256 << 10
	js := startNATS(t, sc)
	path := filepath.Join(t.TempDir(), "access.log")
	const n = 20_000 // about 4 MB of records: most cannot fit
	if _, err := loggen.New(loggen.Config{Seed: 5, Clients: 1000, Start: time.Now().Add(-time.Hour)}).WriteFile(path, n); err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	start := time.Now()
	ing := run(t, Config{Files: []string{path}, BatchLines: 100, MaxInFlight: 8, WhenFull: WhenFullDrop}, js, logs.logger())
	took := time.Since(start)
	st := ing.Stats()
	t.Logf("%+v in %s", st, took.Round(time.Millisecond))
	if st.Dropped == 0 || st.Published == 0 || st.Published+st.Dropped != n {
		t.Fatalf("published %d + dropped %d, want both > 0 and %d in all", st.Published, st.Dropped, n)
	}
	if got := counterValue(ing.met.dropped); got != float64(st.Dropped) {
		t.Errorf("vakt_dropped_total = %v, want %d", got, st.Dropped)
	}
	if got := counterValue(ing.met.fullWaits); got != 0 {
		t.Errorf("%v backpressure waits with the drop policy", got)
	}
	if !strings.Contains(logs.String(), "ingest.when_full: drop") {
		t.Error("the drops were not logged")
	}
	readRaw(t, js, int(st.Published))
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
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
	waitFor(t, "tailer started", func() bool { return strings.Contains(logs.String(), "reading log file") })
	wait := func(what string, published int64) {
		t.Helper()
		waitFor(t, what, func() bool { return ing.Stats().Published == published })
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
	time.Sleep(100 * time.Millisecond)
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
	time.Sleep(100 * time.Millisecond)
	appendLines(path, 5, true)
	wait("truncation", 86)
	waitFor(t, "rotated file finished", func() bool { return strings.Contains(logs.String(), "finished a rotated log file") })

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
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "later.log")
	ing, err := New(Config{Files: []string{path}, Follow: true, FlushInterval: 20 * time.Millisecond}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	if _, err := loggen.New(loggen.Config{Seed: 6, Now: time.Now}).WriteFile(path, 30); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "file that appeared", func() bool { return ing.Stats().Published == 30 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestDemo(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	ing, err := New(Config{Demo: true, DemoRate: 500, FlushInterval: 50 * time.Millisecond}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	waitFor(t, "demo lines", func() bool { return ing.Stats().Published >= 100 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := ing.Stats()
	if len(st.Rejected) != 0 || st.Published != st.LinesRead || st.Published > 2000 {
		t.Fatalf("stats %+v", st)
	}
	for _, r := range readRaw(t, js, int(st.Published)) {
		if r.Site != DemoSite || time.Since(r.Time) > time.Minute {
			t.Fatalf("record site %q time %v", r.Site, r.Time)
		}
	}
}

func TestImportMissingFile(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	ing, err := New(Config{Files: []string{filepath.Join(dir, "nope.log")}}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ing.Run(context.Background()); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Run = %v, want a not-exist error", err)
	}
	ing, _ = New(Config{Files: []string{filepath.Join(dir, "*.log")}}, js, nil, nil)
	if err := ing.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "matches no") {
		t.Fatalf("Run = %v, want no match", err)
	}
}

func TestImportCanceled(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log")
	if _, err := loggen.New(loggen.Config{Seed: 8, Start: time.Now().Add(-time.Hour)}).WriteFile(path, 1000); err != nil {
		t.Fatal(err)
	}
	ing, err := New(Config{Files: []string{path}}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ing.Run(ctx); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Run = %v", err)
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{Files: []string{"/var/log/nginx/*.log"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{Demo: true}).Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg Config
		key string
	}{
		{Config{}, "files"},
		{Config{Files: []string{""}}, "files"},
		{Config{Files: []string{"[x"}}, "files"},
		{Config{Files: []string{"a"}, FromStart: true}, "from_start"},
		{Config{Files: []string{"a"}, BatchLines: -1}, "batch_lines"},
		{Config{Files: []string{"a"}, BatchLines: 2_000_000}, "batch_lines"},
		{Config{Files: []string{"a"}, BatchBytes: 100}, "batch_bytes"},
		{Config{Files: []string{"a"}, MaxInFlight: -1}, "max_in_flight"},
		{Config{Files: []string{"a"}, MaxAge: -time.Hour}, "max_age"},
		{Config{Files: []string{"a"}, MaxFuture: -time.Hour}, "max_future"},
		{Config{Files: []string{"a"}, FlushInterval: time.Millisecond}, "flush_interval"},
		{Config{Files: []string{"a"}, DrainTimeout: -1}, "drain_timeout"},
		{Config{Demo: true, DemoRate: -1}, "demo_rate"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "ingest: "+tt.key+":") {
			t.Errorf("%+v: error %v, want one about %s", tt.cfg, err, tt.key)
		}
	}
	if _, err := New(Config{}, nil, nil, nil); err == nil {
		t.Error("New accepted an invalid config")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShutdownWhileRejected: with no stream to take the batches, publishing
// retries until shutdown and then gives up after the drain timeout,
// reporting what was not published.
func TestShutdownWhileRejected(t *testing.T) {
	e, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, js, err := bus.Connect(bus.ConnConfig{URL: e.ClientURL(), Name: "test"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	path := filepath.Join(t.TempDir(), "access.log")
	if _, err := loggen.New(loggen.Config{Seed: 9, Start: time.Now().Add(-time.Hour)}).WriteFile(path, 5000); err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	ing, err := New(Config{Files: []string{path}, BatchLines: 100, MaxInFlight: 4, DrainTimeout: 200 * time.Millisecond},
		js, logs.logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = ing.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "not acknowledged") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if st := ing.Stats(); st.Published != 0 || st.LinesRead == 0 || st.LinesRead == 5000 {
		t.Errorf("stats %+v: reading should have stopped at the in-flight limit", st)
	}
	if !strings.Contains(logs.String(), "publish failed, retrying") {
		t.Error("no retry warning logged")
	}
}

// TestBatchBytes checks that messages respect BatchBytes and that a record
// too large for any message is rejected instead of retried forever.
func TestBatchBytes(t *testing.T) {
	js := startNATS(t, bus.DefaultStreamConfig())
	gen := loggen.New(loggen.Config{Seed: 10, Now: time.Now})
	var file bytes.Buffer
	for k := range 300 {
		if k == 100 {
			file.WriteString(`192.0.2.1 - - [` + string(logformat.AppendTime(nil, time.Now())) + `] "GET / HTTP/1.1" 200 1 "-" "` +
				strings.Repeat("u", 5000) + "\"\n")
		}
		file.Write(append(gen.AppendLine(nil), '\n'))
	}
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ing := run(t, Config{Files: []string{path}, BatchBytes: 4096}, js, nil)
	if st := ing.Stats(); st.Published != 300 || st.Rejected["too_long"] != 1 {
		t.Fatalf("stats %+v", st)
	}
	ctx := context.Background()
	cons, err := js.Consumer(ctx, bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msgs := 0
	for msg := range batch.Messages() {
		msgs++
		if len(msg.Data()) > 4096 {
			t.Errorf("message of %d bytes", len(msg.Data()))
		}
	}
	if msgs < 300*150/4096 {
		t.Errorf("only %d messages", msgs)
	}
}
