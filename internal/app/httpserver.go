package app

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/httpguard"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/secrets"
)

// HTTPTokenName is the generated credential of vakt's HTTP listener, under
// <data>/credentials/.
const HTTPTokenName = "http.token"

// Bounds of vakt's HTTP listener. Its answers are small, but a dashboard
// answer over a long range may take up to the dashboard's query timeout
// (60s) to compute.
const (
	httpMaxConns          = 64
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 10 * time.Second // no endpoint takes a body
	httpWriteTimeout      = 75 * time.Second
	httpIdleTimeout       = 60 * time.Second
	httpMaxHeaderBytes    = 32 << 10
)

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
	if cfg.HTTP.Auth == "none" && !loopbackListen(listen) {
		log.Warn("the dashboard and /metrics are served on a non-loopback address without authentication (http.auth: none)",
			"listen", listen)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	healthHandlers(mux, eng)
	for _, f := range mount {
		f(mux)
	}
	guard := httpguard.New(httpguard.Options{
		Token:        token,
		Listen:       ln.Addr().String(),
		AllowedHosts: cfg.HTTP.AllowedHosts,
		Open:         openPath,
		OnRefuse:     func(reason string) { m.HTTPRefused.WithLabelValues(reason).Inc() },
	})
	srv := &http.Server{
		Handler:           guard.Wrap(mux),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		// Connection errors name the client's address: not logged.
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	go srv.Serve(httpguard.LimitListener(ln, httpMaxConns))
	return httpServed{Addr: ln.Addr().String(), Token: token}, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
}

// loopbackListen reports whether a listen address is on loopback only.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
