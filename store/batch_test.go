package store

import (
	"context"
	"errors"
	"math"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
)

// fakeMsg is a jetstream.Msg that records what was done to it.
type fakeMsg struct {
	id        string
	data      []byte
	seq       uint64
	batch     string // bus.HeaderBatch
	replay    bool   // bus.HeaderReplay
	delivered uint64 // NumDelivered, 1 when 0
	records   int    // bus.HeaderRecords, when not 0

	mu                          sync.Mutex
	acks, naks, terms, progress int
	ackedAt                     time.Time
}

var _ jetstream.Msg = (*fakeMsg)(nil)

func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq}, NumDelivered: max(m.delivered, 1)}, nil
}
func (m *fakeMsg) Data() []byte { return m.data }
func (m *fakeMsg) Headers() nats.Header {
	h := nats.Header{}
	if m.id != "" {
		h.Set(jetstream.MsgIDHeader, m.id)
	}
	if m.batch != "" {
		h.Set(bus.HeaderBatch, m.batch)
	}
	if m.replay {
		h.Set(bus.HeaderReplay, "1")
	}
	if m.records != 0 {
		h.Set(bus.HeaderRecords, strconv.Itoa(m.records))
	}
	return h
}
func (m *fakeMsg) Subject() string { return "vakt.events.test" }
func (m *fakeMsg) Reply() string   { return "" }
func (m *fakeMsg) Ack() error      { return m.DoubleAck(context.Background()) }
func (m *fakeMsg) DoubleAck(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks++
	m.ackedAt = time.Now()
	return nil
}
func (m *fakeMsg) Nak() error                       { m.mu.Lock(); m.naks++; m.mu.Unlock(); return nil }
func (m *fakeMsg) NakWithDelay(time.Duration) error { return m.Nak() }
func (m *fakeMsg) InProgress() error                { m.mu.Lock(); m.progress++; m.mu.Unlock(); return nil }
func (m *fakeMsg) Term() error                      { m.mu.Lock(); m.terms++; m.mu.Unlock(); return nil }
func (m *fakeMsg) TermWithReason(string) error      { return m.Term() }

func (m *fakeMsg) counts() (acks, naks, terms, progress int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acks, m.naks, m.terms, m.progress
}

// testBase is recent: rows older than the table's TTL are dropped on sight.
var testBase = time.Now().Add(-2 * time.Hour).Truncate(time.Hour)

// testRows is the first n synthetic events as a batch's rows.
func testRows(n int) *rows {
	r := &rows{}
	for i := range n {
		e := testEvent(i)
		r.add(&e, 0)
	}
	return r
}

// testEvent returns the i-th synthetic event; its time has a microsecond
// part, which a DateTime64(3) column cuts off.
func testEvent(i int) event.Event {
	return event.Event{
		Time:         testBase.Add(time.Duration(i) * 1_234_567 * time.Microsecond).UTC(),
		Site:         "example.org",
		ClientID:     uint64(i) * 0x9e3779b97f4a7c15,
		NetworkID:    uint64(i%7) * 0x51_7cc1_b727_220a,
		IPVersion:    4 + 2*uint8(i%2),
		Epoch:        20_000 + uint32(i%3),
		Country:      []string{"", "DE", "SE", "US"}[i%4],
		ASN:          uint32(64_500 + i%10),
		ASOrg:        "Example AS",
		Method:       []string{"GET", "POST", "HEAD"}[i%3],
		Path:         "/item/" + strconv.Itoa(i),
		Query:        "q=" + strconv.Itoa(i%5),
		Protocol:     "HTTP/1.1",
		Status:       []uint16{200, 404, 500, 301}[i%4],
		Bytes:        uint64(i * 100),
		Referrer:     "https://ref.example/",
		UserAgent:    "test-agent/1.0",
		Host:         "example.org",
		RequestTime:  []time.Duration{event.Unknown, 0, 1500 * time.Microsecond}[i%3],
		UpstreamTime: []time.Duration{event.Unknown, 250 * time.Millisecond}[i%2],
		Flags:        event.Flags(i % 512),
		Signature:    []string{"", "", "log4shell", "webshell"}[i%4],
	}
}

