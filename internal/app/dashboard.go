package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/dashboard"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// dashboardRoutes builds the web dashboard `vakt run` serves at / next to
// /metrics, over this process's engines.
func dashboardRoutes(ctx context.Context, cfg config.Config, eng *Engines, log *slog.Logger) func(*http.ServeMux) {
	pc := pseudonymizeConfig(cfg).WithDefaults()
	o := dashboard.Options{
		CH:          eng.CH,
		Database:    cfg.ClickHouse.Database,
		EpochLength: pc.EpochLength,
		Grace:       pc.Grace,
		Retention: func(context.Context) ([]dashboard.Retention, error) {
			return dashboardRetention(cfg), nil
		},
		Pipeline: func(ctx context.Context) any { return eng.ready(ctx) },
		Log:      log,
	}
	// A salt store of its own only reads the bucket: the pseudonymiser's
	// creates and destroys the salts.
	if salts, err := pseudonymize.NewSaltStore(ctx, eng.JS, pc, log); err != nil {
		o.SaltsErr = err
	} else {
		o.Salts = salts
	}
	if host, _, err := net.SplitHostPort(cfg.HTTP.Listen); err == nil {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			log.Warn("the dashboard is served on a non-loopback address with no authentication; put it behind an authenticating proxy",
				"listen", cfg.HTTP.Listen)
		}
	}
	return dashboard.New(o).Register
}

// dashboardRetention lists what vakt keeps and for how long, from the
// configuration.
func dashboardRetention(cfg config.Config) []dashboard.Retention {
	pc := pseudonymizeConfig(cfg).WithDefaults()
	db := cfg.ClickHouse.Database
	return []dashboard.Retention{
		{Data: "Raw events (with IPs)", Where: "NATS stream " + bus.RawStream + ", memory only", Keep: cfg.Streams.RawMaxAge.D(),
			Note: "deleted once pseudonymised; at most this old"},
		{Data: "Salts", Where: "NATS KV bucket " + bus.SaltBucket, Keep: pc.EpochLength + pc.Grace,
			Note: "one per epoch of " + config.Duration(pc.EpochLength).String() + ", destroyed " + config.Duration(pc.Grace).String() + " after the epoch ends"},
		{Data: "Pseudonymised events in transit", Where: "NATS stream " + bus.EventsStream, Keep: cfg.Streams.EventsMaxAge.D(),
			Note: "deleted once stored; at most this old while the store is down"},
		{Data: "Pseudonymised requests", Where: "ClickHouse " + db + ".requests", Keep: cfg.Retention.Requests.D(),
			Note: "TTL by day partition: rows live between this and one day more"},
	}
}
