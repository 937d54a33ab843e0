package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/testenv"
)

const secrepo = "/work/shared/testdata/secrepo-access-2021-10-22.log"

// Tests each run their own NATS server on their own temp dirs and call
// t.Parallel, except those that bound a latency, time a stall, measure
// this process's heap or race a writer at full speed (a starved follower
// falls behind a copytruncate): those stay serial, and so run alone.

// startNATS starts an embedded nats-server with the pipeline's streams.
func startNATS(t testing.TB, sc bus.StreamConfig) jetstream.JetStream {
	t.Helper()
	srv := testenv.RunNATS(t)
	nc, js, err := bus.Connect(bus.ConnConfig{URL: srv.ClientURL(), Name: "test"}, slog.New(slog.DiscardHandler))
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

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