// batchMsg encodes events [from, from+n) as one message.
func batchMsg(from, n int) []byte {
	var b []byte
	for i := from; i < from+n; i++ {
		e := testEvent(i)
		b = event.AppendEvent(b, &e)
	}
	return b
}

func TestBatchToken(t *testing.T) {
	a := &fakeMsg{id: "a", data: []byte("one")}
	b := &fakeMsg{id: "b", data: []byte("two")}
	aOther := &fakeMsg{id: "a", data: []byte("other")}
	noID := &fakeMsg{data: []byte("one")}
	noIDSame := &fakeMsg{data: []byte("one"), seq: 99}
	// Length-prefixing keeps ("ab","") and ("a","b") apart.
	ab := &fakeMsg{id: "ab"}
	empty := &fakeMsg{}
	aNoData := &fakeMsg{id: "a"}
	bNoData := &fakeMsg{id: "b"}

	tok := func(m ...jetstream.Msg) string { return batchToken(m) }
	tests := []struct {
		name  string
		x, y  string
		equal bool
	}{
		{"deterministic", tok(a, b), tok(a, b), true},
		{"order matters", tok(a, b), tok(b, a), false},
		{"payload matters under a reused id", tok(a), tok(aOther), false},
		{"id matters", tok(a), tok(noID), false},
		{"without ids the payload decides", tok(noID), tok(noIDSame), true},
		{"membership matters", tok(a), tok(a, b), false},
		{"ids are delimited", tok(ab, empty), tok(aNoData, bNoData), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.x == tt.y) != tt.equal {
				t.Errorf("tokens %s and %s: equal=%v, want %v", tt.x, tt.y, tt.x == tt.y, tt.equal)
			}
		})
	}
	if got := tok(a, b); len(got) != len("vakt-")+40 {
		t.Errorf("token %q has unexpected length", got)
	}
}

// TestDefaultBatchBytesFollowsMemoryLimit: with GOMEMLIMIT set, the
// default batch is a sixteenth of it (within 4 and 64 MiB), so a process
// told to stay small holds small batches; unset, it is 64 MiB.
func TestDefaultBatchBytesFollowsMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		want  int
	}{
		{math.MaxInt64, 64 << 20},
		{4 << 30, 64 << 20},
		{256 << 20, 16 << 20},
		{32 << 20, 4 << 20},
		{1, 4 << 20},
	} {
		if got := defaultBatchBytes(tc.limit); got != tc.want {
			t.Errorf("defaultBatchBytes(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
	old := debug.SetMemoryLimit(256 << 20)
	defer debug.SetMemoryLimit(old)
	if got := Defaults().BatchBytes; got != 16<<20 {
		t.Errorf("Defaults().BatchBytes under a 256 MiB limit = %d, want %d", got, 16<<20)
	}
}

func TestBatchDue(t *testing.T) {
	cfg := Config{BatchRows: 100, BatchBytes: 1 << 20, FlushInterval: time.Second}.withDefaults()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		msgs   []int // records per message
		now    time.Duration
		bytes  int // overrides the batch's byte estimate when > 0
		wantDo bool
	}{
		{"empty never due", nil, time.Hour, 0, false},
		{"small and fresh", []int{10}, 0, 0, false},
		{"just below rows", []int{50, 49}, 999 * time.Millisecond, 0, false},
		{"rows reached", []int{60, 40}, 0, 0, true},
		{"rows overshot", []int{99, 50}, 0, 0, true},
		{"bytes reached", []int{1}, 0, 1 << 20, true},
		{"interval elapsed", []int{1}, time.Second, 0, true},
		{"empty message still flushes on time", []int{0}, time.Second, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b batch
			from := 0
			for _, n := range tt.msgs {
				if _, _, err := b.add(&fakeMsg{data: batchMsg(from, n)}, t0, 0, nil); err != nil {
					t.Fatal(err)
				}
				from += n
			}
			if tt.bytes > 0 {
				b.rows.size = tt.bytes
			}
			if got := b.due(t0.Add(tt.now), &cfg); got != tt.wantDo {
				t.Errorf("due = %v, want %v (rows %d, bytes %d)", got, tt.wantDo, b.rows.len(), b.rows.size)
			}
		})
	}
}

