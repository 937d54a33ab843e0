package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/progress"
	"github.com/vakt-dev/vakt/store"
)

// Import is `vakt import`: it pushes whole files through the pipeline and
// returns once every line is stored or rejected.
//
// It runs its own pseudonymise and store stages, which join any replicas
// already consuming (a running `vakt run` on the same data dir, or stages on
// a cluster): the stages share durable consumers, so the work is split and
// each event is stored once. "Stored" is confirmed by the pipeline draining:
// the store acknowledges an event only after ClickHouse committed it.
// With a progress writer (progress.Writer), a bar is drawn there.
func Import(ctx context.Context, cfg config.Config, files []string, log *slog.Logger, progressW io.Writer) (ingest.ImportSummary, error) {
	start := time.Now()
	// A file that cannot be read fails the import before engines start.
	if err := ingest.CheckImportFiles(files); err != nil {
		return ingest.ImportSummary{}, err
	}
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, ClickHouse: true}, "import", log)
	if err != nil {
		return ingest.ImportSummary{}, err
	}
	defer eng.Close()
	im, err := StartImport(ctx, cfg, eng, files, metrics.New(), log)
	if err != nil {
		return ingest.ImportSummary{}, err
	}
	defer im.Close()
	if progressW != nil {
		bar := progress.StartImport(progressW, im.progressState)
		err = im.Run(ctx)
		bar.Finish()
	} else {
		err = im.Run(ctx)
	}
	// Stop the stages before counting, so that what the store commits
	// while stopping is counted too.
	im.Close()
	return im.summary(start), err
}

// Importer pushes whole files through the pipeline: the pseudonymise and
// store stages run on eng while ingest reads the files. `vakt import` and
// `vakt bench` share it.
type Importer struct {
	eng        *Engines
	in         *ingest.Ingest
	store      *store.Store
	stagesDone chan error
	stopStages context.CancelFunc
	closeOnce  sync.Once
	drained    bool // Run saw everything published acknowledged
}

// StartImport migrates the schema, starts the stages and prepares ingest.
func StartImport(ctx context.Context, cfg config.Config, eng *Engines, files []string, m *metrics.Pipeline, log *slog.Logger) (*Importer, error) {
	if err := migrateOnStart(ctx, eng.CH, cfg, log); err != nil {
		return nil, err
	}
	stages, err := pipelineStages(cfg, eng, log, m)
	if err != nil {
		return nil, err
	}
	icfg := cfg.IngestStage(false)
	icfg.Files, icfg.Sources = files, nil // the files named, not the followed ones
	ijs, err := eng.StageJS(bus.StageIngest)
	if err != nil {
		return nil, err
	}
	in, err := ingest.New(icfg, ijs, log, m)
	if err != nil {
		return nil, err
	}
	stageCtx, stop := context.WithCancel(ctx)
	st, _ := stages["store"].(*store.Store)
	im := &Importer{eng: eng, in: in, store: st, stagesDone: make(chan error, 1), stopStages: stop}
	go func() { im.stagesDone <- runStages(stageCtx, stages) }()
	return im, nil
}

// Run reads the files and returns once every line is stored or rejected,
// or a stage failed.
func (im *Importer) Run(ctx context.Context) error {
	ingestErr := im.in.Run(ctx) // the ingest package names itself
	if ingestErr != nil && ctx.Err() != nil {
		return ingestErr // interrupted: what was published stays in flight
	}
	// Every batch is in the RAW stream (also when a file failed midway:
	// what was read before is stored); wait until the pseudonymisers and
	// stores have acknowledged all of it (not what other sources publish
	// meanwhile), or a stage fails.
	drained := make(chan error, 1)
	go func() { drained <- bus.WaitAcknowledgedUpTo(ctx, im.eng.JS, 20*time.Millisecond) }()
	var err error
	select {
	case err = <-drained:
		im.drained = err == nil
	case err = <-im.stagesDone:
		im.stagesDone <- err
		if err == nil {
			err = errors.New("stages stopped before the import was stored")
		}
	}
	if ingestErr != nil {
		return ingestErr
	}
	return err
}

// progressState is what the import's progress bar shows.
func (im *Importer) progressState() progress.ImportState {
	var stored uint64
	if im.store != nil {
		stored = im.store.Stats().Rows
	}
	return im.in.ImportState(stored)
}

// IngestStats are ingest's counts so far.
func (im *Importer) IngestStats() ingest.Stats { return im.in.Stats() }

// Close stops the stages; it may be called more than once.
func (im *Importer) Close() {
	im.closeOnce.Do(func() {
		im.stopStages()
		<-im.stagesDone
	})
}

// summary counts the import (ingest.Ingest.ImportSummary): this import's
// store stage's finds and commits.
func (im *Importer) summary(start time.Time) ingest.ImportSummary {
	var found, committed int64
	if im.store != nil {
		ss := im.store.Stats()
		found, committed = int64(ss.Duplicates), int64(ss.Rows)
	}
	return im.in.ImportSummary(found, committed, im.drained, time.Since(start))
}
