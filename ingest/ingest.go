// Package ingest is the first stage of the pipeline: it reads web server
// access logs (files, imported or followed, or a generated demo stream),
// parses each line into an event.Raw and publishes batches of them to the
// RAW stream in JetStream.
//
// Delivery is at least once with deduplication: every batch carries a
// Nats-Msg-Id derived from where its lines come from (the file's identity
// and the byte range of the batch), so a retried publish or a repeated
// import within the stream's duplicate window is dropped by JetStream.
// Publishing is asynchronous with a bounded number of batches in flight;
// when JetStream rejects batches (a full RAW stream, a NATS outage) they
// are retried with backoff and reading waits. Nothing is dropped and memory
// stays bounded.
//
// Raw lines and client IPs never reach a log message or an error: only
// reasons, file names and byte offsets do.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vakt-dev/vakt/ingest/logformat"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
)

// Reject reasons of ingest beyond those of logformat.
const (
	ReasonPastRetention   = "past_retention"   // older than Config.MaxAge
	ReasonFutureTimestamp = "future_timestamp" // later than now + Config.MaxFuture
	// ReasonRawStreamFull labels records dropped by WhenFullDrop.
	ReasonRawStreamFull = "raw_stream_full"
)

// stage is the metrics label of this stage.
const stage = "ingest"

// Source kinds, the "source" label of the lines-read metric.
const (
	sourceFile = "file"
	sourceDemo = "demo"
)

// Stats counts lines by outcome. Once an import has returned without error,
// LinesRead == Published + Duplicates + Dropped + the sum of Rejected.
type Stats struct {
	LinesRead  int64
	Published  int64 // records JetStream stored as new
	Duplicates int64 // records in batches JetStream had already stored
	// Dropped are records in batches a full RAW stream refused, dropped
	// by ingest.when_full: drop.
	Dropped int64
	// Rejected counts lines by reason: the logformat reasons plus
	// past_retention and future_timestamp. Only reasons seen are present.
	Rejected map[string]int64
}

// Ingest is the ingest stage. Create it with New and start it with Run.
type Ingest struct {
	cfg Config
	js  jetstream.JetStream // own context: its async publish limits are ours
	own bool                // js was created here and is cleaned up by Run
	log *slog.Logger
	met stageMetrics
	pub *publisher
	// handover tells when a followed file's batches are taken from the RAW
	// stream; waits end with handoverCtx (see Run).
	handover    *handover
	handoverCtx context.Context
	// quarantine keeps masked samples of rejected lines.
	quarantine *quarantine
	// maxBatchBytes is BatchBytes capped by the server's max_payload.
	maxBatchBytes int
	started       atomic.Bool

	linesRead, published, duplicates, dropped atomic.Int64
	rejected                                  map[string]*atomic.Int64 // fixed key set, read-only map
}

// stageMetrics are the label children of metrics.Pipeline this stage uses,
// resolved once instead of per line.
type stageMetrics struct {
	linesRead     map[string]prometheus.Counter
	rejected      map[string]prometheus.Counter
	eventsOut     prometheus.Counter
	duplicates    prometheus.Counter
	batchRecords  prometheus.Observer
	publishErrors prometheus.Counter
	fullWaits     prometheus.Counter
	republished   prometheus.Counter
	dropped       prometheus.Counter
	// syslogOpen and syslogClosed (by reason) count the syslog receiver's
	// TCP connections.
	syslogOpen   prometheus.Gauge
	syslogClosed *prometheus.CounterVec
}

