package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/analyze/web"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
)

// dashboardRoutes builds the web dashboard `vakt run` serves at / next to
// /metrics, over this process's engines.
func dashboardRoutes(ctx context.Context, cfg config.Config, eng *Engines, log *slog.Logger, m *metrics.Pipeline) func(*http.ServeMux) {
	pc := pseudonymizeConfig(cfg).WithDefaults()
	o := web.Options{
		CH:          eng.CH,
		Database:    cfg.ClickHouse.Database,
		RuleDirs:    []string{cfg.Rules.Dir},
		EpochLength: pc.EpochLength,
		Grace:       pc.Grace,
		Retention: func(ctx context.Context) ([]web.Retention, error) {
			return dashboardRetention(ctx, cfg, eng.CH)
		},
		Pipeline: func(ctx context.Context) any { return eng.ready(ctx) },
		OnQuery:  func(endpoint string) { m.DashboardQueries.WithLabelValues(endpoint).Inc() },
		Log:      log,
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
	return web.New(o).Register
}

// dashboardRetention lists what vakt keeps and for how long: the stages'
// lifetimes from the configuration, and each table's TTL as the table
// states it (as `vakt retention` reads it), or as configured when the
// tables cannot be read, with the reason.
func dashboardRetention(ctx context.Context, cfg config.Config, ch driver.Conn) ([]web.Retention, error) {
	pc := pseudonymizeConfig(cfg).WithDefaults()
	db := cfg.ClickHouse.Database
	out := []web.Retention{
		{Data: "Raw events (with IPs)", Where: "NATS stream " + bus.RawStream + ", memory only", Keep: cfg.Streams.RawMaxAge.D(),
			Note: "deleted once pseudonymised; at most this old"},
		{Data: "Salts", Where: "NATS KV bucket " + bus.SaltBucket, Keep: pc.EpochLength + pc.Grace,
			Note: "one per epoch of " + durationWords(pc.EpochLength) + ", destroyed " + durationWords(pc.Grace) + " after the epoch ends"},
		{Data: "Pseudonymised events in transit", Where: "NATS stream " + bus.EventsStream, Keep: cfg.Streams.EventsMaxAge.D(),
			Note: "deleted once stored; at most this old while the store is down"},
	}
	sc := schemaConfig(cfg)
	configured := store.ConfiguredRetention(sc)
	read, err := store.ReadRetention(ctx, ch, sc)
	if err != nil {
		err = fmt.Errorf("table retention from the configuration: %w", err)
	}
	labels := map[string]string{
		store.RequestsTable: "Pseudonymised requests",
		store.ClientsTable:  "Hourly activity per pseudonymous client",
		store.HealthTable:   "Per-minute site health (no client ids)",
	}
	for i, c := range configured {
		r := web.Retention{Data: cmp.Or(labels[c.Table], c.Table), Where: "ClickHouse " + db + "." + c.Table, Keep: c.TTL,
			Note: "TTL by whole days (" + c.ConfigKey + "): rows live up to one day longer"}
		if err == nil && i < len(read) && read[i].TTL != c.TTL {
			r.Keep = read[i].TTL
			r.Note = fmt.Sprintf("%s asks for %s; the table changes at the next start or with vakt migrate", c.ConfigKey, days(c.TTL))
		}
		out = append(out, r)
	}
	return out, err
}
