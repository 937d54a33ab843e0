package pseudonymize

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// testNATS is an embedded nats-server with the pipeline's streams, consumers
// and salt bucket.
type testNATS struct {
	srv      *server.Server
	storeDir string
	js       jetstream.JetStream
}

func startNATS(t *testing.T) *testNATS {
	t.Helper()
	dir := t.TempDir()
	n := &testNATS{srv: testenv.RunNATS(t, testenv.NATSStoreDir(dir)), storeDir: dir}
	n.js = n.connect(t, "test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Ensure(ctx, n.js, bus.DefaultStreamConfig()); err != nil {
		t.Fatal(err)
	}
	return n
}

// connect opens a separate connection, as another process would.
func (n *testNATS) connect(t *testing.T, name string) jetstream.JetStream {
	t.Helper()
	nc, js, err := bus.Connect(bus.ConnConfig{URL: n.srv.ClientURL(), Name: name}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

// publishRaw publishes one raw batch message, as ingest does.
func publishRaw(t *testing.T, js jetstream.JetStream, site, id string, recs []event.Raw) {
	t.Helper()
	var b []byte
	for i := range recs {
		b = event.AppendRaw(b, &recs[i])
	}
	publishRawBytes(t, js, site, id, b, len(recs))
}

func publishRawBytes(t *testing.T, js jetstream.JetStream, site, id string, data []byte, records int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg := &nats.Msg{
		Subject: bus.RawSubject(site),
		Data:    data,
		Header:  nats.Header{bus.HeaderRecords: []string{strconv.Itoa(records)}},
	}
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	if _, err := js.PublishMsg(ctx, msg, opts...); err != nil {
		t.Fatalf("publish raw: %v", err)
	}
}

// stored is one event batch as stored in the events stream.
type stored struct {
	Subject string
	MsgID   string
	Records string
	Data    []byte
	Events  []event.Event
}

// eventReader reads the events stream from the start with an ordered
// consumer: it sees what was stored, after deduplication.
type eventReader struct {
	t    *testing.T
	cons jetstream.Consumer
}

func newEventReader(t *testing.T, js jetstream.JetStream) *eventReader {
	t.Helper()
	cons, err := js.OrderedConsumer(context.Background(), bus.EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return &eventReader{t: t, cons: cons}
}

// next returns the next n stored batches, failing after timeout.
func (r *eventReader) next(n int, timeout time.Duration) []stored {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	var out []stored
	for len(out) < n {
		left := time.Until(deadline)
		if left <= 0 {
			r.t.Fatalf("got %d event batches, want %d", len(out), n)
		}
		msg, err := r.cons.Next(jetstream.FetchMaxWait(min(left, time.Second)))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
			continue
		}
		if err != nil {
			r.t.Fatalf("read events: %v", err)
		}
		s := stored{
			Subject: msg.Subject(),
			MsgID:   msg.Headers().Get(jetstream.MsgIDHeader),
			Records: msg.Headers().Get(bus.HeaderRecords),
			Data:    bytes.Clone(msg.Data()),
		}
		if err := event.RangeEvents(s.Data, func(e *event.Event) error {
			s.Events = append(s.Events, *e)
			return nil
		}); err != nil {
			r.t.Fatalf("decode event batch: %v", err)
		}
		out = append(out, s)
	}
	return out
}

// none asserts that nothing more is stored within d.
func (r *eventReader) none(d time.Duration) {
	r.t.Helper()
	msg, err := r.cons.Next(jetstream.FetchMaxWait(d))
	if err == nil {
		r.t.Fatalf("unexpected event batch on %s", msg.Subject())
	}
}

// running is a Pseudonymizer started in the background.
type running struct {
	p      *Pseudonymizer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func startPseudonymizer(t *testing.T, js jetstream.JetStream, cfg Config, log *slog.Logger, m *metrics.Pipeline) *running {
	t.Helper()
	p, err := New(cfg, js, log, m)
	if err != nil {
		t.Fatal(err)
	}
	p.backoffMin, p.backoffMax = 20*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and checks that it returns nil promptly.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(10 * time.Second):
			r.err = errors.New("Run did not return within 10s of cancel")
		}
	})
	if r.err != nil {
		t.Errorf("Run: %v", r.err)
	}
}
