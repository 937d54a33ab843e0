package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/loggen"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/logformat"
)

// TestBackpressure fills a small RAW stream: publishes are rejected
// (DiscardNew) and retried while a consumer drains it, and every record
// arrives exactly once.
func TestBackpressure(t *testing.T) {
	t.Parallel()
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
	time.Sleep(300 * time.Millisecond) // the scenario: ingest publishes into a full stream for a while
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
	t.Parallel()
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

// TestShutdownWhileRejected: with no stream to take the batches, publishing
// retries until shutdown and then gives up after the drain timeout,
// reporting what was not published.
func TestShutdownWhileRejected(t *testing.T) {
	e := testenv.RunNATS(t)
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
	t.Parallel()
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
