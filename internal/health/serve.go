package health

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/httpguard"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/secrets"
)

// TokenName is the generated credential of vakt's HTTP listener, under
// <data>/credentials/.
const TokenName = "http.token"

// Served is what Serve started.
type Served struct {
	Addr  string // host:port; empty when nothing is served
	Token string // empty when http.auth is none
}

// DashboardURL is the address to open in a browser: with the token, which
// the page exchanges for a session cookie at once.
func (h Served) DashboardURL() string {
	if h.Token == "" {
		return "http://" + h.Addr + "/"
	}
	return "http://" + h.Addr + "/?token=" + h.Token
}

// openPath reports the paths served without authentication: the probes
// (states with no addresses, see Readiness) and the page's static files.
func openPath(p string) bool {
	return p == "/healthz" || p == "/readyz" || p == "/favicon.ico" || strings.HasPrefix(p, "/assets/")
}

// Serve serves /metrics, /healthz, /readyz (ready's answer) and whatever
// mount adds (the dashboard) on the http section's listener, behind the
// Host, Origin and token checks (httpguard) and with bounded connections,
// times and headers. A busy port is logged, not fatal: the pipeline matters
// more than its metrics; so is a token that cannot be read, and then
// nothing is served.
func Serve(hc config.HTTP, dataDir string, m *metrics.Pipeline, ready func(context.Context) Readiness, log *slog.Logger, mount ...func(*http.ServeMux)) (Served, func()) {
	if hc.Listen == "" {
		return Served{}, func() {}
	}
	var token string
	if hc.Auth != "none" {
		var err error
		if token, err = secrets.Ensure(dataDir, TokenName); err != nil {
			log.Warn("dashboard and metrics endpoint disabled: no token", "err", err)
			return Served{}, func() {}
		}
	}
	ln, err := net.Listen("tcp", hc.Listen)
	if err != nil {
		log.Warn("metrics endpoint disabled", "listen", hc.Listen, "err", err)
		return Served{}, func() {}
	}
	if hc.Auth == "none" && !httpguard.LoopbackListen(hc.Listen) {
		log.Warn("the dashboard and /metrics are served on a non-loopback address without authentication (http.auth: none)",
			"listen", hc.Listen)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	Handlers(mux, ready)
	for _, f := range mount {
		f(mux)
	}
	stop := httpguard.Serve(ln, mux, httpguard.Options{
		Token:        token,
		AllowedHosts: hc.AllowedHosts,
		Open:         openPath,
		OnRefuse:     func(reason string) { m.HTTPRefused.WithLabelValues(reason).Inc() },
	})
	return Served{Addr: ln.Addr().String(), Token: token}, stop
}