// New validates cfg and prepares an Ingest that publishes through js. A nil
// log discards; a nil m gets a private metrics.Pipeline.
func New(cfg Config, js jetstream.JetStream, log *slog.Logger, m *metrics.Pipeline) (*Ingest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if js == nil {
		return nil, errors.New("ingest: no JetStream context")
	}
	cfg = cfg.WithDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = metrics.New()
	}
	i := &Ingest{cfg: cfg, js: js, log: log.With(slog.String("stage", stage)), maxBatchBytes: cfg.BatchBytes}
	if nc := js.Conn(); nc != nil {
		// A JetStream context of our own, so that its async-publish limit
		// and ack timeout are ours and PublishAsyncComplete is not shared.
		// Publishing uses no API subjects: js's domain and prefix do not
		// matter here.
		own, err := jetstream.New(nc,
			jetstream.WithPublishAsyncMaxPending(cfg.MaxInFlight),
			jetstream.WithPublishAsyncTimeout(ackTimeout))
		if err != nil {
			return nil, fmt.Errorf("ingest: jetstream: %w", err)
		}
		i.js, i.own = own, true
		// A batch over the server's max_payload could never be published;
		// leave room for the headers.
		if mp := int(nc.MaxPayload()); mp > 0 && mp-1024 < i.maxBatchBytes {
			i.maxBatchBytes = mp - 1024
		}
	}

	reasons := []string{ReasonPastRetention, ReasonFutureTimestamp, ReasonBadSyslog, string(logformat.ReasonOther)}
	for _, r := range logformat.Reasons() {
		reasons = append(reasons, string(r))
	}
	i.rejected = make(map[string]*atomic.Int64, len(reasons))
	i.met = stageMetrics{
		linesRead: map[string]prometheus.Counter{
			sourceFile:   m.LinesRead.WithLabelValues(sourceFile),
			sourceDemo:   m.LinesRead.WithLabelValues(sourceDemo),
			sourceSyslog: m.LinesRead.WithLabelValues(sourceSyslog),
		},
		rejected:      make(map[string]prometheus.Counter, len(reasons)),
		eventsOut:     m.EventsOut.WithLabelValues(stage),
		duplicates:    m.Duplicates.WithLabelValues(stage),
		batchRecords:  m.BatchRecords.WithLabelValues(stage),
		publishErrors: m.PublishErrors.WithLabelValues(stage),
		fullWaits:     m.BackpressureWaits.WithLabelValues(stage),
		republished:   m.Republished.WithLabelValues(stage),
		dropped:       m.Dropped.WithLabelValues(stage, ReasonRawStreamFull),
		syslogOpen:    m.ListenerConnections.WithLabelValues(listenerSyslogTCP),
		syslogClosed:  m.ListenerClosed.MustCurryWith(prometheus.Labels{"listener": listenerSyslogTCP}),
	}
	for _, r := range reasons {
		i.rejected[r] = new(atomic.Int64)
		i.met.rejected[r] = m.Rejected.WithLabelValues(stage, r) // exported at 0 from the start
	}
	i.pub = newPublisher(i.js, cfg.MaxInFlight, i)
	i.handover = newHandover(i.js, i.log)
	i.handoverCtx = context.Background()
	i.quarantine = newQuarantine(js.Conn())
	return i, nil
}

// Stats returns the counts so far. It is safe to call at any time.
func (i *Ingest) Stats() Stats {
	s := Stats{
		LinesRead:  i.linesRead.Load(),
		Published:  i.published.Load(),
		Duplicates: i.duplicates.Load(),
		Dropped:    i.dropped.Load(),
		Rejected:   map[string]int64{},
	}
	for r, n := range i.rejected {
		if v := n.Load(); v > 0 {
			s.Rejected[r] = v
		}
	}
	return s
}

