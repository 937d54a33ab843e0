package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/analyze/web"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/health"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
)

// Stage is what every pipeline stage implements.
type Stage interface {
	Run(ctx context.Context) error
}

// Run is `vakt run`: every stage in one process, on the configured or the
// embedded engines, until ctx ends.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	m := metrics.New()
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, ClickHouse: true}, "run", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	if !eng.Owner && (cfg.EmbeddedNATS() || cfg.EmbeddedClickHouse()) {
		return fmt.Errorf("another vakt already runs on data dir %s; stop it first, or use another --data-dir", cfg.DataDir)
	}
	if err := migrateOnStart(ctx, eng.CH, cfg, log); err != nil {
		return stoppedMigrating(err)
	}
	stages, err := pipelineStages(cfg, eng, log, m)
	if err != nil {
		return err
	}
	extra, err := addOptionalStages(ctx, cfg, eng, log, m, stages)
	if err != nil {
		return err
	}
	go pollLag(ctx, eng.JS, m, lagInterval)
	dash := web.Configured(ctx, cfg, web.Engines{CH: eng.CH, JS: eng.JS, StageJS: eng.StageJS,
		Ready: func(ctx context.Context) any { return eng.ready(ctx) }}, m, log)
	httpSrv, stopHTTP := health.Serve(cfg.HTTP, cfg.DataDir, m, eng.ready, log, dash.Register)
	defer stopHTTP()

	printRunning(out, cfg, eng, httpSrv.Addr, httpSrv.DashboardURL(), extra)
	go store.ReportProgress(ctx, eng.CH, 5*time.Second, out)
	front := map[string]Stage{}
	for _, name := range []string{"ingest", "alerts", "enforce"} {
		if s, ok := stages[name]; ok {
			front[name] = s
			delete(stages, name)
		}
	}
	return runStagesInOrder(ctx, front, stages, drainStep{
		wait:    func(ctx context.Context) error { return bus.WaitDrained(ctx, eng.JS, 100*time.Millisecond) },
		timeout: cfg.ShutdownTimeout.D(), log: log,
	})
}

// printRunning tells the operator where everything is.
func printRunning(out io.Writer, cfg config.Config, eng *Engines, httpAddr, dashboardURL string, x optionalStages) {
	fmt.Fprintf(out, "vakt is running (data dir %s)\n", cfg.DataDir)
	if eng.natsSrv != nil {
		fmt.Fprintf(out, "  NATS (embedded):        %s\n", natsListenerHint(cfg, eng.natsURL))
	}
	fmt.Fprintf(out, "  ClickHouse endpoint:    http://%s%s\n", eng.CHAddr, clickHouseHint(cfg, eng.CHAddr))
	if httpAddr != "" {
		// The URL carries the token: the operator's terminal may show it,
		// no log line does.
		fmt.Fprintf(out, "  dashboard:              %s\n", dashboardURL)
		fmt.Fprintf(out, "  metrics and health:     http://%s/metrics (Authorization: Bearer <%s>)  /healthz  /readyz\n",
			httpAddr, secrets.Path(cfg.DataDir, HTTPTokenName))
	}
	if x.enforceAt != "" {
		fmt.Fprintf(out, "  decision endpoint:      %s\n", x.enforceAt)
	}
	if x.selfService != "" {
		fmt.Fprintf(out, "  self-service page:      %s\n", x.selfService)
	}
	fmt.Fprintf(out, "  query from a shell:     vakt sql --data-dir %s \"SELECT site, count() FROM vakt.requests GROUP BY site\"\n", cfg.DataDir)
	if x.sources == 0 {
		fmt.Fprintln(out, "  no log source configured: set ingest.files, use --demo, or publish to vakt.raw.<site>")
	}
}

// drainStep is what a stop waits for between ending the front stages and
// the back ones; its zero value waits for nothing.
type drainStep struct {
	wait    func(context.Context) error // returns once the pipeline drained
	timeout time.Duration               // at most this long; 0: no wait
	log     *slog.Logger
}

