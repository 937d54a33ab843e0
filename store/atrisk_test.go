package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
)

// TestRacingReplicasStoreOnce: replica A holds messages while NATS cannot
// be reached for longer than the ack wait, so NATS redelivers one of them
// to replica B; both go on to store it, neither seeing the other's rows
// yet. Each stores the message on its own under a token of its batch key
// and payload, so it lands once; the rest of each batch lands too.
func TestRacingReplicasStoreOnce(t *testing.T) {
	t.Parallel()
	ins := &flakyInserter{}
	cfg := Config{ClickHouse: ClickHouseConfig{Addr: []string{"x:1"}}}.withDefaults()
	s := &Store{cfg: cfg, ins: ins, log: discardLogger(), m: metrics.New()}
	a, b := racingReplicas(s, s)
	a.add(&fakeMsg{id: "1", batch: "g:0-100", data: batchMsg(0, 5)})
	a.add(&fakeMsg{id: "2", batch: "g:100-200", data: batchMsg(5, 4)})
	b.add(&fakeMsg{id: "1", batch: "g:0-100", delivered: 2, data: batchMsg(0, 5)})
	b.add(&fakeMsg{id: "3", batch: "g:200-300", data: batchMsg(9, 3)})
	commitTogether(t, a, b)
	if ins.rows != 5+4+3 {
		t.Errorf("%d rows stored, want 12 (messages 1, 2 and 3 once each)", ins.rows)
	}
	if st := s.Stats(); st.Rows < 12 {
		t.Errorf("Stats().Rows = %d, want at least 12", st.Rows)
	}
}

// TestLeaseLapseIsFinal: once the ack wait may have run out, a later
// confirmation (from a node that may no longer lead the consumer) does not
// make the batch safe again.
func TestLeaseLapseIsFinal(t *testing.T) {
	t0 := time.Now()
	l := lease{wait: 3 * time.Second}
	l.start(t0)
	if !l.held(t0.Add(time.Second)) {
		t.Fatal("lease not held 1 s into a 3 s ack wait")
	}
	l.extended(t0.Add(time.Second))
	if !l.held(t0.Add(2500 * time.Millisecond)) {
		t.Fatal("lease not held 1.5 s after a confirmed extension")
	}
	l.extended(t0.Add(5 * time.Second)) // more than the ack wait after the last one
	if l.held(t0.Add(5 * time.Second)) {
		t.Fatal("lease held after a gap longer than the ack wait")
	}
	l.extended(t0.Add(5500 * time.Millisecond))
	if l.held(t0.Add(5600 * time.Millisecond)) {
		t.Fatal("a lapsed lease came back with a later confirmation")
	}
	l.start(t0.Add(6 * time.Second)) // the next batch
	if !l.held(t0.Add(6 * time.Second)) {
		t.Fatal("a new batch starts with a lapsed lease")
	}
}

