// Package store is the last stage of the pipeline: it pulls pseudonymised
// event batches from the events stream, inserts them into ClickHouse in
// large columnar batches and acknowledges each message only once the insert
// that holds it has committed.
//
// Every insert carries an insert_deduplication_token derived from the
// messages it holds, so a retry after a lost response is stored once. A
// batch that may have been stored before (bus.HeaderReplay: ingest read it
// again after a crash; or redelivered: a store replica died or lost touch
// with NATS between its insert and its acks) is first looked up by its
// ingest batch key, which every row keeps (batch_key), and only its rows
// not yet stored are inserted; one that another replica may be storing at
// the same time is inserted on its own (atrisk.go).
// While an insert is being retried the stage pulls nothing more (that is the
// backpressure) and keeps the held messages from being redelivered.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/configkit"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/subject/marks"
)

const (
	stage = "store"

	// maxBatchRows keeps a batch within one ClickHouse insert block
	// (max_insert_block_size is 1,048,449): a single block is inserted
	// atomically and deduplicated by one token.
	maxBatchRows = 1_000_000

	minRetryBackoff = 100 * time.Millisecond
	// maxFetchWait bounds one pull so that shutdown is noticed quickly.
	maxFetchWait = time.Second
	minFetchWait = 10 * time.Millisecond
	// maxFetchMessages bounds how far one pull can overshoot a batch limit.
	maxFetchMessages = 256
	// initialRowsPerMsg is ingest's default batch size: guessing low made
	// the first pulls overshoot the batch limit several times over (and
	// peak memory with it) before the running average caught up.
	initialRowsPerMsg = 1000
	ackConcurrency    = 32
	ackAttempts       = 3
	ackTimeout        = 5 * time.Second
)

// Config configures the store stage: it is the `store` section of the
// configuration file, and each yaml tag is the key. ClickHouse and Schema
// come from the clickhouse and retention sections, ShutdownTimeout from
// shutdown_timeout.
type Config struct {
	ClickHouse ClickHouseConfig `yaml:"-"`
	Schema     SchemaConfig     `yaml:"-"`
	// BatchRows flushes a batch once it holds this many rows (default
	// 100,000).
	BatchRows int `yaml:"batch_rows"`
	// BatchBytes flushes a batch once its rows take about this many bytes
	// as sent to ClickHouse (default 64 MiB; with a Go memory limit,
	// GOMEMLIMIT, a sixteenth of it).
	BatchBytes int `yaml:"batch_bytes"`
	// FlushInterval flushes a batch this long after its first message
	// arrived, however small it is (default 1s).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// MaxRetryBackoff caps the wait between retries of a failed insert
	// (default 30s).
	MaxRetryBackoff time.Duration `yaml:"max_retry_backoff"`
	// InsertTimeout bounds one insert attempt (default 60s).
	InsertTimeout time.Duration `yaml:"insert_timeout"`
	// ShutdownTimeout bounds the final flush when Run is cancelled
	// (default 10s). Messages not stored by then are handed back to NATS.
	ShutdownTimeout time.Duration `yaml:"-"`
	// Workers is the number of batches filled and inserted concurrently,
	// each with its own pulls from the shared consumer (default 1).
	Workers int `yaml:"workers"`
}

// Defaults returns the documented defaults of the store section: the one
// place they are set.
func Defaults() Config {
	return Config{
		BatchRows:       defaultBatchRows,
		BatchBytes:      defaultBatchBytes(debug.SetMemoryLimit(-1)),
		FlushInterval:   time.Second,
		MaxRetryBackoff: 30 * time.Second,
		InsertTimeout:   time.Minute,
		ShutdownTimeout: 10 * time.Second,
		Workers:         1,
	}
}

// Each insert writes a part to the requests table and to every rollup, and
// the engine merges them again later: 100,000-row batches instead of
// 50,000 halved the engine's merge CPU in `vakt bench` and cut the
// import's CPU by ~18 % (BENCHMARKS.md).
const defaultBatchRows = 100_000

// defaultBatchBytes is 64 MiB, or a sixteenth of the Go memory limit
// (GOMEMLIMIT, math.MaxInt64 when unset) when that is smaller: a held
// batch costs several times its bytes in the heap (its messages, columns
// and encoded block), so a process told to stay small keeps small batches.
func defaultBatchBytes(memoryLimit int64) int {
	const most, least = 64 << 20, 4 << 20
	return int(max(min(memoryLimit/16, most), least))
}

