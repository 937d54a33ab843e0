package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/health"
	"github.com/vakt-dev/vakt/internal/httpguard"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/secrets"
)

// HTTPTokenName is the generated credential of vakt's HTTP listener, under
// <data>/credentials/.
const HTTPTokenName = "http.token"

// httpServed is what serveHTTP started.
type httpServed struct {
	Addr  string // host:port; empty when nothing is served
	Token string // empty when http.auth is none
}

// DashboardURL is the address to open in a browser: with the token, which
// the page exchanges for a session cookie at once.
func (h httpServed) DashboardURL() string {
	if h.Token == "" {
		return "http://" + h.Addr + "/"
	}
	return "http://" + h.Addr + "/?token=" + h.Token
}

// openPath reports the paths served without authentication: the probes
// (states with no addresses, see readiness) and the page's static files.
func openPath(p string) bool {
	return p == "/healthz" || p == "/readyz" || p == "/favicon.ico" || strings.HasPrefix(p, "/assets/")
}

// serveHTTP serves /metrics, /healthz, /readyz and whatever mount adds (the
// dashboard), behind the Host, Origin and token checks (httpguard) and with
// bounded connections, times and headers. A busy port is logged, not
// fatal: the pipeline matters more than its metrics; so is a token that
// cannot be read, and then nothing is served.
func serveHTTP(cfg config.Config, m *metrics.Pipeline, eng *Engines, log *slog.Logger, mount ...func(*http.ServeMux)) (httpServed, func()) {
	listen := cfg.HTTP.Listen
	if listen == "" {
		return httpServed{}, func() {}
	}
	var token string
	if cfg.HTTP.Auth != "none" {
		var err error
		if token, err = secrets.Ensure(cfg.DataDir, HTTPTokenName); err != nil {
			log.Warn("dashboard and metrics endpoint disabled: no token", "err", err)
			return httpServed{}, func() {}
		}
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		log.Warn("metrics endpoint disabled", "listen", listen, "err", err)
		return httpServed{}, func() {}
	}
	if cfg.HTTP.Auth == "none" && !httpguard.LoopbackListen(listen) {
		log.Warn("the dashboard and /metrics are served on a non-loopback address without authentication (http.auth: none)",
			"listen", listen)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	var ready func(context.Context) readiness
	if eng != nil {
		ready = eng.ready
	}
	health.Handlers(mux, ready)
	for _, f := range mount {
		f(mux)
	}
	stop := httpguard.Serve(ln, mux, httpguard.Options{
		Token:        token,
		AllowedHosts: cfg.HTTP.AllowedHosts,
		Open:         openPath,
		OnRefuse:     func(reason string) { m.HTTPRefused.WithLabelValues(reason).Inc() },
	})
	return httpServed{Addr: ln.Addr().String(), Token: token}, stop
}

// readiness is the /readyz answer (health.Readiness).
type readiness = health.Readiness

// ready checks the engines this process uses (health.Check).
func (e *Engines) ready(ctx context.Context) readiness {
	return health.Check(ctx, health.Deps{NC: e.NC, JS: e.JS, CH: e.CH, InsertHealth: e.insertHealth})
}
