// Package pseudonymize is the stage between the RAW and EVENTS streams: it
// replaces each client IP with keyed pseudonyms under the current epoch's
// salt, scrubs query strings and referrers, flags threat patterns, and
// destroys salts on schedule.
//
// Replicas share the durable pull consumer bus.PseudonymizeConsumer and the
// salt bucket bus.SaltBucket, so any number can run at once and all produce
// the same ids. A raw message is acknowledged only after its event batch is
// stored in the events stream; the batch carries the raw message's id, so a
// redelivery is deduplicated there.
//
// Nothing this package logs, returns as an error or exports as a metric
// contains an IP, a salt, a request target or a client id.
package pseudonymize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/logformat"
)

// stage is the metrics label of this stage.
const stage = "pseudonymize"

const (
	// fetchWait bounds one pull request, and so how long shutdown waits for
	// an idle worker.
	fetchWait = time.Second
	// publishTimeout bounds one publish attempt.
	publishTimeout = 5 * time.Second
	// publishAttempts are tried in place before the message is handed back
	// to the server with a delay.
	publishAttempts = 4
)

// Pseudonymizer is the pseudonymise stage.
type Pseudonymizer struct {
	cfg     Config
	js      jetstream.JetStream
	log     *slog.Logger
	m       *metrics.Pipeline
	builder builder
	geo     *GeoIP // nil when cfg.Enricher replaces it

	// Retry pacing for failed publishes and fetches; fields so tests can
	// shorten them.
	backoffMin, backoffMax time.Duration

	saltsMu sync.Mutex
	salts   *SaltStore // set by Run

	in, out, rejected atomic.Uint64
}

// Stats are the stage's counters since New. Once a message is finished,
// EventsIn = EventsOut + Rejected for its records.
type Stats struct {
	EventsIn  uint64 // records received
	EventsOut uint64 // records published to the events stream
	Rejected  uint64 // records rejected (corrupt batch, invalid IP, too large)
}

// New validates cfg (zero fields take defaults) and returns a stage ready to
// Run. A nil logger discards; nil metrics are kept on a private registry.
func New(cfg Config, js jetstream.JetStream, log *slog.Logger, m *metrics.Pipeline) (*Pseudonymizer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pseudonymize config: %w", err)
	}
	if js == nil {
		return nil, errors.New("pseudonymize: nil JetStream")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = metrics.New()
	}
	log = log.With("stage", stage)
	enricher := cfg.Enricher
	var geo *GeoIP
	if enricher == nil {
		g, err := NewGeoIP(cfg.GeoIP, log)
		if err != nil {
			return nil, fmt.Errorf("pseudonymize config: %w", err)
		}
		geo = g
		if g.Configured() {
			enricher = g
		}
	}
	b, err := newBuilder(cfg, enricher)
	if err != nil {
		return nil, fmt.Errorf("pseudonymize config: %w", err)
	}
	return &Pseudonymizer{
		cfg:        cfg,
		js:         js,
		log:        log,
		m:          m,
		builder:    b,
		geo:        geo,
		backoffMin: 100 * time.Millisecond,
		backoffMax: 10 * time.Second,
	}, nil
}

// Stats returns the counters.
func (p *Pseudonymizer) Stats() Stats {
	return Stats{EventsIn: p.in.Load(), EventsOut: p.out.Load(), Rejected: p.rejected.Load()}
}

// Salts returns the salt store once Run has bound it, else nil.
func (p *Pseudonymizer) Salts() *SaltStore {
	p.saltsMu.Lock()
	defer p.saltsMu.Unlock()
	return p.salts
}