// Run reads and publishes until the work is done: in import mode (Follow
// off) when every line of every file is read and every batch acknowledged;
// in follow mode, or with the demo, when ctx ends. After ctx ends, batches
// already read are still published for up to DrainTimeout.
//
// An import returns an error if a file could not be read (the other files
// are still imported) or if ctx ended first. A follow run returns nil after
// a clean shutdown. Run may be called once.
func (i *Ingest) Run(ctx context.Context) error {
	if !i.started.CompareAndSwap(false, true) {
		return errors.New("ingest: Run called twice")
	}
	if i.own {
		defer i.js.CleanupPublisher()
	}
	// Publishing outlives ctx by DrainTimeout so that a shutdown does not
	// throw away batches that were already read.
	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	stopDrain := context.AfterFunc(ctx, func() { time.AfterFunc(i.cfg.DrainTimeout, cancelPub) })
	defer stopDrain()
	// A followed file's checkpoint moves once a pseudonymiser took its
	// batches (handover.go). At shutdown that is waited for briefly: the
	// pseudonymisers usually still run; batches not seen taken stay in
	// the checkpoint and are read again, and recognised, at the next start.
	hctx, cancelHandover := context.WithCancel(pubCtx)
	defer cancelHandover()
	stopHandover := context.AfterFunc(ctx, func() { time.AfterFunc(min(handoverGrace, i.cfg.DrainTimeout), cancelHandover) })
	defer stopHandover()
	i.handoverCtx = hctx
	go i.handover.run(hctx)

	var (
		imports []importItem
		err     error
	)
	if !i.cfg.Follow {
		if imports, err = i.importList(); err != nil {
			return err
		}
	}
	mode := "import"
	if i.cfg.Follow {
		mode = "follow"
	}
	i.log.Info("ingest starting", slog.String("mode", mode), slog.Int("sources", len(i.cfg.sources())),
		slog.Int("files", len(imports)), slog.String("site", i.cfg.Site), slog.Bool("demo", i.cfg.Demo))
	begin := time.Now()

	var syslogSrv *syslogServer
	if i.cfg.Follow && i.cfg.Syslog.Enabled() {
		if syslogSrv, err = i.listenSyslog(); err != nil {
			return err
		}
	}
	var (
		wg      sync.WaitGroup
		readErr error
	)
	if syslogSrv != nil {
		wg.Go(func() { syslogSrv.serve(ctx, pubCtx) })
	}
	switch {
	case !i.cfg.Follow && len(imports) > 0:
		wg.Go(func() { readErr = i.importFiles(ctx, pubCtx, imports) })
	case i.cfg.Follow:
		wg.Go(func() { i.followSources(ctx, pubCtx) })
	}
	if i.cfg.Demo {
		wg.Go(func() { i.demo(ctx, pubCtx) })
	}
	wg.Wait()
	i.pub.wait()

	st := i.Stats()
	lost := i.pub.lostRecords.Load()
	i.log.Info("ingest finished", slog.String("mode", mode), slog.Duration("took", time.Since(begin)),
		slog.Int64("lines", st.LinesRead), slog.Int64("published", st.Published),
		slog.Int64("duplicates", st.Duplicates), slog.Int64("dropped", st.Dropped), slog.Any("rejected", st.Rejected), slog.Int64("unpublished", lost))

	var errs []error
	if readErr != nil {
		errs = append(errs, readErr)
	}
	if lost > 0 {
		errs = append(errs, fmt.Errorf("ingest: %d records read but not acknowledged by JetStream before shutdown (drain timeout %v)",
			lost, i.cfg.DrainTimeout))
	}
	return errors.Join(errs...)
}

func (i *Ingest) acked(n int, duplicate bool) {
	if duplicate {
		i.duplicates.Add(int64(n))
		i.met.duplicates.Inc()
		return
	}
	i.published.Add(int64(n))
	i.met.eventsOut.Add(float64(n))
}

// drop counts the n records of a batch dropped by WhenFullDrop.
func (i *Ingest) drop(n int) {
	i.dropped.Add(int64(n))
	i.met.dropped.Add(float64(n))
}

func (i *Ingest) reject(reason string) {
	c, ok := i.rejected[reason]
	if !ok {
		reason = string(logformat.ReasonOther)
		c = i.rejected[reason]
	}
	c.Add(1)
	i.met.rejected[reason].Inc()
}