func (c Config) withDefaults() Config {
	c.ClickHouse = c.ClickHouse.withDefaults()
	if c.Schema.Database == "" {
		c.Schema.Database = c.ClickHouse.Database
	}
	c.Schema = c.Schema.withDefaults()
	configkit.FillZero(&c, Defaults())
	return c
}

// Validate reports every invalid setting, naming its key and the fix. Unset
// fields are valid: they take their defaults.
func (c Config) Validate() error {
	errs := []error{c.ClickHouse.Validate()}
	if c.Schema.Database != "" && c.ClickHouse.Database != "" && c.Schema.Database != c.ClickHouse.Database {
		errs = append(errs, fmt.Errorf("store.schema.database: %q differs from clickhouse.database %q; set only one", c.Schema.Database, c.ClickHouse.Database))
	}
	d := c.withDefaults()
	errs = append(errs, d.Schema.Validate(), d.Problems().Err(""))
	if d.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout: %s is negative; use e.g. 10s", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// Problems lists every invalid key of the store section, as written (a
// zero is not replaced by its default here).
func (c Config) Problems() configkit.Problems {
	var ps configkit.Problems
	if c.BatchRows < 1 || c.BatchRows > maxBatchRows {
		ps.Add("store.batch_rows", fmt.Sprintf("%d is out of range", c.BatchRows), fmt.Sprintf("use 1 to %d (default %d)", maxBatchRows, defaultBatchRows))
	}
	if c.BatchBytes < 1<<10 {
		ps.Add("store.batch_bytes", fmt.Sprintf("%d is below 1024", c.BatchBytes), "use at least 1024 (default 67108864, 64 MiB)")
	}
	if c.FlushInterval < 10*time.Millisecond {
		ps.Add("store.flush_interval", fmt.Sprintf("%s is too short", c.FlushInterval), "use at least 10ms (default 1s)")
	}
	if c.MaxRetryBackoff < minRetryBackoff {
		ps.Add("store.max_retry_backoff", fmt.Sprintf("%s is too short", c.MaxRetryBackoff), fmt.Sprintf("use at least %s (default 30s)", minRetryBackoff))
	}
	if c.InsertTimeout < time.Second {
		ps.Add("store.insert_timeout", fmt.Sprintf("%s is too short", c.InsertTimeout), "use at least 1s (default 60s)")
	}
	if c.Workers < 1 || c.Workers > 64 {
		ps.Add("store.workers", fmt.Sprintf("%d is out of range", c.Workers), "use 1 to 64 (default 1)")
	}
	return ps
}

// Stats are counters since New.
type Stats struct {
	Rows         uint64 // rows committed to ClickHouse
	Batches      uint64 // inserts committed
	InsertErrors uint64 // failed insert attempts (each retried)
	Rejected     uint64 // corrupt messages terminated
	AckErrors    uint64 // committed messages whose ack failed (they will be redelivered)
	// Duplicates are events found stored already (batches published or
	// delivered again) and skipped.
	Duplicates uint64
}

// Store is the store stage.
type Store struct {
	cfg Config
	js  jetstream.JetStream
	ins inserter
	log *slog.Logger
	m   *metrics.Pipeline

	// erasures are the tombstones of `vakt subject erase`.
	erasures *marks.Erasures

	rows, batches, insertErrors, rejected, ackErrors, duplicates atomic.Uint64
	health                                                       insertHealth
}

// New creates the stage. Migrate must have created the table; Run needs
// the events stream and its consumer (bus.Ensure).
func New(cfg Config, js jetstream.JetStream, conn driver.Conn, log *slog.Logger, m *metrics.Pipeline) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if js == nil || conn == nil {
		return nil, errors.New("store: New needs a JetStream context and a ClickHouse connection")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = metrics.New()
	}
	cfg = cfg.withDefaults()
	return &Store{
		cfg:      cfg,
		js:       js,
		ins:      newCHInserter(conn, cfg.Schema.Database, cfg.Schema.Cluster != ""),
		erasures: marks.NewErasures(js),
		log:      log.With("stage", stage),
		m:        m,
	}, nil
}

// Stats returns the counters so far.
func (s *Store) Stats() Stats {
	return Stats{
		Rows:         s.rows.Load(),
		Batches:      s.batches.Load(),
		InsertErrors: s.insertErrors.Load(),
		Rejected:     s.rejected.Load(),
		AckErrors:    s.ackErrors.Load(),
		Duplicates:   s.duplicates.Load(),
	}
}