// Run processes raw messages until ctx is cancelled, then finishes the
// messages in hand and returns nil. It also runs the salt janitor. It fails
// only if the consumer or salt bucket cannot be bound at start.
func (p *Pseudonymizer) Run(ctx context.Context) error {
	salts, err := NewSaltStore(ctx, p.js, p.cfg, p.log)
	if err != nil {
		return fmt.Errorf("pseudonymize: %w", err)
	}
	salts.onEpoch = func(k uint32) { p.m.SaltEpoch.Set(float64(k)) }
	salts.onConflict = p.saltAlarm
	p.saltsMu.Lock()
	p.salts = salts
	p.saltsMu.Unlock()
	// Load (or create) the current salt now, so that one replaced while no
	// replica ran is refused, and alarmed, before any traffic.
	if _, err := salts.Current(ctx); err != nil && !errors.Is(err, ErrSaltConflict) {
		p.log.Warn("salt not loaded at start; retried per message", "err", err)
	}

	cons, err := p.js.Consumer(ctx, bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		return fmt.Errorf("pseudonymize: consumer %s on %s (run bus.Ensure first): %w", bus.PseudonymizeConsumer, bus.RawStream, err)
	}
	p.log.Info("pseudonymiser running", "workers", p.cfg.Workers, "epoch_length", p.cfg.EpochLength,
		"grace", p.cfg.Grace, "query_policy", p.cfg.QueryPolicy)

	if p.geo != nil {
		p.log.Info(p.geo.Describe())
	}
	var wg sync.WaitGroup
	wg.Go(func() { salts.RunJanitor(ctx) })
	if p.geo.Configured() {
		wg.Go(func() { p.geo.Run(ctx) })
	}
	for range p.cfg.Workers {
		wg.Go(func() { p.worker(ctx, cons, salts) })
	}
	wg.Wait()
	p.log.Info("pseudonymiser stopped", "events_in", p.in.Load(), "events_out", p.out.Load(), "rejected", p.rejected.Load())
	return nil
}