func TestBatchAddCorruptLeavesBatchUnchanged(t *testing.T) {
	var b batch
	now := time.Now()
	if _, _, err := b.add(&fakeMsg{data: batchMsg(0, 3)}, now, 0, nil); err != nil {
		t.Fatal(err)
	}
	size := b.rows.size
	// Two good records, then garbage: the good ones must not stay behind.
	bad := append(batchMsg(3, 2), 0xff, 0xff, 0xff)
	n, _, err := b.add(&fakeMsg{data: bad}, now, 0, nil)
	if !errors.Is(err, event.ErrCorrupt) {
		t.Fatalf("add(corrupt) = %d, %v; want ErrCorrupt", n, err)
	}
	if b.rows.len() != 3 || len(b.msgs) != 1 || b.rows.size != size {
		t.Errorf("after corrupt message: %d rows, %d msgs, %d bytes; want 3, 1, %d", b.rows.len(), len(b.msgs), b.rows.size, size)
	}
	for i, col := range b.rows.columns() {
		if l := colLen(col); l != 3 {
			t.Errorf("column %s has %d values, want 3", insertColumns[i].name, l)
		}
	}
}

func colLen(v any) int {
	switch c := v.(type) {
	case []int64:
		return len(c)
	case []string:
		return len(c)
	case []uint64:
		return len(c)
	case []uint32:
		return len(c)
	case []uint16:
		return len(c)
	case []uint8:
		return len(c)
	case []*float32:
		return len(c)
	}
	return -1
}

func TestRowsValues(t *testing.T) {
	r := testRows(3)
	cols := r.columns()
	if len(cols) != len(insertColumns) {
		t.Fatalf("%d columns, want %d", len(cols), len(insertColumns))
	}
	rt := cols[18].([]*float32)
	if rt[0] != nil || rt[1] == nil || *rt[1] != 0 || rt[2] == nil || *rt[2] != 0.0015 {
		t.Errorf("request_time = %v %v %v; want NULL, 0, 0.0015", rt[0], rt[1], rt[2])
	}
	ut := cols[19].([]*float32)
	if ut[0] != nil || ut[1] == nil || *ut[1] != 0.25 {
		t.Errorf("upstream_time = %v %v; want NULL, 0.25", ut[0], ut[1])
	}
	if ts := cols[0].([]int64); ts[1] != testEvent(1).Time.UnixMilli() {
		t.Errorf("ts[1] = %d, want %d", ts[1], testEvent(1).Time.UnixMilli())
	}
	r.reset()
	if r.len() != 0 || r.size != 0 {
		t.Errorf("after reset: %d rows, %d bytes", r.len(), r.size)
	}
}

