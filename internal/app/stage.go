package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/vakt-dev/vakt/analyze"
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
		if !cfg.Ingest.Demo && len(cfg.Ingest.Files) == 0 && len(cfg.Ingest.Sources) == 0 && !cfg.Ingest.Syslog.Enabled() {
			return fmt.Errorf("ingest: no source: give --file GLOB, set ingest.files, or use --demo")
		}
		stage, err = ingest.New(IngestConfig(cfg, true), eng.JS, log, m)
	case "pseudonymize":
		stage, err = pseudonymize.New(PseudonymizeConfig(cfg), eng.JS, log, m)
	case "store":
		if err := migrateOnStart(ctx, eng.CH, cfg, log); err != nil {
			return err
		}
		var st *store.Store
		if st, err = store.New(storeConfig(cfg, eng.CHConfig), eng.JS, eng.CH, log, m); err == nil {
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

// SQLCommand is `vakt sql`: it connects (or starts the embedded engine) and
// runs one statement.
func SQLCommand(ctx context.Context, cfg config.Config, query, format string, log *slog.Logger, out interface{ Write([]byte) (int, error) }) error {
	eng, err := OpenEngines(ctx, cfg, Need{ClickHouse: true}, "sql", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	if eng.Owner {
		// Nothing else has set the data dir up yet: make the tables exist.
		if err := store.Migrate(ctx, eng.CH, schemaConfig(cfg)); err != nil {
			return err // store names the schema in its errors
		}
	}
	return analyze.SQL(ctx, eng.CH, eng.CHConfig, query, format, out)
}

// storeConfig is the store section with the connection, the schema and
// the final flush of a stopping vakt (shutdown_timeout).
func storeConfig(c config.Config, ch store.ClickHouseConfig) store.Config {
	sc := c.Store
	sc.ClickHouse, sc.Schema, sc.ShutdownTimeout = ch, schemaConfig(c), c.ShutdownTimeout.D()
	return sc
}
