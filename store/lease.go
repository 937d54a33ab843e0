package store

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lease is how long NATS keeps a batch's messages for this worker: until
// the consumer's ack wait has passed since the last extension it
// confirmed (or since the fetch that delivered the first message). Past
// that, NATS may hand them to another store replica, which could insert
// them at the same time as this one. A lease that ran out stays lapsed for
// the batch: a later confirmation may come from a node that no longer
// leads the consumer (one paused or cut off from the cluster), while the
// new leader has redelivered already.
type lease struct {
	wait time.Duration // the consumer's ack wait; 0: no lease (tests)

	mu     sync.Mutex
	from   time.Time
	lapsed bool
}

// start begins the lease of a new batch whose first message came from a
// fetch issued at t (the server delivered it after t).
func (l *lease) start(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.from, l.lapsed = t, false
}

// extended records an extension sent at sent and confirmed by the server.
func (l *lease) extended(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wait == 0 || l.lapsed {
		return
	}
	if sent.After(l.from.Add(l.wait)) {
		l.lapsed = true
		return
	}
	l.from = sent
}

// held reports whether the batch is still safely this worker's at now:
// the lease has a third of the ack wait left at least, room for an insert
// to finish before NATS could redeliver.
func (l *lease) held(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wait == 0 {
		return true
	}
	if !l.lapsed && now.After(l.from.Add(l.wait*2/3)) {
		l.lapsed = true
	}
	return !l.lapsed
}

// extendFunc asks NATS to restart a message's ack wait and returns once the
// server confirmed it.
type extendFunc func(ctx context.Context, m jetstream.Msg) error

// confirmedProgress sends "+WPI" as a request on the message's reply
// subject: the consumer's leader answers, so a success means the ack wait
// was restarted (jetstream.Msg.InProgress does not wait for an answer).
func confirmedProgress(nc *nats.Conn) extendFunc {
	return func(ctx context.Context, m jetstream.Msg) error {
		_, err := nc.RequestWithContext(ctx, m.Reply(), []byte("+WPI"))
		return err
	}
}

// unconfirmedProgress is for a Store made without a NATS connection (tests).
func unconfirmedProgress(_ context.Context, m jetstream.Msg) error { return m.InProgress() }

// keepInProgress extends the ack wait of msgs every interval, so that a
// long retry does not let it expire (a commit that takes less costs no
// request), and records in l each round the server confirmed for every
// message. stop waits for the goroutine, so no extension can race the
// acks that follow.
func keepInProgress(msgs []jetstream.Msg, every time.Duration, extend extendFunc, l *lease, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	round := func() {
		sent := time.Now()
		rctx, rcancel := context.WithTimeout(ctx, every)
		defer rcancel()
		failed := eachMsg(msgs, func(m jetstream.Msg) error { return extend(rctx, m) })
		if failed > 0 {
			if ctx.Err() == nil {
				log.Warn("extending ack wait failed", "messages", failed, "of", len(msgs))
			}
			return
		}
		l.extended(sent)
	}
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				round()
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}
