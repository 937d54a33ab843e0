package store

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
)

// rssBytes is the process's resident set size (Linux), 0 elsewhere.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestOutage30s (acceptance 3, takes about 45 s): the store's ClickHouse
// endpoint is unreachable for 30 seconds while events keep arriving at
// 5,000 a second. Meanwhile the store holds one batch per worker and pulls
// nothing more (the events wait in JetStream), so its memory stays flat;
// afterwards every event is stored exactly once, in the rows and the
// rollups.
func TestOutage30s(t *testing.T) {
	if testing.Short() {
		t.Skip("30-second outage: skipped with -short")
	}
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	const ackWait = 5 * time.Second
	js := startNATS(t, ackWait)
	proxy := newFaultProxy(t, addr)
	cfg := storeConfig(proxy.addr, db)
	cfg.Workers = 2
	cfg.BatchRows = 10_000
	cfg.FlushInterval = time.Second
	cfg.MaxRetryBackoff = 2 * time.Second
	s := runStore(t, cfg, js, openCHViaProxy(t, proxy))

	// The publisher: 5,000 events a second in messages of 100, each event
	// with a path of its own so that duplicates would show. Publishing is
	// asynchronous and paced by the clock, so a slow acknowledgement does
	// not slow the load down.
	const per, rate = 100, 5000
	var published atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		for n := 0; ; n++ {
			for float64(n*per) > time.Since(start).Seconds()*rate {
				select {
				case <-stop:
					select {
					case <-js.PublishAsyncComplete():
					case <-time.After(10 * time.Second):
						t.Error("asynchronous publishes not acknowledged")
					}
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
			var b []byte
			evs := varied(uint64(n), per, time.Now().Add(-time.Minute), time.Minute)
			for i := range evs {
				evs[i].Path = "/o/" + strconv.Itoa(n*per+i)
				b = event.AppendEvent(b, &evs[i])
			}
			msg := &nats.Msg{Subject: bus.EventsSubject("example.org"), Data: b, Header: nats.Header{}}
			msg.Header.Set(jetstream.MsgIDHeader, "o"+strconv.Itoa(n))
			if _, err := js.PublishMsgAsync(msg); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			published.Add(per)
		}
	})

	time.Sleep(3 * time.Second) // the scenario: steady load before the outage
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapBefore, rssBefore := ms.HeapAlloc, rssBytes()
	proxy.down.Store(true)
	outageStart := time.Now()
	rowsAtStart := s.Stats().Rows
	var maxHeap, maxRSS uint64
	maxHeld := 0
	for time.Since(outageStart) < 30*time.Second {
		time.Sleep(500 * time.Millisecond) // the outage lasts 30 s: sample memory every half second
		runtime.ReadMemStats(&ms)
		maxHeap, maxRSS = max(maxHeap, ms.HeapAlloc), max(maxRSS, rssBytes())
		maxHeld = max(maxHeld, consumerInfo(t, js).NumAckPending)
	}
	info := consumerInfo(t, js)
	duringOutage := published.Load()
	rowsStoredInOutage := s.Stats().Rows - rowsAtStart
	proxy.down.Store(false)
	outage := time.Since(outageStart)

	time.Sleep(5 * time.Second) // load continues after recovery
	close(stop)
	wg.Wait()
	waitDrained(t, js)
	recovered := time.Since(outageStart) - outage

	n := uint64(published.Load())
	t.Logf("outage %s: %d events published in all, %d waiting in JetStream at its end; store held at most %d messages; %d during the outage",
		outage.Round(time.Second), n, info.NumPending, maxHeld, rowsStoredInOutage)
	t.Logf("Go heap %.1f MiB before, at most %.1f MiB during the outage; RSS (with the engine and nats-server in this process) %.0f MiB before, at most %.0f MiB",
		float64(heapBefore)/(1<<20), float64(maxHeap)/(1<<20), float64(rssBefore)/(1<<20), float64(maxRSS)/(1<<20))
	t.Logf("drained %s after recovery; %d insert errors retried", recovered.Round(100*time.Millisecond), s.Stats().InsertErrors)

	// Bounded: the store holds at most one batch per worker (plus one pull's
	// overshoot each), however long the outage.
	if limit := cfg.Workers * (cfg.BatchRows/per + maxFetchMessages); maxHeld > limit {
		t.Errorf("the store held %d messages during the outage; its batches allow %d", maxHeld, limit)
	}
	if info.NumPending < uint64(duringOutage/per)/2 {
		t.Errorf("only %d messages waited in JetStream: the store kept pulling during the outage", info.NumPending)
	}
	if maxHeap > heapBefore+96<<20 {
		t.Errorf("Go heap grew from %d to %d bytes during the outage", heapBefore, maxHeap)
	}
	// Exactly once, in every table.
	var rowsN, distinct uint64
	if err := conn.QueryRow(t.Context(), "SELECT count(), uniqExact(path) FROM "+tableName(db, RequestsTable)).Scan(&rowsN, &distinct); err != nil {
		t.Fatal(err)
	}
	if rowsN != n || distinct != n {
		t.Fatalf("%d rows, %d distinct, for %d events published", rowsN, distinct, n)
	}
	if got := tableTotals(t, conn, db); got != (totals{n, n, n}) {
		t.Fatalf("totals %+v, want %d in every table", got, n)
	}
	if n < 150_000 {
		t.Errorf("only %d events published: not the load intended", n)
	}
}
