package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// handoverPoll is how often the RAW stream is looked at while batches wait
// for a pseudonymiser. It delays checkpoints only, not throughput.
const handoverPoll = 100 * time.Millisecond

// handoverGrace is how long a stopping ingest still waits for the
// pseudonymisers to take what it published (bounded by DrainTimeout).
const handoverGrace = 2 * time.Second

// errRawReset reports that the RAW stream was created anew (a NATS server
// restarted and lost its memory stream) after a batch was stored in it.
var errRawReset = errors.New("the RAW stream was reset")

// handover tells when the pseudonymisers have taken a batch out of the RAW
// stream, which keeps its messages in memory only (raw IPs never touch a
// disk). JetStream's ack of a publish is therefore not enough to move a
// followed file's checkpoint: a NATS server that stops before a
// pseudonymiser took the batch loses it. A batch is handed over once the
// stream's first sequence is past it (a work-queue stream drops a message
// when it is acknowledged); a stream created anew since the batch was
// stored means the batch must be published again.
type handover struct {
	js  jetstream.JetStream
	log *slog.Logger

	mu      sync.Mutex
	waiters map[*handoverWaiter]struct{}
	created time.Time // of the RAW stream as last seen
	added   uint64    // waiters registered so far: orders them against polls
	kick    chan struct{}
}

type handoverWaiter struct {
	seq     uint64
	created time.Time // the stream the batch went into, as known then
	order   uint64    // h.added when it registered
	done    chan error
}

func newHandover(js jetstream.JetStream, log *slog.Logger) *handover {
	return &handover{js: js, log: log, waiters: map[*handoverWaiter]struct{}{}, kick: make(chan struct{}, 1)}
}

// wait returns nil when the batch stored at RAW stream sequence seq has
// been taken by a pseudonymiser, errRawReset when it must be published
// again, or ctx's error. run must be running.
func (h *handover) wait(ctx context.Context, seq uint64) error {
	w := h.add(seq)
	select {
	case h.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		h.mu.Lock()
		delete(h.waiters, w)
		h.mu.Unlock()
		return ctx.Err()
	}
}

// add registers a waiter for the batch stored at sequence seq.
func (h *handover) add(seq uint64) *handoverWaiter {
	w := &handoverWaiter{seq: seq, done: make(chan error, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.added++
	w.created, w.order = h.created, h.added
	h.waiters[w] = struct{}{}
	return w
}

// pollStart returns the order of the last waiter registered before a poll
// of the stream's state begins: only those can be judged by what it reads.
func (h *handover) pollStart() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.added
}

// run polls the RAW stream while batches wait, until ctx ends.
func (h *handover) run(ctx context.Context) {
	t := time.NewTicker(handoverPoll)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
		h.mu.Lock()
		n := len(h.waiters)
		h.mu.Unlock()
		if n == 0 {
			continue
		}
		polled := h.pollStart()
		info, err := h.info(ctx)
		if err != nil {
			if !warned && ctx.Err() == nil {
				h.log.Warn("cannot read the RAW stream's state; checkpoints wait", slog.Any("err", err))
				warned = true
			}
			continue
		}
		warned = false
		h.settle(info.Created, info.State.FirstSeq, info.State.LastSeq, polled)
	}
}

func (h *handover) info(ctx context.Context) (*jetstream.StreamInfo, error) {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := h.js.Stream(ictx, bus.RawStream)
	if err != nil {
		return nil, err
	}
	return s.Info(ictx)
}

// settle releases the waiters the stream's state decides: handed over
// when first is past their sequence, reset when the stream is not the one
// they were stored in. The state was read by a poll that began after the
// waiter numbered polled registered: a later waiter's publish may have
// been acknowledged after the stream answered, so a last sequence short
// of it is no sign of a reset (that race told operators NATS restarted
// when it had not); such waiters wait for the next poll.
func (h *handover) settle(created time.Time, first, last, polled uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.created.IsZero() {
		h.created = created
	}
	reset := !created.Equal(h.created)
	h.created = created
	for w := range h.waiters {
		if w.order > polled {
			if first > w.seq {
				h.release(w, nil)
			}
			continue
		}
		if w.created.IsZero() {
			// Stored before the first look at the stream: in this one,
			// unless its sequence says otherwise.
			w.created = created
		}
		switch {
		case reset && !w.created.Equal(created), w.seq > last:
			// A waiter stored in the new stream before this look is
			// sent again needlessly; JetStream drops it as a duplicate.
			h.release(w, errRawReset)
		case first > w.seq:
			h.release(w, nil)
		}
	}
}

// release ends a waiter; h.mu is held.
func (h *handover) release(w *handoverWaiter, err error) {
	w.done <- err
	delete(h.waiters, w)
}