// worker pulls batches of raw messages and handles them one by one.
func (p *Pseudonymizer) worker(ctx context.Context, cons jetstream.Consumer, salts *SaltStore) {
	w := &workerState{backoff: p.backoffMin}
	for ctx.Err() == nil {
		if salts.Blocked() {
			// A refused epoch: leave the raw messages in the stream until
			// a rotation starts a new one.
			p.pause(ctx, w)
			continue
		}
		batch, err := cons.Fetch(p.cfg.FetchBatch, jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			p.log.Warn("fetch raw messages", "err", err)
			p.pause(ctx, w)
			continue
		}
		failed := false
		for msg := range batch.Messages() {
			switch {
			case ctx.Err() != nil:
				// Not started: hand it to another replica now rather than
				// after the ack wait.
				_ = msg.Nak()
			case failed:
				_ = msg.NakWithDelay(w.backoff)
			default:
				if !p.handle(ctx, msg, salts, w) {
					failed = true
				}
			}
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil {
			p.log.Warn("fetch raw messages", "err", err)
			failed = true
		}
		if failed {
			p.pause(ctx, w)
		} else {
			w.backoff = p.backoffMin
		}
	}
}

// workerState is what a worker reuses between messages.
type workerState struct {
	lines   logformat.Parser // parses whole log lines in JSON messages; per worker, as it detects formats
	out     []byte           // event batch being built
	ev      event.Event      // event being built
	backoff time.Duration    // current retry delay; grows while NATS refuses work
}

// pause sleeps the worker's backoff and doubles it: while the events stream
// is full or NATS is down, workers stop pulling, the RAW stream fills, and
// ingest waits. That is the pipeline's backpressure.
func (p *Pseudonymizer) pause(ctx context.Context, w *workerState) {
	sleep(ctx, w.backoff)
	w.backoff = min(2*w.backoff, p.backoffMax)
}

// handle processes one raw message: decode, build the event batch, publish,
// then ack. It returns false when the message could not be published and was
// handed back for redelivery.
func (p *Pseudonymizer) handle(ctx context.Context, msg jetstream.Msg, salts *SaltStore, w *workerState) bool {
	// Work already started finishes even when ctx is cancelled: a published
	// but unacknowledged batch would only be redelivered and deduplicated.
	work := context.WithoutCancel(ctx)
	md, err := msg.Metadata()
	if err != nil {
		p.log.Error("raw message without metadata", "err", err)
		_ = msg.Term()
		return true
	}
	seq := md.Sequence.Stream
	site := bus.SiteFromSubject(msg.Subject())
	if bus.AddressLike(site) {
		site = bus.UnnamedSite // a shipper named the site by an address
	}

	keys, err := salts.Current(work)
	if errors.Is(err, ErrSaltConflict) {
		// Alarmed once by the salt store; the message waits.
		_ = msg.NakWithDelay(w.backoff)
		return false
	}
	if err != nil {
		p.log.Error("salt unavailable; message will be redelivered", "seq", seq, "err", err)
		_ = msg.NakWithDelay(w.backoff)
		return false
	}

	b, err := p.buildBatch(msg, md, keys, site, w)
	if err != nil {
		// A batch that cannot be decoded never will be: drop it for good.
		n, reason := corruptRecords(msg), event.ReasonCorruptBatch
		if b.isJSON {
			reason = event.ReasonInvalidJSON
		}
		p.log.Error("corrupt raw batch dropped", "site", site, "seq", seq, "records", n, "reason", reason, "err", err)
		p.count(n, 0, map[string]int{reason: n})
		if err := msg.Term(); err != nil {
			p.log.Warn("term corrupt raw batch", "seq", seq, "err", err)
		}
		return true
	}
	if b.invalidIP > 0 {
		p.log.Warn("records without a valid client ip rejected", "site", site, "seq", seq, "count", b.invalidIP)
	}
	if len(b.reasons) > 0 {
		p.log.Warn("JSON records rejected", "site", site, "seq", seq, "reasons", b.reasons)
	}
	b.reasons[event.ReasonInvalidIP] += b.invalidIP
	if b.published == 0 {
		p.ackAndCount(msg, seq, b.records, 0, b.reasons)
		return true
	}
	return p.publish(ctx, msg, md, site, w, b)
}

// builtBatch is what buildBatch made of a raw message: the events in
// workerState.out, and the counts.
type builtBatch struct {
	records, published, invalidIP int
	reasons                       map[string]int // rejected JSON records by reason
	isJSON                        bool
}

// buildBatch decodes the raw message and builds its events into w.out.
func (p *Pseudonymizer) buildBatch(msg jetstream.Msg, md *jetstream.MsgMetadata, keys *Keys, site string, w *workerState) (builtBatch, error) {
	w.out = w.out[:0]
	b := builtBatch{reasons: map[string]int{}}
	build := func(r *event.Raw) error {
		b.records++
		if err := p.builder.build(keys, r, site, &w.ev); err != nil {
			b.invalidIP++
			return nil
		}
		w.out = event.AppendEvent(w.out, &w.ev)
		b.published++
		return nil
	}
	// A protobuf batch from vakt's ingest, or JSON from another shipper
	// (docs/nats-contract.md): a batch starts with 0x0a, JSON with { or [.
	b.isJSON = event.IsJSON(msg.Data())
	if !b.isJSON {
		return b, event.RangeRaw(msg.Data(), build)
	}
	return b, rangeJSON(msg.Data(), md.Timestamp, w, func(r *event.Raw, reason string) error {
		if reason != "" {
			b.records++
			b.reasons[reason]++
			return nil
		}
		return build(r)
	})
}

// publish publishes the built events to the events stream, retrying, and
// acknowledges the raw message once they are in; it reports whether the
// message is done with (acknowledged or dropped).
func (p *Pseudonymizer) publish(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, site string, w *workerState, b builtBatch) bool {
	work := context.WithoutCancel(ctx)
	seq := md.Sequence.Stream
	out := &nats.Msg{
		Subject: bus.EventsSubject(site),
		Data:    w.out,
		Header:  nats.Header{bus.HeaderRecords: []string{strconv.Itoa(b.published)}},
	}
	id := msgID(msg, md)
	// A batch read from a file is named by ingest (file and byte range);
	// any other is named by its raw message, which a redelivery keeps, so
	// that a store replica that dies between insert and ack leaves nothing
	// the survivor cannot recognise.
	key := msg.Headers().Get(bus.HeaderBatch)
	if key == "" {
		key = id
	}
	out.Header.Set(bus.HeaderBatch, key)
	if msg.Headers().Get(bus.HeaderReplay) != "" || md.NumDelivered > 1 {
		// The events may be in the events stream, or stored, already.
		out.Header.Set(bus.HeaderReplay, "1")
	}
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(work, publishTimeout)
		ack, err := p.js.PublishMsg(pctx, out, jetstream.WithMsgID(id), jetstream.WithExpectStream(bus.EventsStream))
		cancel()
		if err == nil {
			if ack.Duplicate {
				p.m.Duplicates.WithLabelValues(stage).Inc()
			}
			p.m.BatchRecords.WithLabelValues(stage).Observe(float64(b.published))
			p.ackAndCount(msg, seq, b.records, b.published, b.reasons)
			return true
		}
		p.m.PublishErrors.WithLabelValues(stage).Inc()
		if errors.Is(err, nats.ErrMaxPayload) {
			// Retrying cannot help; ingest must send smaller batches.
			p.log.Error("event batch exceeds the NATS max payload; dropped", "site", site, "seq", seq,
				"bytes", len(w.out), "records", b.published)
			b.reasons[event.ReasonTooLarge] = b.published
			p.count(b.records, 0, b.reasons)
			_ = msg.Term()
			return true
		}
		if attempt >= publishAttempts || ctx.Err() != nil {
			// Hand it back: another attempt, here or on another replica,
			// after a delay. A cancelled run hands it back at once.
			delay := w.backoff
			if ctx.Err() != nil {
				delay = 0
			}
			p.log.Warn("publish events failed; raw message will be redelivered", "site", site, "seq", seq,
				"attempts", attempt, "err", err)
			_ = msg.NakWithDelay(delay)
			return false
		}
		sleep(ctx, min(p.backoffMin<<(attempt-1), p.backoffMax))
	}
}

