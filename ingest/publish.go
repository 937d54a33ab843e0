package ingest

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// Retry backoff of a failed publish.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// ackTimeout bounds the wait for one PubAck; the publish is then
	// retried under the same message id, so a late ack costs nothing.
	ackTimeout = 30 * time.Second
)

// publisher publishes batches asynchronously with at most cap(slots) of
// them unacknowledged, retrying each until JetStream accepts it. A retried
// batch keeps its Nats-Msg-Id, so JetStream drops it if an earlier attempt
// was stored after all. Batches may be stored out of order when retries
// happen; every record carries its own timestamp.
type publisher struct {
	js    jetstream.JetStream
	slots chan struct{}
	wg    sync.WaitGroup
	ing   *Ingest
	pool  sync.Pool // *[]byte batch buffers

	minBackoff, maxBackoff time.Duration

	lostRecords  atomic.Int64 // records given up on when the drain timeout hit
	lastWarn     atomic.Int64 // unix nanos of the last retry warning
	lastDropWarn atomic.Int64 // unix nanos of the last drop warning
	failures     atomic.Int64 // failed attempts since the last warning
}

func newPublisher(js jetstream.JetStream, maxInFlight int, ing *Ingest) *publisher {
	return &publisher{js: js, slots: make(chan struct{}, maxInFlight), ing: ing,
		minBackoff: minBackoff, maxBackoff: maxBackoff}
}

func (p *publisher) buffer() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return nil
}

func (p *publisher) release(b []byte) {
	if cap(b) > 0 {
		p.pool.Put(&b)
	}
}

// publish hands a batch over for delivery. It blocks while MaxInFlight
// batches are unacknowledged, which is what slows reading down when
// JetStream cannot keep up. It fails only when ctx ends first.
func (p *publisher) publish(ctx context.Context, b batch) error {
	if err := p.reserve(ctx); err != nil {
		p.lostRecords.Add(int64(b.n))
		return err
	}
	p.send(ctx, b, nil)
	return nil
}

