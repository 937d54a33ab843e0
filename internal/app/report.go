package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/config"
)

// ReportCommand is `vakt report NAME`: it checks the request (a broken
// rule file fails before any engine starts), then computes the report over
// the store of cfg and writes it to out in o.Format.
func ReportCommand(ctx context.Context, cfg config.Config, name string, o analyze.ReportOptions, log *slog.Logger, out io.Writer) error {
	req, err := analyze.NewReportRequest(name, o, cfg.Rules.Dir, time.Now())
	if err != nil {
		return err
	}
	eng, err := OpenEngines(ctx, cfg, Need{ClickHouse: true}, "report", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	return req.Write(ctx, eng.CH, cfg.ClickHouse.Database, log, out)
}