// runStages runs stages that need no stop order (runStagesInOrder with
// back stages only) until ctx ends or one fails, which stops the others.
func runStages(ctx context.Context, stages map[string]Stage) error {
	return runStagesInOrder(ctx, nil, stages, drainStep{})
}

// runStagesInOrder runs the front stages (the sources) and the back stages
// (pseudonymise, store) until ctx ends or one fails. At a stop it ends the
// front stages first (ingest publishes what it has read), then lets the back
// stages work until drain.wait returns or drain.timeout passes, and only
// then stops them: what ingest acknowledged is stored before the process
// exits, and nothing stays behind in the in-memory RAW stream of an
// embedded NATS that is about to go away. A failure stops everything at
// once and is returned.
func runStagesInOrder(ctx context.Context, front, back map[string]Stage, drain drainStep) error {
	failed := make(chan struct{})
	var failOnce sync.Once
	errs := make(chan error, len(front)+len(back))
	frontCtx, cancelFront := context.WithCancel(ctx)
	defer cancelFront()
	backCtx, cancelBack := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBack()
	start := func(wg *sync.WaitGroup, sctx context.Context, stages map[string]Stage) {
		for name, s := range stages {
			wg.Go(func() {
				if err := s.Run(sctx); err != nil && !errors.Is(err, context.Canceled) {
					errs <- stageError(name, err)
					failOnce.Do(func() {
						close(failed)
						cancelFront()
						cancelBack()
					})
				}
			})
		}
	}
	var fwg, bwg sync.WaitGroup
	start(&bwg, backCtx, back)
	start(&fwg, frontCtx, front)
	select {
	case <-ctx.Done():
	case <-failed:
	}
	fwg.Wait()
	select {
	case <-failed:
	default:
		if len(back) > 0 && drain.timeout > 0 {
			drain.run(ctx)
		}
	}
	cancelBack()
	bwg.Wait()
	close(errs)
	return <-errs
}

// run waits for the pipeline to drain, for at most the timeout.
func (d drainStep) run(ctx context.Context) {
	begin := time.Now()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout)
	defer cancel()
	if err := d.wait(dctx); err != nil {
		d.log.Warn("stopping before the pipeline drained; what is left is read again at the next start",
			"shutdown_timeout", d.timeout, "err", err)
	} else {
		d.log.Info("pipeline drained", "took", time.Since(begin).Round(time.Millisecond))
	}
}

// pipelineStages builds the pseudonymise and store stages.
func pipelineStages(cfg config.Config, eng *Engines, log *slog.Logger, m *metrics.Pipeline) (map[string]Stage, error) {
	// Each stage on its own connection as its own NATS user (embedded).
	pjs, err := eng.StageJS(bus.StagePseudonymize)
	if err != nil {
		return nil, err
	}
	sjs, err := eng.StageJS(bus.StageStore)
	if err != nil {
		return nil, err
	}
	ps, err := pseudonymize.New(cfg.PseudonymizeStage(), pjs, log, m)
	if err != nil {
		return nil, err
	}
	st, err := store.New(cfg.StoreStage(eng.CHConfig), sjs, eng.CH, log, m)
	if err != nil {
		return nil, err
	}
	eng.insertHealth = st.InsertHealth
	return map[string]Stage{"pseudonymize": ps, "store": st}, nil
}

// lagInterval is how often consumer lag is polled for /metrics.
const lagInterval = 5 * time.Second

// pollLag sets the consumer lag gauges (vakt_consumer_pending and
// vakt_consumer_ack_pending) every interval until ctx ends. A consumer that
// cannot be read keeps its last value.
func pollLag(ctx context.Context, js jetstream.JetStream, m *metrics.Pipeline, every time.Duration) {
	bus.PollLag(ctx, js, every, func(consumer string, pending uint64, ackPending int) {
		m.ConsumerPending.WithLabelValues(consumer).Set(float64(pending))
		m.ConsumerAckPending.WithLabelValues(consumer).Set(float64(ackPending))
	})
}

// stageError names the stage in err, unless the stage's own package named
// itself already (ingest's and pseudonymize's errors do): one prefix, not
// "ingest: ingest: ...".
func stageError(name string, err error) error {
	if strings.HasPrefix(err.Error(), name+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}