func TestConfigValidate(t *testing.T) {
	ch := ClickHouseConfig{Addr: []string{"127.0.0.1:9000"}}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{ClickHouse: ch}, ""},
		{"http", Config{ClickHouse: ClickHouseConfig{Addr: []string{"127.0.0.1:8123"}, Protocol: "http"}}, ""},
		{"no address", Config{}, "clickhouse.addr: no address"},
		{"bad address", Config{ClickHouse: ClickHouseConfig{Addr: []string{"localhost"}}}, `clickhouse.addr: "localhost" is not host:port`},
		{"protocol", Config{ClickHouse: ClickHouseConfig{Addr: ch.Addr, Protocol: "grpc"}}, `clickhouse.protocol: "grpc" is unknown`},
		{"databases disagree", Config{ClickHouse: ClickHouseConfig{Addr: ch.Addr, Database: "a"}, Schema: SchemaConfig{Database: "b"}}, "store.schema.database"},
		{"ttl", Config{ClickHouse: ch, Schema: SchemaConfig{RequestsTTL: 90 * time.Minute}}, "retention.requests: 1h30m0s is shorter than one day"},
		{"batch rows negative", Config{ClickHouse: ch, BatchRows: -1}, "store.batch_rows"},
		{"batch rows above one block", Config{ClickHouse: ch, BatchRows: 2_000_000}, "store.batch_rows: 2000000 is out of range"},
		{"batch bytes", Config{ClickHouse: ch, BatchBytes: 10}, "store.batch_bytes"},
		{"flush interval", Config{ClickHouse: ch, FlushInterval: time.Millisecond}, "store.flush_interval"},
		{"backoff", Config{ClickHouse: ch, MaxRetryBackoff: time.Millisecond}, "store.max_retry_backoff"},
		{"insert timeout", Config{ClickHouse: ch, InsertTimeout: time.Millisecond}, "store.insert_timeout"},
		{"workers", Config{ClickHouse: ch, Workers: 100}, "store.workers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.cfg.Validate(), tt.wantErr)
		})
	}
	if d := (Config{ClickHouse: ClickHouseConfig{Database: "logs"}}).withDefaults(); d.Schema.Database != "logs" {
		t.Errorf("schema database defaults to %q, want the clickhouse database", d.Schema.Database)
	}
}

// flakyInserter fails its first failures attempts, then records the batch.
type flakyInserter struct {
	failures int
	msgs     []*fakeMsg // must all be unacked during every attempt

	mu       sync.Mutex
	attempts int
	tokens   []string
	rows     int
	unacked  bool
	// storedDays are the days stored per batch key, for stored.
	storedDays map[uint64]map[int64]bool
	lookups    int
	// committed are the tokens of inserts that committed: like
	// ClickHouse, an insert under one of them stores nothing again.
	committed map[string]bool
}

func (f *flakyInserter) stored(_ context.Context, keys []uint64, _ []string, _, _ int64) (map[keyDay]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	out := map[keyDay]bool{}
	for _, k := range keys {
		for d := range f.storedDays[k] {
			out[keyDay{k, d}] = true
		}
	}
	return out, nil
}

func (f *flakyInserter) insert(_ context.Context, token string, r *rows) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	f.tokens = append(f.tokens, token)
	for _, m := range f.msgs {
		if a, _, _, _ := m.counts(); a > 0 {
			f.unacked = false
			return errors.New("a message was acked before its insert committed")
		}
	}
	f.unacked = true
	if f.attempts <= f.failures {
		return errors.New("server unavailable")
	}
	if !f.committed[token] {
		f.rows += r.len()
	}
	if f.committed == nil {
		f.committed = map[string]bool{}
	}
	f.committed[token] = true
	return nil
}

