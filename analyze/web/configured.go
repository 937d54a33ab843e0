package web

import (
	"context"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/enforce"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// Engines are the connections of a running vakt the dashboard reads.
type Engines struct {
	CH driver.Conn
	// JS is the process's own connection: it reads the decision
	// endpoint's bans as the alert loop's user.
	JS jetstream.JetStream
	// StageJS connects as a stage's NATS user (the report's for the
	// restriction list, the pseudonymiser's for the salt bucket).
	StageJS func(bus.Stage) (jetstream.JetStream, error)
	// Ready is the pipeline's readiness (the /readyz answer).
	Ready func(context.Context) any
}

// Configured is the dashboard `vakt run` serves at / next to /metrics:
// over eng, on the configuration cfg, counting its queries in m.
func Configured(ctx context.Context, cfg config.Config, eng Engines, m *metrics.Pipeline, log *slog.Logger) *Dashboard {
	pc := cfg.Pseudonymize.WithDefaults()
	o := Options{
		CH:          eng.CH,
		Database:    cfg.ClickHouse.Database,
		RuleDirs:    []string{cfg.Rules.Dir},
		EpochLength: pc.EpochLength,
		Grace:       pc.Grace,
		// What vakt keeps and for how long, as `vakt retention` states it.
		Retention: func(ctx context.Context) ([]Retention, error) {
			return analyze.RetentionOf(ctx, eng.CH, nil, cfg).Rows()
		},
		Pipeline: eng.Ready,
		OnQuery:  func(endpoint string) { m.DashboardQueries.WithLabelValues(endpoint).Inc() },
		Log:      log,
	}
	for _, s := range cfg.Pseudonymize.GeoIP.OpenSources() {
		o.Attribution = append(o.Attribution, Attribution{Text: s.Attribution, Links: s.AttributionLinks})
	}
	if ojs, err := eng.StageJS(bus.StageReport); err != nil {
		o.Restricted = func(ctx context.Context) (context.Context, error) { return ctx, err }
	} else {
		o.Restricted = func(ctx context.Context) (context.Context, error) { return analyze.LoadRestricted(ctx, ojs) }
	}
	// A salt store of its own only reads the bucket: the pseudonymiser's
	// creates and destroys the salts. It reads the salt bucket, which only
	// the pseudonymiser's NATS user may: the schedule is shown, never a salt.
	if pjs, err := eng.StageJS(bus.StagePseudonymize); err != nil {
		o.SaltsErr = err
	} else if salts, err := pseudonymize.NewSaltStore(ctx, pjs, pc, log); err != nil {
		o.SaltsErr = err
	} else {
		o.Salts = salts
	}
	if ds, err := enforce.OpenDecisions(ctx, eng.JS, cfg.Streams.Replicas); err == nil {
		o.Decisions = func(ctx context.Context) (any, error) {
			list, err := ds.List(ctx)
			if list == nil {
				list = []enforce.Listed{}
			}
			return list, err
		}
	}
	return New(o)
}
