package httpguard

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Bounds of a guarded listener. Its answers are small, but a dashboard
// answer over a long range may take up to the dashboard's query timeout
// (60s) to compute.
const (
	maxConns          = 64
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second // no endpoint takes a body
	writeTimeout      = 75 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 32 << 10
)

// Serve serves h on ln behind a Guard of o (o.Listen defaults to ln's
// address), with bounded connections, times and headers, until the
// returned stop is called.
func Serve(ln net.Listener, h http.Handler, o Options) (stop func()) {
	if o.Listen == "" {
		o.Listen = ln.Addr().String()
	}
	srv := &http.Server{
		Handler:           New(o).Wrap(h),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Connection errors name the client's address: not logged.
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	go srv.Serve(LimitListener(ln, maxConns))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}
}

// LoopbackListen reports whether a listen address is on loopback only.
func LoopbackListen(listen string) bool {
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