// Run consumes until ctx is cancelled, then stores what it holds (bounded
// by ShutdownTimeout) and returns. It returns nil after a clean shutdown.
func (s *Store) Run(ctx context.Context) error {
	cons, err := s.js.Consumer(ctx, bus.EventsStream, bus.StoreConsumer)
	if err != nil {
		return fmt.Errorf("store: consumer %s on %s: %w", bus.StoreConsumer, bus.EventsStream, err)
	}
	ackWait := cons.CachedInfo().Config.AckWait
	// A batch holds its messages unacknowledged while it fills; they must
	// not be redelivered to another replica meanwhile.
	if ackWait > 0 && s.cfg.FlushInterval > ackWait/3 {
		return fmt.Errorf("store.flush_interval: %s is too close to the consumer's ack wait %s; use at most %s", s.cfg.FlushInterval, ackWait, ackWait/3)
	}
	keepAlive := ackWait / 3
	if keepAlive <= 0 {
		keepAlive = 10 * time.Second
	}
	s.log.Info("store started", "workers", s.cfg.Workers, "batch_rows", s.cfg.BatchRows,
		"flush_interval", s.cfg.FlushInterval, "database", s.cfg.Schema.Database)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, s.cfg.Workers)
	for i := range s.cfg.Workers {
		w := &worker{s: s, id: i, cons: cons, keepAlive: keepAlive, extend: confirmedProgress(s.js.Conn()),
			avgRowsPerMsg: initialRowsPerMsg, avgBytesPerRow: 300}
		w.b.lease.wait = ackWait
		wg.Go(func() {
			if err := w.run(ctx); err != nil {
				errs[i] = err
				cancel(err) // a worker that cannot go on stops the others
			}
		})
	}
	wg.Wait()
	err = errors.Join(errs...)
	st := s.Stats()
	s.log.Info("store stopped", "rows", st.Rows, "batches", st.Batches, "insert_errors", st.InsertErrors, "rejected", st.Rejected)
	return err
}

// worker fills one batch at a time and commits it.
type worker struct {
	s         *Store
	id        int
	cons      jetstream.Consumer
	keepAlive time.Duration
	extend    extendFunc // nil: unconfirmedProgress
	b         batch
	fetched   time.Time // when the last fetch was issued
	// Running averages that size pulls so a batch does not overshoot its
	// limits by much.
	avgRowsPerMsg, avgBytesPerRow float64
}

func (w *worker) run(ctx context.Context) error {
	for ctx.Err() == nil {
		if w.b.due(time.Now(), &w.s.cfg) {
			if err := w.commit(ctx); err != nil {
				break // only cancellation ends a commit early; retried below
			}
			continue
		}
		if err := w.pull(ctx); err != nil {
			// The batch in hand is abandoned, not stored: with the NATS
			// connection gone it could never be acked, so storing it would
			// duplicate it when NATS redelivers it after the ack wait.
			return err
		}
	}
	return w.shutdown(ctx)
}

// pull fetches up to one pull's worth of messages into the batch.
func (w *worker) pull(ctx context.Context) error {
	// An empty batch long-polls for at most FlushInterval, so that a
	// message arriving mid-pull is stored about FlushInterval later, not
	// maxFetchWait later.
	wait := min(w.s.cfg.FlushInterval, maxFetchWait)
	if len(w.b.msgs) > 0 {
		wait = min(max(time.Until(w.b.first.Add(w.s.cfg.FlushInterval)), minFetchWait), maxFetchWait)
	}
	w.fetched = time.Now()
	mb, err := w.cons.Fetch(w.fetchSize(), jetstream.FetchMaxWait(wait))
	if err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("store: fetch: %w", err)
		}
		w.s.log.Warn("fetch failed; retrying", "worker", w.id, "err", err)
		sleep(ctx, 500*time.Millisecond)
		return nil
	}
	// Drained even after cancellation: these messages are ours now and are
	// stored by the final flush rather than left to time out.
	for msg := range mb.Messages() {
		w.add(msg)
	}
	if err := mb.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("store: fetch: %w", err)
		}
		w.s.log.Warn("fetch ended with an error; retrying", "worker", w.id, "err", err)
		sleep(ctx, 500*time.Millisecond)
	}
	return nil
}

// fetchSize asks for about as many messages as the batch still has room
// for, judged by the sizes seen so far.
func (w *worker) fetchSize() int {
	cfg := &w.s.cfg
	roomRows := float64(cfg.BatchRows - w.b.rows.len())
	roomBytes := float64(cfg.BatchBytes-w.b.rows.size) / w.avgBytesPerRow
	n := int(min(roomRows, roomBytes)/w.avgRowsPerMsg) + 1
	return min(max(n, 1), maxFetchMessages)
}