// sink turns the lines of one source into batches and hands them to the
// publisher. It is used by one goroutine.
type sink struct {
	ing     *Ingest
	kind    string // source kind label
	name    string // for logs: a path or "demo"; never line content
	site    string
	subject string
	id      string // source identity, the prefix of message ids
	// ageFlush publishes a partial batch once it is FlushInterval old.
	// Imports do not, so that batch boundaries, and hence message ids, do
	// not depend on timing and a repeated import is deduplicated.
	ageFlush bool
	lines    prometheus.Counter
	// parse turns one line into a record: the one place the log format
	// matters. Each sink has its own (a detecting parser keeps state).
	parse func(line []byte, r *event.Raw) error
	// emit, when set, takes each batch instead of the publisher: a
	// checkpointed file records batch boundaries before publishing.
	emit func(ctx context.Context, b batch) error
	// forced are batch ends that a run before a restart may have
	// published: batches end exactly there, and nowhere else, until they
	// are passed, so that each gets the message id it had (see
	// checkpoint.go).
	forced []int64

	rec     event.Raw
	buf     []byte
	n       int   // records in buf
	open    bool  // a batch range is open: lines were taken since the last flush
	first   int64 // offset of the first line of the open range
	end     int64 // offset just past the last line taken
	started time.Time
	warned  map[string]bool // reasons already logged for this source
	// siteFromHost labels each record with the request's host ($host,
	// %v, JSON host) when the line has one, instead of site.
	siteFromHost bool
	// keyed: the source's ids name its content (files), see batch.keyed.
	keyed bool
	// Batches ending at or before replayUntil, or every batch with
	// replayAll, may have been published by an earlier run.
	replayUntil int64
	replayAll   bool
}

// batch is a range of lines [start, end) of a source and the records
// parsed from it; n may be 0 when every line was rejected.
type batch struct {
	start, end int64
	subject    string
	id         string // Nats-Msg-Id
	data       []byte
	n          int
	// keyed: id names the lines themselves (a file's identity and byte
	// range), so it goes in bus.HeaderBatch and the store keeps it.
	keyed bool
	// replay: the batch may have been published before (bus.HeaderReplay).
	replay bool
}

// replayForced marks the batches up to the last recorded end (forced) as
// possibly published before, and returns a copy of those ends for the
// tracker's replay.
func (s *sink) replayForced() []int64 {
	if n := len(s.forced); n > 0 {
		s.replayUntil = s.forced[n-1]
	}
	return slices.Clone(s.forced)
}

func (i *Ingest) newSink(kind, name, site, id string, ageFlush bool) *sink {
	return &sink{
		ing: i, kind: kind, name: name, site: site, subject: bus.RawSubject(site), id: id,
		ageFlush: ageFlush, lines: i.met.linesRead[kind], warned: map[string]bool{},
		parse: logformat.ParseCombined,
	}
}

