package ingest

import (
	"context"
	"slices"
	"sync"
)

// The tracker of one generation: it publishes the batches of a file
// through the publisher and advances the generation's checkpoint only past
// batches the server acknowledged (see file_checkpoint.go).

// tracker follows the batches of one generation from their recording to
// their acknowledgement and keeps its checkpoint (the rules above). The
// reader calls emit, send, commit and wait from one goroutine; acked runs
// on publisher goroutines.
type tracker struct {
	ing  *Ingest
	cps  *checkpoints
	g    string
	base checkpoint // Path, FPBytes, Dev, Ino, Done of the entry

	queue []batch // recorded-to-be and reserved, not yet published
	// replay are the ends recorded by an earlier run that this run has not
	// reached yet: they stay in the checkpoint until passed, or a second
	// crash would forget batches the first run published.
	replay []int64

	mu        sync.Mutex
	committed int64
	pending   []pendingRange // emitted, beyond committed, in order
	dirty     bool           // committed moved since the last put
	changed   chan struct{}  // signalled on every acknowledgement
}

type pendingRange struct {
	start, end int64
	acked      bool // handed over: Offset may pass it
	settled    bool // acked, or published and no longer waited for
}

func newTracker(ing *Ingest, cps *checkpoints, g string, base checkpoint) *tracker {
	return &tracker{ing: ing, cps: cps, g: g, base: base, committed: base.Offset, changed: make(chan struct{}, 1)}
}

// emit takes a closed batch (the sink's emit hook). Empty batches (every
// line rejected) are not published but still keep their place.
func (t *tracker) emit(ctx context.Context, b batch) error {
	if b.n > 0 && !t.ing.pub.tryReserve() {
		// Publish what is queued before waiting for a slot: a reader
		// never waits while holding slots it has not used.
		if err := t.send(ctx); err != nil {
			t.ing.pub.lostRecords.Add(int64(b.n))
			return err
		}
		if err := t.ing.pub.reserve(ctx); err != nil {
			t.ing.pub.lostRecords.Add(int64(b.n))
			return err
		}
	}
	t.mu.Lock()
	t.pending = append(t.pending, pendingRange{start: b.start, end: b.end, acked: b.n == 0, settled: b.n == 0})
	if b.n == 0 {
		t.advance()
	}
	t.mu.Unlock()
	if b.n == 0 {
		return nil
	}
	t.queue = append(t.queue, b)
	if len(t.queue) >= groupBatches {
		return t.send(ctx)
	}
	return nil
}

// send records the queued batches' boundaries, then publishes them.
func (t *tracker) send(ctx context.Context) error {
	if len(t.queue) == 0 {
		return nil
	}
	if err := t.put(ctx); err != nil {
		for _, b := range t.queue {
			t.ing.pub.unreserve()
			t.ing.pub.lostRecords.Add(int64(b.n))
		}
		t.queue = t.queue[:0]
		return err
	}
	for _, b := range t.queue {
		start := b.start
		t.ing.pub.send(ctx, b, func(handedOver bool) { t.acked(start, handedOver) })
	}
	clear(t.queue)
	t.queue = t.queue[:0]
	return nil
}

// commit writes the checkpoint if the committed offset moved.
func (t *tracker) commit(ctx context.Context) error {
	t.mu.Lock()
	dirty := t.dirty
	t.mu.Unlock()
	if !dirty {
		return nil
	}
	return t.put(ctx)
}

// put writes the current state: Offset and the ends of every pending
// range.
func (t *tracker) put(ctx context.Context) error {
	cp := t.base
	t.mu.Lock()
	cp.Offset = t.committed
	cp.Ends = make([]int64, 0, len(t.pending)+len(t.replay))
	last := t.committed
	for _, r := range t.pending {
		cp.Ends = append(cp.Ends, r.end)
		last = r.end
	}
	t.dirty = false
	t.mu.Unlock()
	k := 0
	for k < len(t.replay) && t.replay[k] <= last {
		k++
	}
	t.replay = t.replay[k:]
	cp.Ends = append(cp.Ends, t.replay...)
	if err := t.cps.put(ctx, t.g, cp); err != nil {
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return err
	}
	return nil
}

// acked marks the batch starting at start as settled, and as handed over
// if it was.
func (t *tracker) acked(start int64, handedOver bool) {
	t.mu.Lock()
	for k := range t.pending {
		r := &t.pending[k]
		if r.start == start && !r.acked && (handedOver || !r.settled) {
			r.settled = true
			r.acked = handedOver
			break
		}
	}
	t.advance()
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// advance moves committed over the acknowledged prefix; t.mu is held.
func (t *tracker) advance() {
	k := 0
	for k < len(t.pending) && t.pending[k].acked {
		t.committed = t.pending[k].end
		k++
	}
	if k > 0 {
		t.pending = slices.Delete(t.pending, 0, k)
		t.dirty = true
	}
}

// wait returns when every emitted batch is settled, or ctx ended.
func (t *tracker) wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		n := 0
		for _, r := range t.pending {
			if !r.settled {
				n++
			}
		}
		t.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-t.changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// finish publishes what is queued, waits for the acknowledgements (until
// ctx ends) and writes the final checkpoint under commitCtx, with done as
// its Done mark. The final state is written even when publishing gave up:
// what was acknowledged is kept. It does not wait for the handovers (the
// pseudonymisers may be down for longer than a reader should stall):
// batches not yet taken stay in Ends, to be read again, and recognised, at
// the next start.
func (t *tracker) finish(ctx, commitCtx context.Context, done bool) error {
	err := t.send(ctx)
	if err == nil {
		err = t.wait(ctx)
	}
	t.mu.Lock()
	if err == nil && done {
		t.base.Done = true
		t.dirty = true
	}
	t.mu.Unlock()
	if cerr := t.commit(commitCtx); err == nil {
		err = cerr
	}
	return err
}