func (w *worker) add(msg jetstream.Msg) {
	key := batchKeyOf(msg)
	if len(w.b.msgs) == 0 {
		w.b.lease.start(w.fetched)
	}
	if w.b.holds(key) {
		// Published twice and both copies in hand: the first is stored.
		w.b.hold(msg, time.Now(), key)
		w.duplicate(msg, -1)
		return
	}
	// A message delivered again is looked up at commit and stored on its
	// own (atrisk.go). One only marked as a replay (most often a whole
	// file imported again, thousands of messages) is looked up now and
	// stored with the batch: its earlier copy was published by an earlier
	// run, not handed to another replica.
	atRisk := key != 0 && redelivered(msg)
	var stored map[int64]bool
	if key != 0 && !atRisk && replayed(msg) {
		var err error
		if stored, err = w.storedDays(context.Background(), key, msg); err != nil {
			// Not knowing, storing could duplicate: try again later.
			w.s.log.Warn("cannot check whether a batch delivered again is stored; it is retried", "worker", w.id, "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
	}
	rows, skipped, err := w.b.add(msg, time.Now(), key, stored)
	if skipped > 0 {
		w.duplicate(msg, skipped)
	}
	if err != nil {
		w.s.rejected.Add(1)
		w.s.m.Rejected.WithLabelValues(stage, event.ReasonCorruptBatch).Inc()
		seq := uint64(0)
		if md, merr := msg.Metadata(); merr == nil {
			seq = md.Sequence.Stream
		}
		if terr := msg.Term(); terr != nil {
			w.s.log.Warn("terminate corrupt message", "stream_seq", seq, "err", terr)
		}
		w.s.log.Warn("corrupt message terminated", "stream_seq", seq, "bytes", len(msg.Data()))
		return
	}
	if atRisk {
		w.b.markAtRisk(key)
	}
	w.s.m.EventsIn.WithLabelValues(stage).Add(float64(rows))
	w.avgRowsPerMsg = 0.8*w.avgRowsPerMsg + 0.2*max(float64(rows), 1)
	if rows > 0 {
		w.avgBytesPerRow = 0.8*w.avgBytesPerRow + 0.2*float64(w.b.rows.size)/float64(w.b.rows.len())
	}
}

// duplicate counts events of msg found stored already (-1: all of them,
// by its record count).
func (w *worker) duplicate(msg jetstream.Msg, events int) {
	if events < 0 {
		events, _ = strconv.Atoi(msg.Headers().Get(bus.HeaderRecords))
	}
	w.s.duplicates.Add(uint64(max(events, 0)))
	w.s.m.Duplicates.WithLabelValues(stage).Inc()
	w.s.log.Debug("batch found stored already; skipped", "worker", w.id, "events", events)
}

// storedDays looks up which days of msg's ingest batch (key) are stored
// already. Each day is a partition, written atomically by an insert, so a
// batch is stored per day either wholly or not at all.
func (w *worker) storedDays(ctx context.Context, key uint64, msg jetstream.Msg) (map[int64]bool, error) {
	var (
		lo, hi int64
		sites  = map[string]bool{}
		n      int
	)
	err := event.RangeEvents(msg.Data(), func(e *event.Event) error {
		ms := e.Time.UnixMilli()
		if n == 0 || ms < lo {
			lo = ms
		}
		if n == 0 || ms > hi {
			hi = ms
		}
		sites[e.Site] = true
		n++
		return nil
	})
	if err != nil || n == 0 {
		return nil, nil // add reports a corrupt message
	}
	qctx, cancel := context.WithTimeout(ctx, w.s.cfg.InsertTimeout)
	defer cancel()
	found, err := w.s.ins.stored(qctx, []uint64{key}, slices.Collect(maps.Keys(sites)), lo, hi)
	if err != nil {
		return nil, err
	}
	days := map[int64]bool{}
	for kd := range found {
		days[kd.day] = true
	}
	return days, nil
}

// commit inserts the batch, retrying until it succeeds or ctx ends, then
// acknowledges its messages. On error (ctx ended) the batch is kept intact.
func (w *worker) commit(ctx context.Context) error {
	b := &w.b
	if len(b.msgs) == 0 {
		return nil
	}
	// The messages stay ours while the tombstones are read and the rows
	// inserted, however long NATS or ClickHouse make either wait; if NATS
	// cannot be told, the lease lapses and prepare has the messages
	// stored one by one.
	extend := w.extend
	if extend == nil {
		extend = unconfirmedProgress
	}
	stop := keepInProgress(b.msgs, w.keepAlive, extend, &b.lease, w.s.log)
	defer stop()
	if err := w.dropErased(ctx, b); err != nil {
		return err
	}
	if err := w.prepare(ctx, b); err != nil {
		return err
	}
	if n := b.rows.len(); n > 0 {
		if err := w.insert(ctx, b.token(), &b.rows); err != nil {
			return err
		}
		w.committed(n)
		b.rows.reset() // stored: a retried commit (after an at-risk insert failed) does not send them again
	}
	if err := w.storeAtRisk(ctx, b); err != nil {
		return err
	}
	stop()
	if failed := ackAll(ctx, b.msgs); failed > 0 {
		w.s.ackErrors.Add(uint64(failed))
		w.s.log.Warn("acknowledging stored messages failed; they will be redelivered", "messages", failed, "of", len(b.msgs))
	}
	w.s.log.Debug("batch stored", "worker", w.id, "messages", len(b.msgs))
	b.reset()
	return nil
}

// committed counts n rows stored by one insert.
func (w *worker) committed(n int) {
	w.s.rows.Add(uint64(n))
	w.s.batches.Add(1)
	w.s.m.EventsOut.WithLabelValues(stage).Add(float64(n))
	w.s.m.BatchRecords.WithLabelValues(stage).Observe(float64(n))
}

// insert tries the batch until it commits or ctx ends, backing off
// exponentially. Every attempt carries the same deduplication token.
func (w *worker) insert(ctx context.Context, token string, r *rows) error {
	cfg := &w.s.cfg
	backoff := minRetryBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, cfg.InsertTimeout)
		start := time.Now()
		err := w.s.ins.insert(actx, token, r)
		cancel()
		w.s.m.InsertDuration.Observe(time.Since(start).Seconds())
		if err == nil || ctx.Err() == nil {
			// An attempt cut short by shutdown says nothing of the store.
			w.s.health.record(time.Now(), err)
		}
		if err == nil {
			if attempt > 1 {
				w.s.log.Info("insert succeeded after retries", "worker", w.id, "rows", r.len(), "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			// Cut short by shutdown: not an insert error (the messages
			// stay unacknowledged and are stored at the next start).
			return fmt.Errorf("store: insert of %d rows: %w (%w)", r.len(), context.Cause(ctx), err)
		}
		w.s.insertErrors.Add(1)
		w.s.m.InsertErrors.Inc()
		wait := jitter(backoff)
		args := []any{"worker", w.id, "rows", r.len(), "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err}
		if fix := insertFix(err); fix != "" {
			args = append(args, "fix", fix)
		}
		w.s.log.Warn("insert failed; retrying", args...)
		if !sleep(ctx, wait) {
			return fmt.Errorf("store: insert of %d rows: %w (%w)", r.len(), context.Cause(ctx), err)
		}
		backoff = min(backoff*2, cfg.MaxRetryBackoff)
	}
}

// shutdown stores what the worker holds within ShutdownTimeout. Whatever
// cannot be stored is handed back to NATS at once so that another replica
// can store it without waiting out the ack wait.
func (w *worker) shutdown(ctx context.Context) error {
	if len(w.b.msgs) == 0 {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.s.cfg.ShutdownTimeout)
	defer cancel()
	err := w.commit(sctx)
	if err == nil {
		return nil
	}
	n := len(w.b.msgs)
	for _, m := range w.b.msgs {
		_ = m.Nak()
	}
	w.b.reset()
	return fmt.Errorf("store: %d messages not stored at shutdown, returned for redelivery: %w", n, err)
}

// ackAll acknowledges msgs and waits for the server to confirm each: an
// ack lost on the way would redeliver rows that are already stored, in a
// batch of another shape and so under another deduplication token. It
// returns how many could not be confirmed. Acks are sent even when ctx has
// ended, since the rows are committed.
func ackAll(ctx context.Context, msgs []jetstream.Msg) (failed int) {
	ctx = context.WithoutCancel(ctx)
	return eachMsg(msgs, func(m jetstream.Msg) error {
		var err error
		for range ackAttempts {
			actx, cancel := context.WithTimeout(ctx, ackTimeout)
			err = m.DoubleAck(actx)
			cancel()
			if err == nil || errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
				return nil
			}
		}
		return err
	})
}

// eachMsg runs do for every message, ackConcurrency at a time (each waits
// on a server round trip), and returns how many failed.
func eachMsg(msgs []jetstream.Msg, do func(jetstream.Msg) error) (failed int) {
	var (
		wg  sync.WaitGroup
		nf  atomic.Int64
		sem = make(chan struct{}, ackConcurrency)
	)
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if do(m) != nil {
				nf.Add(1)
			}
		})
	}
	wg.Wait()
	return int(nf.Load())
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
