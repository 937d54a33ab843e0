package app

import (
	"context"
	"io"
	"log/slog"

	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
)

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
