package store

import (
	"context"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
)

// dropErased removes from the batch the events of clients erased since they
// were pseudonymised (`vakt subject erase`), after bringing the tombstones
// up to date: an insert that starts after an erasure was recorded never
// stores that client's earlier events. It retries until the tombstones are
// read or ctx ends, since storing without knowing could undo an erasure.
func (w *worker) dropErased(ctx context.Context, b *batch) error {
	if w.s.erasures == nil {
		return nil // a Store made without New, in tests
	}
	for attempt := 0; ; attempt++ {
		err := w.s.erasures.Sync(ctx)
		if err == nil {
			break
		}
		if attempt%10 == 0 {
			w.s.log.Warn("cannot read the erasure tombstones; the batch waits (the store's NATS user needs read access to the kv bucket vakt_subjects, see configs/nats-accounts.conf)",
				"worker", w.id, "err", err)
		}
		if !sleep(ctx, 500*time.Millisecond) {
			return err
		}
	}
	if !w.s.erasures.Any() {
		return nil
	}
	r := &b.rows
	keep := make([]bool, r.n)
	dropped := 0
	for i := range r.n {
		keep[i] = !w.s.erasures.Drop(r.epoch[i], r.clientID[i], r.ts[i])
		if !keep[i] {
			dropped++
		}
	}
	if dropped > 0 {
		r.keep(keep)
		w.s.log.Info("events of erased clients dropped", "worker", w.id, "events", dropped)
	}
	return nil
}

// erased reports whether e is of a client erased since (tombstones as of
// the last dropErased).
func (w *worker) erased(e *event.Event) bool {
	return w.s.erasures != nil && w.s.erasures.Any() && w.s.erasures.Drop(e.Epoch, e.ClientID, e.Time.UnixMilli())
}

func compact[T any](s []T, keep []bool) []T {
	n := 0
	for i, k := range keep {
		if k {
			s[n] = s[i]
			n++
		}
	}
	var zero T
	for i := n; i < len(s); i++ {
		s[i] = zero
	}
	return s[:n]
}