// line processes one line that starts at offset off and ends (newline
// included) at end. It fails only if publishing a full batch failed
// because ctx ended.
func (s *sink) line(ctx context.Context, line []byte, off, end int64) error {
	s.ing.linesRead.Add(1)
	s.lines.Inc()
	s.begin(off)
	if err := s.parse(line, &s.rec); err != nil {
		s.rejectAt(string(logformat.ReasonOf(err)), off, line)
		return s.taken(ctx, end)
	}
	now := time.Now()
	switch {
	case s.rec.Time.Before(now.Add(-s.ing.cfg.MaxAge)):
		s.rejectAt(ReasonPastRetention, off, line)
		return s.taken(ctx, end)
	case s.rec.Time.After(now.Add(s.ing.cfg.MaxFuture)):
		s.rejectAt(ReasonFutureTimestamp, off, line)
		return s.taken(ctx, end)
	}
	s.rec.Site = s.site
	if s.siteFromHost && s.rec.Host != "" && !bus.AddressLike(s.rec.Host) {
		s.rec.Site = s.rec.Host
	}

	mark := len(s.buf)
	if s.buf == nil {
		s.buf = s.ing.pub.buffer()
	}
	s.buf = event.AppendRaw(s.buf, &s.rec)
	if len(s.buf) > s.ing.maxBatchBytes {
		if len(s.buf)-mark > s.ing.maxBatchBytes {
			// The record alone exceeds the message size limit: it could
			// never be published.
			s.buf = s.buf[:mark]
			s.rejectAt(string(logformat.ReasonTooLong), off, line)
			return s.taken(ctx, end)
		}
		// The record starts the next batch: the range closes before
		// this line.
		next := append(s.ing.pub.buffer(), s.buf[mark:]...)
		s.buf = s.buf[:mark]
		if err := s.flush(ctx); err != nil {
			return err
		}
		s.buf = next
		s.begin(off)
	}
	if s.n == 0 {
		s.started = now
	}
	s.n++
	// While replaying the boundaries of an earlier run, batches end only
	// where they ended then.
	if len(s.forced) == 0 && (s.n >= s.ing.cfg.BatchLines || (s.ageFlush && now.Sub(s.started) >= s.ing.cfg.FlushInterval)) {
		s.end = end
		return s.flush(ctx)
	}
	return s.taken(ctx, end)
}

// begin opens a batch range at the line starting at off, unless one is
// open.
func (s *sink) begin(off int64) {
	if !s.open {
		s.open, s.first = true, off
	}
}

// taken records that the lines up to end are processed and closes the
// batch if end is a forced boundary.
func (s *sink) taken(ctx context.Context, end int64) error {
	s.end = end
	if len(s.forced) == 0 || s.forced[0] > end {
		return nil
	}
	for len(s.forced) > 0 && s.forced[0] <= end {
		if s.forced[0] != end && !s.warned["boundary"] {
			// The file differs from what the earlier run read; ids of
			// the batches around here may differ from then.
			s.warned["boundary"] = true
			s.ing.log.Warn("batch boundary of an earlier run is not at a line end; the file changed",
				slog.String("source", s.name), slog.Int64("offset", s.forced[0]))
		}
		s.forced = s.forced[1:]
	}
	return s.flush(ctx)
}

// tooLong counts a line that exceeded the length limit.
func (s *sink) tooLong(ctx context.Context, off, end int64) error {
	s.ing.linesRead.Add(1)
	s.lines.Inc()
	s.begin(off)
	s.rejectAt(string(logformat.ReasonTooLong), off, nil)
	return s.taken(ctx, end)
}

// rejectAt counts a rejected line and offers it to the quarantine; line
// is nil when its content is not at hand.
func (s *sink) rejectAt(reason string, off int64, line []byte) {
	s.ing.reject(reason)
	s.ing.quarantine.offer(reason, s.site, s.name, off, line)
	if !s.warned[reason] {
		// Once per reason and source: a wrong log format rejects every line.
		s.warned[reason] = true
		s.ing.log.Warn("line rejected; later rejections for this reason are only counted",
			slog.String("source", s.name), slog.String("reason", reason), slog.Int64("offset", off))
	}
}

// flush closes the open batch range, if any, and publishes its records.
// The message id is the source identity and the byte range, so the same
// lines batched the same way always get the same id.
func (s *sink) flush(ctx context.Context) error {
	if !s.open {
		return nil
	}
	b := batch{start: s.first, end: s.end, subject: s.subject, data: s.buf, n: s.n, keyed: s.keyed}
	b.id = fmt.Sprintf("%s:%d-%d", s.id, b.start, b.end)
	b.replay = s.replayAll || b.end <= s.replayUntil
	s.buf, s.n, s.open = nil, 0, false
	if s.emit != nil {
		return s.emit(ctx, b)
	}
	if b.n == 0 {
		return nil
	}
	return s.ing.pub.publish(ctx, b)
}
