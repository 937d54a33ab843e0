package app

import (
	"context"
	"io"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/progress"
	"github.com/vakt-dev/vakt/store"
)

// MigrateOptions are the flags of `vakt migrate`.
type MigrateOptions = store.MigrateOptions

// MigrateCommand is `vakt migrate` (store.MigrateCommand) on the
// configured or the embedded engine. With a progress writer (see
// progress.Writer), a step that copies rows draws a bar there.
func MigrateCommand(ctx context.Context, cfg config.Config, opts MigrateOptions, progressW io.Writer, log *slog.Logger, out io.Writer) error {
	sc := schemaConfig(cfg)
	if opts.PrintSQL {
		return store.PrintSQL(out, sc, opts.Roles)
	}
	eng, err := OpenEngines(ctx, cfg, Need{ClickHouse: true}, "migrate", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	if progressW != nil {
		bars := progress.NewSteps(progressW)
		defer bars.Finish()
		ctx = store.WithMigrateProgress(ctx, bars.Update)
	}
	return store.MigrateCommand(ctx, eng.CH, eng.CHAddr, sc, opts.Roles, cfg.EmbeddedClickHouse(), out)
}

// migrateOnStart runs the migrations as a stage starts (store.MigrateOnStart).
func migrateOnStart(ctx context.Context, conn driver.Conn, cfg config.Config, log *slog.Logger) error {
	return store.MigrateOnStart(ctx, conn, schemaConfig(cfg), log)
}

// schemaConfig is the tables' set-up: the clickhouse and retention
// sections.
func schemaConfig(c config.Config) store.SchemaConfig {
	return store.SchemaConfig{
		Database:         c.ClickHouse.Database,
		Cluster:          c.ClickHouse.Cluster,
		RequestsTTL:      c.Retention.Requests.D(),
		ClientRollupsTTL: c.Retention.ClientRollups.D(),
		HealthRollupsTTL: c.Retention.HealthRollups.D(),
	}
}
