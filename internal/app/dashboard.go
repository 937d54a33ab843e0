package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/analyze/web"
	"github.com/vakt-dev/vakt/enforce"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// dashboardRoutes builds the web dashboard `vakt run` serves at / next to
// /metrics, over this process's engines.
func dashboardRoutes(ctx context.Context, cfg config.Config, eng *Engines, log *slog.Logger, m *metrics.Pipeline) func(*http.ServeMux) {
	pc := cfg.Pseudonymize.WithDefaults()
	o := web.Options{
		CH:          eng.CH,
		Database:    cfg.ClickHouse.Database,
		RuleDirs:    []string{cfg.Rules.Dir},
		EpochLength: pc.EpochLength,
		Grace:       pc.Grace,
		// What vakt keeps and for how long, as `vakt retention` states it.
		Retention: func(ctx context.Context) ([]web.Retention, error) {
			return analyze.RetentionOf(ctx, eng.CH, nil, cfg).Rows()
		},
		Pipeline: func(ctx context.Context) any { return eng.ready(ctx) },
		OnQuery:  func(endpoint string) { m.DashboardQueries.WithLabelValues(endpoint).Inc() },
		Log:      log,
	}
	for _, s := range cfg.Pseudonymize.GeoIP.OpenSources() {
		o.Attribution = append(o.Attribution, web.Attribution{Text: s.Attribution, Links: s.AttributionLinks})
	}
	if ojs, err := eng.StageJS(bus.StageReport); err != nil {
		o.Restricted = func(ctx context.Context) (context.Context, error) { return ctx, err }
	} else {
		o.Restricted = func(ctx context.Context) (context.Context, error) { return analyze.LoadRestricted(ctx, ojs) }
	}
	// A salt store of its own only reads the bucket: the pseudonymiser's
	// creates and destroys the salts.
	// It reads the salt bucket, which only the pseudonymiser's NATS user
	// may: the schedule is shown, never a salt.
	if pjs, err := eng.StageJS(bus.StagePseudonymize); err != nil {
		o.SaltsErr = err
	} else if salts, err := pseudonymize.NewSaltStore(ctx, pjs, pc, log); err != nil {
		o.SaltsErr = err
	} else {
		o.Salts = salts
	}
	// The decision endpoint's bans, read as the alert loop's user.
	if ds, err := enforce.OpenDecisions(ctx, eng.JS, cfg.Streams.Replicas); err == nil {
		o.Decisions = func(ctx context.Context) (any, error) {
			list, err := ds.List(ctx)
			if list == nil {
				list = []enforce.Listed{}
			}
			return list, err
		}
	}
	return web.New(o).Register
}