// reserve takes one of the MaxInFlight slots, waiting until one is free or
// ctx ends. Every reserved slot is handed to send or given back with
// unreserve.
func (p *publisher) reserve(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryReserve takes a slot if one is free.
func (p *publisher) tryReserve() bool {
	select {
	case p.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (p *publisher) unreserve() { <-p.slots }

// send delivers a batch in a reserved slot, retrying until JetStream
// acknowledges it or ctx ends, and frees the slot. With done set, done(false)
// reports the acknowledgement; the batch is then kept until a pseudonymiser
// has taken it from the RAW stream (handover), published again if the
// stream lost it, and done(true) reports the handover. A run that stops
// first does not wait for the handover.
func (p *publisher) send(ctx context.Context, b batch, done func(handedOver bool)) {
	msg := &nats.Msg{Subject: b.subject, Data: b.data, Header: nats.Header{}}
	msg.Header.Set(bus.HeaderRecords, strconv.Itoa(b.n))
	if b.keyed {
		msg.Header.Set(bus.HeaderBatch, b.id)
	}
	if b.replay {
		msg.Header.Set(bus.HeaderReplay, "1")
	}
	p.ing.met.batchRecords.Observe(float64(b.n))
	p.wg.Add(1)
	go p.deliver(ctx, msg, b.id, b.n, done)
}

// wait returns when every batch handed to publish is acknowledged or has
// been given up on because its context ended.
func (p *publisher) wait() { p.wg.Wait() }

func (p *publisher) deliver(ctx context.Context, msg *nats.Msg, id string, n int, done func(bool)) {
	defer p.wg.Done()
	for counted := false; ; {
		ack, outcome := p.store(ctx, msg, id, n)
		<-p.slots
		switch outcome {
		case gaveUp:
			return
		case dropped:
			// By policy (ingest.when_full: drop): counted, and settled
			// for good, so a file's checkpoint passes it.
			p.release(msg.Data)
			if done != nil {
				done(true)
			}
			return
		}
		if !counted {
			p.ing.acked(n, ack.Duplicate)
			counted = true
		}
		if done == nil {
			p.release(msg.Data)
			return
		}
		done(false)
		err := p.ing.handover.wait(p.ing.handoverCtx, ack.Sequence)
		if !errors.Is(err, errRawReset) {
			// Handed over, or the run is stopping: then the batch stays
			// in the checkpoint's ends and is read again at the next
			// start.
			p.release(msg.Data)
			if err == nil {
				done(true)
			}
			return
		}
		p.ing.met.republished.Inc()
		p.ing.log.Warn("the RAW stream lost a batch before a pseudonymiser took it (NATS restarted); publishing it again",
			slog.String("subject", msg.Subject))
		msg.Header.Set(bus.HeaderReplay, "1")
		if p.reserve(ctx) != nil {
			return
		}
	}
}

// What store did with a batch.
type storeOutcome int

const (
	acknowledged storeOutcome = iota // JetStream stored it
	dropped                          // a full RAW stream refused it, and ingest.when_full is drop
	gaveUp                           // ctx ended first
)

// store publishes msg until JetStream acknowledges it or ctx ends. With
// ingest.when_full: drop, a batch the full RAW stream refuses is dropped
// and counted instead.
func (p *publisher) store(ctx context.Context, msg *nats.Msg, id string, n int) (*jetstream.PubAck, storeOutcome) {
	backoff := p.minBackoff
	for attempt := 1; ; attempt++ {
		ack, err := p.attempt(ctx, msg, id)
		if err == nil {
			return ack, acknowledged
		}
		if ctx.Err() != nil {
			// The library may still hold msg for a retry of its own, so
			// its buffer is not reused.
			p.lostRecords.Add(int64(n))
			return nil, gaveUp
		}
		// Jitter keeps many stalled publishers from retrying in step.
		d := backoff/2 + rand.N(backoff)
		if streamFull(err) && p.ing.cfg.WhenFull == WhenFullDrop {
			p.ing.drop(n)
			p.warnDrop(msg.Subject)
			return nil, dropped
		}
		if streamFull(err) {
			// Flow control, not a failure: the RAW stream is at its bound
			// until the pseudonymisers catch up, which takes milliseconds.
			// Retry soon, so the pipeline never idles behind a long backoff.
			d = fullStreamRetry/2 + rand.N(fullStreamRetry)
			p.ing.met.fullWaits.Inc()
		} else {
			p.ing.met.publishErrors.Inc()
			p.warn(err, msg.Subject, attempt)
			backoff = min(2*backoff, p.maxBackoff)
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			p.lostRecords.Add(int64(n))
			return nil, gaveUp
		}
	}
}

// fullStreamRetry is the mean wait before retrying a batch the RAW stream
// refused for being full.
const fullStreamRetry = 20 * time.Millisecond

// streamFull reports JetStream refusing a message because a DiscardNew
// stream reached its byte or message limit.
func streamFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsStreamStoreFailed &&
		strings.Contains(apiErr.Description, "maximum")
}

// jsStreamStoreFailed is nats-server's JSStreamStoreFailedF error code.
const jsStreamStoreFailed jetstream.ErrorCode = 10077

func (p *publisher) attempt(ctx context.Context, msg *nats.Msg, id string) (*jetstream.PubAck, error) {
	f, err := p.js.PublishMsgAsync(msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(bus.RawStream))
	if err != nil {
		return nil, err
	}
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// warnDrop logs drops at most every five seconds; vakt_dropped_total
// counts every record.
func (p *publisher) warnDrop(subject string) {
	if !due(&p.lastDropWarn) {
		return
	}
	p.ing.log.Warn("RAW stream full: dropping batches (ingest.when_full: drop)",
		slog.String("subject", subject), slog.Int64("dropped_records", p.ing.dropped.Load()))
}

// warn logs failed publishes at most every five seconds: a full stream or a
// NATS outage fails every batch, and the metric counts them all.
func (p *publisher) warn(err error, subject string, attempt int) {
	p.failures.Add(1)
	if !due(&p.lastWarn) {
		return
	}
	p.ing.log.Warn("publish failed, retrying; ingest slows down until JetStream accepts batches again",
		slog.String("subject", subject), slog.Int("attempt", attempt),
		slog.Int64("failures", p.failures.Swap(0)), slog.Any("err", err))
}

// due reports whether five seconds have passed since the time in last
// (unix nanos), and if so sets it to now; one caller of many wins.
func due(last *atomic.Int64) bool {
	now := time.Now().UnixNano()
	prev := last.Load()
	return now-prev >= int64(5*time.Second) && last.CompareAndSwap(prev, now)
}
