package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/health"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
)

// RunStage is `vakt ingest`, `vakt pseudonymize` or `vakt store`: one stage
// on its own, for running each stage as its own service against external
// NATS and ClickHouse.
func RunStage(ctx context.Context, cfg config.Config, name string, log *slog.Logger) error {
	m := metrics.New()
	need := Need{NATS: true, ClickHouse: name == "store", Stage: bus.Stage(name)}
	eng, err := OpenEngines(ctx, cfg, need, name, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	var stage Stage
	switch name {
	case "ingest":
		if !cfg.Ingest.HasSource() {
			return fmt.Errorf("ingest: no source: give --file GLOB, set ingest.files, or use --demo")
		}
		stage, err = ingest.New(cfg.IngestStage(true), eng.JS, log, m)
	case "pseudonymize":
		stage, err = pseudonymize.New(cfg.PseudonymizeStage(), eng.JS, log, m)
	case "store":
		if err := migrateOnStart(ctx, eng.CH, cfg, log); err != nil {
			return stoppedMigrating(err)
		}
		var st *store.Store
		if st, err = store.New(cfg.StoreStage(eng.CHConfig), eng.JS, eng.CH, log, m); err == nil {
			eng.insertHealth, stage = st.InsertHealth, st
		}
	default:
		return fmt.Errorf("unknown stage %q", name)
	}
	if err != nil {
		return err
	}
	stages := map[string]Stage{name: stage}
	if name == "pseudonymize" && cfg.Enforce.Enabled() {
		// The decision endpoint belongs to the pseudonymiser's trust zone:
		// it needs the salts.
		ep, at, err := startEnforce(ctx, cfg, eng, log, m)
		if err != nil {
			return err
		}
		stages["enforce"] = ep
		log.Info("decision endpoint", "at", at)
	}
	_, stopHTTP := health.Serve(cfg.HTTP, cfg.DataDir, m, eng.ready, log)
	defer stopHTTP()
	log.Info("stage running", "stage", name)
	return runStages(ctx, stages)
}

// errStoppedMigrating is a service stopped (SIGTERM, Ctrl-C) while its
// startup migrations ran: a clean stop, since every migration step is
// idempotent and the next start completes it (store/migrate.go).
var errStoppedMigrating = errors.New("stopped before the schema migrations finished")

// migrateOnStart runs the migrations as a stage starts (store.MigrateOnStart).
// Cut short by ctx, it returns errStoppedMigrating.
func migrateOnStart(ctx context.Context, conn driver.Conn, cfg config.Config, log *slog.Logger) error {
	err := store.MigrateOnStart(ctx, conn, cfg.Schema(), log)
	if err != nil && ctx.Err() != nil {
		log.Info("stopped before the schema migrations finished; the next start completes them", "err", err)
		return fmt.Errorf("%w: %w", errStoppedMigrating, err)
	}
	return err
}

// stoppedMigrating is nil for errStoppedMigrating: a service asked to stop
// while it migrated has stopped as asked.
func stoppedMigrating(err error) error {
	if errors.Is(err, errStoppedMigrating) {
		return nil
	}
	return err
}
