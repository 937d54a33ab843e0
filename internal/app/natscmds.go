package app

import (
	"context"
	"io"
	"log/slog"

	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// SaltsStatus is `vakt salts status`, on a running vakt's NATS or the
// embedded one.
func SaltsStatus(ctx context.Context, cfg config.Config, format string, log *slog.Logger, out io.Writer) error {
	return withSaltBucket(ctx, cfg, format, log, func(eng *Engines) error {
		return pseudonymize.SaltsStatus(ctx, eng.JS, cfg.Pseudonymize, format, log, out)
	})
}

// SaltsRotate is `vakt salts rotate`.
func SaltsRotate(ctx context.Context, cfg config.Config, destroyNow bool, format string, log *slog.Logger, out io.Writer) error {
	return withSaltBucket(ctx, cfg, format, log, func(eng *Engines) error {
		return pseudonymize.SaltsRotate(ctx, eng.JS, cfg.Pseudonymize, destroyNow, format, log, out)
	})
}

// withSaltBucket connects as the user that may touch the salt bucket, once
// the format is known to be one `vakt salts` writes.
func withSaltBucket(ctx context.Context, cfg config.Config, format string, log *slog.Logger, run func(*Engines) error) error {
	if err := pseudonymize.CheckSaltsFormat(format); err != nil {
		return err
	}
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageSalts}, "salts", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	return run(eng)
}

// Quarantine is `vakt quarantine`, as the user that may read the
// quarantine stream.
func Quarantine(ctx context.Context, cfg config.Config, f ingest.QuarantineFilter, format string, log *slog.Logger, out io.Writer) error {
	if err := ingest.CheckQuarantineFormat(format); err != nil {
		return err
	}
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageQuarantine}, "quarantine", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	return ingest.PrintQuarantine(ctx, eng.JS, f, format, out)
}