// TestRacingReplicasOnEngine: the race of TestRacingReplicasStoreOnce on
// the engine, five times over, with a message whose events span midnight
// (two partitions, so two inserts per replica). Replica A inserts only once
// replica B has looked the message up, so B cannot see A's rows. Then a
// third replica that gets the message once more finds both days stored and
// inserts nothing.
func TestRacingReplicasOnEngine(t *testing.T) {
	t.Parallel()
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	cfg := storeConfig(addr, db).withDefaults()
	engine := newCHInserter(conn, db, false)
	midnight := time.Now().UTC().Truncate(24 * time.Hour) // within the retention
	spanning := func(round int) []byte {
		var b []byte
		for i := range 10 {
			e := testEvent(round*100 + i)
			e.Time = midnight.Add(time.Duration(i-5) * time.Minute)
			b = event.AppendEvent(b, &e)
		}
		return b
	}
	var want uint64
	for round := range 5 {
		lookedUp := make(chan struct{})
		sA := &Store{cfg: cfg, ins: &afterLookup{inserter: engine, lookedUp: lookedUp}, log: discardLogger(), m: metrics.New()}
		sB := &Store{cfg: cfg, ins: &signalLookup{inserter: engine, lookedUp: lookedUp}, log: discardLogger(), m: metrics.New()}
		a, b := racingReplicas(sA, sB)
		key := func(n int) string { return fmt.Sprintf("g%d:%d", round, n) }
		a.add(&fakeMsg{id: key(1), batch: key(1), data: spanning(round)})
		a.add(&fakeMsg{id: key(2), batch: key(2), data: batchMsg(round*100+20, 4)})
		b.add(&fakeMsg{id: key(1), batch: key(1), delivered: 2, data: spanning(round)})
		b.add(&fakeMsg{id: key(3), batch: key(3), data: batchMsg(round*100+30, 3)})
		commitTogether(t, a, b)
		want += 10 + 4 + 3
		if n := count(t, conn, db); n != want {
			t.Fatalf("round %d: %d rows, want %d", round, n, want)
		}
	}
	s := &Store{cfg: cfg, ins: engine, log: discardLogger(), m: metrics.New()}
	c := &worker{s: s, id: 2, keepAlive: time.Second, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	c.add(&fakeMsg{id: "g0:1", batch: "g0:1", delivered: 3, data: spanning(0)})
	if err := c.commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, db); n != want {
		t.Errorf("a third delivery stored again: %d rows, want %d", n, want)
	}
	if d := s.Stats().Duplicates; d != 10 {
		t.Errorf("a third delivery counted %d duplicates, want 10", d)
	}

	// A new consumer leader that never heard of the earlier deliveries
	// hands the message out as if for the first time, with another: the
	// batch's lookup finds it stored and only the other is inserted.
	d := &worker{s: s, id: 3, keepAlive: time.Second, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	d.add(&fakeMsg{id: "g1:1", batch: "g1:1", data: spanning(1)})
	d.add(&fakeMsg{id: "g9:1", batch: "g9:1", data: batchMsg(900, 6)})
	if err := d.commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, conn, db); n != want+6 {
		t.Errorf("a first-time delivery of a stored message: %d rows, want %d", n, want+6)
	}
}

// afterLookup inserts only once the other replica has looked its message
// up (or after 10 s, should it never).
type afterLookup struct {
	inserter
	lookedUp chan struct{}
}

func (a *afterLookup) insert(ctx context.Context, token string, r *rows) error {
	select {
	case <-a.lookedUp:
	case <-time.After(10 * time.Second):
	}
	return a.inserter.insert(ctx, token, r)
}

// signalLookup tells afterLookup its first lookup is done.
type signalLookup struct {
	inserter
	lookedUp chan struct{}
	once     sync.Once
}

func (s *signalLookup) stored(ctx context.Context, keys []uint64, sites []string, lo, hi int64) (map[keyDay]bool, error) {
	days, err := s.inserter.stored(ctx, keys, sites, lo, hi)
	s.once.Do(func() { close(s.lookedUp) })
	return days, err
}

// racingReplicas are two store workers: a, cut off from NATS (its ack-wait
// extensions fail) long enough for its lease to have run out, and b, to
// which NATS redelivers a's messages.
func racingReplicas(sa, sb *Store) (a, b *worker) {
	unreachable := func(context.Context, jetstream.Msg) error { return nats.ErrTimeout }
	a = &worker{s: sa, id: 0, keepAlive: 20 * time.Millisecond, extend: unreachable, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	b = &worker{s: sb, id: 1, keepAlive: 20 * time.Millisecond, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	a.b.lease.wait, b.b.lease.wait = 300*time.Millisecond, 300*time.Millisecond
	a.fetched, b.fetched = time.Now().Add(-time.Second), time.Now()
	return a, b
}

// commitTogether commits the workers' batches at the same time.
func commitTogether(t *testing.T, ws ...*worker) {
	t.Helper()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			if err := w.commit(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
