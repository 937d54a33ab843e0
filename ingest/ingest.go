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
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/logformat"
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
	progress                                  importProgress
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

	reasons := []string{event.ReasonPastRetention, event.ReasonFutureTimestamp, event.ReasonBadSyslog, string(logformat.ReasonOther)}
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
		dropped:       m.Dropped.WithLabelValues(stage, event.ReasonRawStreamFull),
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
	pubCtx, stopPublishing := i.startPublishing(ctx)
	defer stopPublishing()

	var (
		imports []importItem
		err     error
	)
	if !i.cfg.Follow {
		if imports, err = i.importList(); err != nil {
			return err
		}
		i.progress.start(imports)
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

	return i.finished(mode, begin, readErr)
}

// startPublishing returns the context publishing runs in, which outlives
// ctx by DrainTimeout so that a shutdown does not throw away batches that
// were already read, and starts following the handover.
func (i *Ingest) startPublishing(ctx context.Context) (pubCtx context.Context, stop func()) {
	pubCtx, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	stopDrain := context.AfterFunc(ctx, func() { time.AfterFunc(i.cfg.DrainTimeout, cancelPub) })
	// A followed file's checkpoint moves once a pseudonymiser took its
	// batches (handover.go). At shutdown that is waited for briefly: the
	// pseudonymisers usually still run; batches not seen taken stay in
	// the checkpoint and are read again, and recognised, at the next start.
	hctx, cancelHandover := context.WithCancel(pubCtx)
	stopHandover := context.AfterFunc(ctx, func() { time.AfterFunc(min(handoverGrace, i.cfg.DrainTimeout), cancelHandover) })
	i.handoverCtx = hctx
	go i.handover.run(hctx)
	return pubCtx, func() {
		stopHandover()
		cancelHandover()
		stopDrain()
		cancelPub()
	}
}

// finished logs the summary of a run and returns its error: a file that
// could not be read, or records JetStream did not acknowledge in time.
func (i *Ingest) finished(mode string, begin time.Time, readErr error) error {
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