// TestCommitRetriesThenAcks: a failing insert is retried with the same
// token, the messages are kept in progress meanwhile and acked only after
// the commit.
func TestCommitRetriesThenAcks(t *testing.T) {
	t.Parallel()
	msgs := []*fakeMsg{{id: "1", data: batchMsg(0, 5)}, {id: "2", data: batchMsg(5, 0)}, {id: "3", data: batchMsg(5, 7)}}
	ins := &flakyInserter{failures: 3, msgs: msgs}
	cfg := Config{ClickHouse: ClickHouseConfig{Addr: []string{"x:1"}}, MaxRetryBackoff: 200 * time.Millisecond}.withDefaults()
	s := &Store{cfg: cfg, ins: ins, log: discardLogger(), m: metrics.New()}
	w := &worker{s: s, keepAlive: 20 * time.Millisecond, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	for _, m := range msgs {
		w.add(m)
	}
	start := time.Now()
	if err := w.commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ins.attempts != 4 || ins.rows != 12 || !ins.unacked {
		t.Errorf("attempts %d rows %d unacked-during-insert %v; want 4, 12, true", ins.attempts, ins.rows, ins.unacked)
	}
	for _, tok := range ins.tokens {
		if tok != ins.tokens[0] {
			t.Errorf("retry used token %s, first attempt %s", tok, ins.tokens[0])
		}
	}
	// Backoffs of ~100, 200, 200 ms (capped) with ±20% jitter.
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("three retries took %s; backoff not applied", el)
	}
	for _, m := range msgs {
		acks, naks, terms, progress := m.counts()
		if acks != 1 || naks != 0 || terms != 0 || progress == 0 {
			t.Errorf("msg %s: acks %d naks %d terms %d in-progress %d; want 1, 0, 0, >0", m.id, acks, naks, terms, progress)
		}
	}
	if st := s.Stats(); st.Rows != 12 || st.Batches != 1 || st.InsertErrors != 3 {
		t.Errorf("stats %+v", st)
	}
	if len(w.b.msgs) != 0 || w.b.rows.len() != 0 {
		t.Errorf("batch not reset after commit")
	}
}

