package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/event"
)

// Messages another store replica may be storing at the same time ("at
// risk") are not inserted with the batch. Those are the messages NATS
// delivered again (the replica that held them before may still be
// inserting them), and every message of a batch whose lease lapsed (NATS
// may have handed them to another replica meanwhile). Each such message is
// looked up by its ingest batch key just before it is stored, and each of
// its days not stored yet is inserted on its own, under a token derived
// from the key, the day and the payload: whichever replicas race to store
// it, ClickHouse keeps the first insert and drops the others, atomically.
// A token of the whole batch could not do that, since each replica's
// batch holds other messages.

// prepare readies the batch for its first insert, once per batch (a
// retried insert must send the same rows under its token): it takes the
// rows of the at-risk messages out, and those of ingest batches stored
// already (dropStored).
func (w *worker) prepare(ctx context.Context, b *batch) error {
	if b.split {
		return nil
	}
	if !b.lease.held(time.Now()) {
		w.s.log.Warn("the batch's ack wait may have run out (NATS unreachable while it was held); its messages are stored one by one, each checked against what is stored already",
			"worker", w.id, "messages", len(b.msgs))
		for _, m := range b.msgs {
			if key := batchKeyOf(m); key != 0 {
				b.markAtRisk(key)
			}
		}
	}
	r := &b.rows
	if len(b.atRisk) > 0 {
		keep := make([]bool, r.n)
		for i := range r.n {
			_, risky := b.atRisk[r.batchKey[i]]
			keep[i] = !risky
		}
		r.keep(keep)
	}
	if err := w.dropStored(ctx, r); err != nil {
		return err
	}
	b.split = true
	return nil
}

// dropStored removes the rows of ingest batches found stored already, with
// one query for the whole batch. A message can come again with nothing to
// say so: when the node leading the consumer dies before the others heard
// of a delivery, the new leader delivers the message as if for the first
// time, though the store that had it may have inserted it (its acks then
// fail).
func (w *worker) dropStored(ctx context.Context, r *rows) error {
	keys, sites := map[uint64]bool{}, map[string]bool{}
	var lo, hi int64
	for i := range r.n {
		if r.batchKey[i] == 0 {
			continue
		}
		if len(keys) == 0 || r.ts[i] < lo {
			lo = r.ts[i]
		}
		if len(keys) == 0 || r.ts[i] > hi {
			hi = r.ts[i]
		}
		keys[r.batchKey[i]], sites[r.site[i]] = true, true
	}
	if len(keys) == 0 {
		return nil
	}
	var found map[keyDay]bool
	for attempt := 0; ; attempt++ {
		qctx, cancel := context.WithTimeout(ctx, w.s.cfg.InsertTimeout)
		var err error
		found, err = w.s.ins.stored(qctx, slices.Collect(maps.Keys(keys)), slices.Collect(maps.Keys(sites)), lo, hi)
		cancel()
		if err == nil {
			break
		}
		if attempt%10 == 0 {
			w.s.log.Warn("cannot check whether the batch is stored already; retrying", "worker", w.id, "err", err)
		}
		if !sleep(ctx, jitter(minRetryBackoff*5)) {
			return err
		}
	}
	if len(found) == 0 {
		return nil
	}
	keep := make([]bool, r.n)
	dropped := 0
	for i := range r.n {
		keep[i] = !found[keyDay{r.batchKey[i], unixDay(time.UnixMilli(r.ts[i]))}]
		if !keep[i] {
			dropped++
		}
	}
	r.keep(keep)
	w.s.duplicates.Add(uint64(dropped))
	w.s.m.Duplicates.WithLabelValues(stage).Inc()
	w.s.log.Info("events found stored already (delivered again); skipped", "worker", w.id, "events", dropped)
	return nil
}

// storeAtRisk stores each at-risk message of the batch on its own.
func (w *worker) storeAtRisk(ctx context.Context, b *batch) error {
	// Each key once, in the order the messages came.
	done := map[uint64]bool{}
	for _, m := range b.msgs {
		key := batchKeyOf(m)
		if _, risky := b.atRisk[key]; !risky || done[key] {
			continue
		}
		if err := w.storeAlone(ctx, m, key); err != nil {
			return err
		}
		done[key] = true
		delete(b.atRisk, key) // stored: a retried commit skips it
	}
	return nil
}

// storeAlone inserts the days of msg that are not stored yet, one insert
// per day under a token of the key, the day and the payload.
func (w *worker) storeAlone(ctx context.Context, msg jetstream.Msg, key uint64) error {
	stored, err := w.lookUp(ctx, key, msg)
	if err != nil {
		return err
	}
	days := map[int64]int{}
	_ = event.RangeEvents(msg.Data(), func(e *event.Event) error {
		days[unixDay(e.Time)]++
		return nil
	})
	digest := sha256.Sum256(msg.Data())
	for _, day := range slices.Sorted(maps.Keys(days)) {
		if stored[day] {
			w.duplicate(msg, days[day])
			continue
		}
		var r rows
		_ = event.RangeEvents(msg.Data(), func(e *event.Event) error {
			if unixDay(e.Time) == day && !w.erased(e) {
				r.add(e, key)
			}
			return nil
		})
		if r.len() == 0 {
			continue
		}
		token := "vakt-k-" + strconv.FormatUint(key, 16) + "-" + strconv.FormatInt(day, 10) + "-" + hex.EncodeToString(digest[:10])
		if err := w.insert(ctx, token, &r); err != nil {
			return err
		}
		w.committed(r.len())
	}
	return nil
}

// lookUp finds the days of msg's ingest batch that are stored already,
// retrying until it knows or ctx ends: storing without knowing could
// store them twice.
func (w *worker) lookUp(ctx context.Context, key uint64, msg jetstream.Msg) (map[int64]bool, error) {
	for attempt := 0; ; attempt++ {
		stored, err := w.storedDays(ctx, key, msg)
		if err == nil {
			return stored, nil
		}
		if attempt%10 == 0 {
			w.s.log.Warn("cannot check whether a batch delivered again is stored; retrying", "worker", w.id, "err", err)
		}
		if !sleep(ctx, jitter(minRetryBackoff*5)) {
			return nil, err
		}
	}
}
