package app

import (
	"context"
	"io"
	"log/slog"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/config"
)

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