// TestShutdownNaksWhatCannotBeStored: when the final flush cannot commit
// within ShutdownTimeout, the messages go back to NATS at once, unacked.
func TestShutdownNaksWhatCannotBeStored(t *testing.T) {
	msgs := []*fakeMsg{{id: "1", data: batchMsg(0, 5)}, {id: "2", data: batchMsg(5, 2)}}
	ins := &flakyInserter{failures: 1 << 30}
	cfg := Config{ClickHouse: ClickHouseConfig{Addr: []string{"x:1"}}, ShutdownTimeout: 300 * time.Millisecond}.withDefaults()
	s := &Store{cfg: cfg, ins: ins, log: discardLogger(), m: metrics.New()}
	w := &worker{s: s, keepAlive: time.Second, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	for _, m := range msgs {
		w.add(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := w.run(ctx)
	if err == nil {
		t.Fatal("run returned nil with unstored messages")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("shutdown took %s, bound is 300ms", el)
	}
	for _, m := range msgs {
		if acks, naks, _, _ := m.counts(); acks != 0 || naks != 1 {
			t.Errorf("msg %s: acks %d naks %d; want 0, 1", m.id, acks, naks)
		}
	}
}

func TestCorruptMessageTerminated(t *testing.T) {
	s := &Store{cfg: Config{}.withDefaults(), log: discardLogger(), m: metrics.New()}
	w := &worker{s: s, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	bad := &fakeMsg{data: []byte{0x0a, 0xff}}
	w.add(bad)
	if _, _, terms, _ := bad.counts(); terms != 1 {
		t.Errorf("corrupt message terms = %d, want 1", terms)
	}
	if len(w.b.msgs) != 0 || s.Stats().Rejected != 1 {
		t.Errorf("corrupt message kept (%d msgs) or not counted (%d)", len(w.b.msgs), s.Stats().Rejected)
	}
}

func TestAckAllCountsFailures(t *testing.T) {
	var ok atomic.Int32
	msgs := make([]jetstream.Msg, 100)
	for i := range msgs {
		if i%10 == 0 {
			msgs[i] = &failingAck{}
			continue
		}
		msgs[i] = &countingAck{n: &ok}
	}
	if failed := ackAll(context.Background(), msgs); failed != 10 || ok.Load() != 90 {
		t.Errorf("failed %d ok %d; want 10, 90", failed, ok.Load())
	}
}

type failingAck struct{ fakeMsg }

func (*failingAck) DoubleAck(context.Context) error { return nats.ErrTimeout }

type countingAck struct {
	fakeMsg
	n *atomic.Int32
}

func (c *countingAck) DoubleAck(context.Context) error { c.n.Add(1); return nil }

func TestFetchSize(t *testing.T) {
	cfg := Config{BatchRows: 1000, BatchBytes: 1 << 20}.withDefaults()
	s := &Store{cfg: cfg}
	tests := []struct {
		name              string
		rowsPerMsg, bytes float64
		want              int
	}{
		{"large messages", 500, 100, 3},
		{"single-row messages hit the cap", 1, 100, maxFetchMessages},
		{"bytes bound", 10, 1 << 20, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &worker{s: s, avgRowsPerMsg: tt.rowsPerMsg, avgBytesPerRow: tt.bytes}
			if got := w.fetchSize(); got != tt.want {
				t.Errorf("fetchSize = %d, want %d", got, tt.want)
			}
		})
	}
}

// BenchmarkBatchAdd measures decoding messages into columns, the store's
// own CPU cost per row.
func BenchmarkBatchAdd(b *testing.B) {
	msg := &fakeMsg{data: batchMsg(0, 500)}
	var bt batch
	for b.Loop() {
		if _, _, err := bt.add(msg, time.Now(), 1, nil); err != nil {
			b.Fatal(err)
		}
		if bt.rows.len() >= 50_000 {
			bt.reset()
		}
	}
	b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "rows/s")
}

// TestReplayedBatchesStoredOnce: a batch marked as a replay, or delivered
// again, is looked up by its key and only its days not stored yet are
// inserted; two copies of one batch in hand are stored once; batches
// without the mark, or without a key, cost no lookup.
func TestReplayedBatchesStoredOnce(t *testing.T) {
	t.Parallel()
	day := unixDay(testBase) // of batchMsg's records
	key := func(id string) uint64 { return batchKeyOf(&fakeMsg{batch: id}) }
	ins := &flakyInserter{storedDays: map[uint64]map[int64]bool{
		key("g:0-100"): {day: true},
	}}
	cfg := Config{ClickHouse: ClickHouseConfig{Addr: []string{"x:1"}}}.withDefaults()
	s := &Store{cfg: cfg, ins: ins, log: discardLogger(), m: metrics.New()}
	w := &worker{s: s, keepAlive: time.Second, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	msgs := []*fakeMsg{
		{id: "1", batch: "g:0-100", replay: true, data: batchMsg(0, 5)},             // stored: skipped
		{id: "2", batch: "g:100-200", replay: true, data: batchMsg(5, 4)},           // looked up, not stored
		{id: "3", batch: "g:100-200", records: 4, data: batchMsg(5, 4)},             // second copy in hand
		{id: "4", batch: "g:0-100", delivered: 2, records: 5, data: batchMsg(0, 5)}, // redelivered: a copy of 1, in hand
		{id: "5", batch: "g:200-300", data: batchMsg(9, 3)},                         // ordinary
		{id: "6", replay: true, data: batchMsg(12, 2)},
		{id: "7", batch: "g:300-400", delivered: 3, data: batchMsg(14, 2)}, // redelivered, not stored                              // no key: cannot be looked up
	}
	for _, m := range msgs {
		w.add(m)
	}
	if err := w.commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ins.rows != 4+3+2+2 {
		t.Errorf("inserted %d rows, want 11 (batches 2, 5, 6 and 7)", ins.rows)
	}
	if ins.lookups != 4 {
		t.Errorf("%d lookups, want 4 (messages 1 and 2 when they came, 7 on its own, the batch before its insert)", ins.lookups)
	}
	if st := s.Stats(); st.Duplicates != 5+4+5 {
		t.Errorf("Stats().Duplicates = %d, want 14", st.Duplicates)
	}
	for _, m := range msgs {
		if a, _, _, _ := m.counts(); a != 1 {
			t.Errorf("message %s acked %d times, want 1", m.id, a)
		}
	}
}