// ackAndCount acknowledges a finished raw message and counts its records.
func (p *Pseudonymizer) ackAndCount(msg jetstream.Msg, seq uint64, records, published int, reasons map[string]int) {
	if err := msg.Ack(); err != nil {
		// The batch is stored; a redelivery will be deduplicated.
		p.log.Warn("ack raw message", "seq", seq, "err", err)
	}
	p.count(records, published, reasons)
}

func (p *Pseudonymizer) count(records, published int, reasons map[string]int) {
	p.in.Add(uint64(records))
	p.out.Add(uint64(published))
	p.m.EventsIn.WithLabelValues(stage).Add(float64(records))
	p.m.EventsOut.WithLabelValues(stage).Add(float64(published))
	for reason, n := range reasons {
		if n > 0 {
			p.rejected.Add(uint64(n))
			p.m.Rejected.WithLabelValues(stage, reason).Add(float64(n))
		}
	}
}

// msgID is the raw message's id, which the event batch keeps so that the
// events stream deduplicates redeliveries. Without one, the raw stream's
// sequence and timestamp identify the message.
func msgID(msg jetstream.Msg, md *jetstream.MsgMetadata) string {
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		return id
	}
	return "raw-" + strconv.FormatUint(md.Sequence.Stream, 10) + "-" + strconv.FormatInt(md.Timestamp.UnixNano(), 10)
}

// corruptRecords is how many records a corrupt batch loses: the count its
// producer announced, bounded by the payload size since the header is as
// untrusted as the payload, and at least one.
func corruptRecords(msg jetstream.Msg) int {
	n, err := strconv.Atoi(msg.Headers().Get(bus.HeaderRecords))
	if err != nil || n <= 0 {
		return 1
	}
	return max(1, min(n, len(msg.Data())))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
