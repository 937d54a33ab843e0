package app

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/bus"
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
	// NATS too: the restriction list of data subjects' requests.
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, ClickHouse: true, Stage: bus.StageReport}, "report", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	if ctx, err = analyze.LoadRestricted(ctx, eng.JS); err != nil {
		return err
	}
	return req.Write(ctx, eng.CH, cfg.ClickHouse.Database, log, out)
}

// retentionLifetimes are the stages' lifetimes the retention policy states:
// the salt schedule the pseudonymiser uses, the streams' maximum ages.
func retentionLifetimes(cfg config.Config) analyze.Lifetimes {
	pc := cfg.Pseudonymize.WithDefaults()
	return analyze.Lifetimes{
		RawIPMaxAge: cfg.Streams.RawMaxAge, EventsMaxAge: cfg.Streams.EventsMaxAge,
		SaltEpoch: pc.EpochLength, SaltDestroys: pc.Grace,
	}
}

// ReadRetention reads the retention from the tables when ClickHouse is
// reachable and the tables exist, and from the configuration otherwise.
func ReadRetention(ctx context.Context, cfg config.Config, log *slog.Logger) analyze.RetentionPolicy {
	eng, err := OpenEngines(ctx, cfg, Need{ClickHouse: true}, "retention", log)
	if err != nil {
		return analyze.ReadRetention(ctx, nil, err, schemaConfig(cfg), retentionLifetimes(cfg))
	}
	defer eng.Close()
	return analyze.ReadRetention(ctx, eng.CH, nil, schemaConfig(cfg), retentionLifetimes(cfg))
}

// RetentionCommand is `vakt retention`.
func RetentionCommand(ctx context.Context, cfg config.Config, format string, log *slog.Logger, out io.Writer) error {
	return ReadRetention(ctx, cfg, log).Write(format, out)
}

// ReadRetentionWith is ReadRetention over engines already open.
func ReadRetentionWith(ctx context.Context, cfg config.Config, eng *Engines) analyze.RetentionPolicy {
	return analyze.ReadRetention(ctx, eng.CH, nil, schemaConfig(cfg), retentionLifetimes(cfg))
}
