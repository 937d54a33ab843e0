package enforce

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/vakt-dev/vakt/internal/httpguard"
)

// Bounds of the endpoint's connections: web servers send small requests
// on kept-alive connections and wait at most enforce.slow_answer.
const (
	readTimeout    = 2 * time.Second // a whole request, from its first byte
	writeTimeout   = 5 * time.Second
	idleTimeout    = 2 * time.Minute
	maxHeaderBytes = 16 << 10 // request line and headers: 431 beyond
	// maxBufferedBody: decision requests carry no body (Caddy's
	// reverse_proxy may pass the client's on); a larger one is not read
	// into memory but skipped by the server after the answer.
	maxBufferedBody = 4 << 10
)

// newServer is the endpoint's HTTP server. It is fasthttp, not net/http
// as vakt's other listeners: a decision is a sub-microsecond lookup, and
// net/http's per-request work (a goroutine's bufio, a header map and
// strings, a response header map, deadline timers) was most of its CPU
// (BENCHMARKS.md, "Decision endpoint"). fasthttp reuses all of that per
// connection. What httpguard gives the other listeners holds here too
// (TestEndpointGuards): the key (serve), the Host check (serve; no
// Origin check: the web servers pass their clients' Origin on, and a
// browser cannot send the key header cross-origin without a preflight,
// which is refused like any request without the key), timeouts, a cap on
// the request head and body, and on connections (httpguard.LimitListener
// in Run).
func (e *Endpoint) newServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               e.serve,
		ReadTimeout:           readTimeout,
		WriteTimeout:          writeTimeout,
		IdleTimeout:           idleTimeout,
		ReadBufferSize:        maxHeaderBytes,
		MaxRequestBodySize:    maxBufferedBody,
		StreamRequestBody:     true,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		// Connection errors name the peer's address: never logged.
		Logger: discardLogger{},
	}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

var (
	pathHealth = []byte("/healthz")
	denyBody   = []byte("denied\n")
)

// serve answers one decision request: 204 to allow, the decision's
// status (403 or 429) to deny. Any method and path are accepted: the web
// servers send the client's. Nothing of the request outlives the call
// (its bytes are reused for the connection's next request).
func (e *Endpoint) serve(c *fasthttp.RequestCtx) {
	start := c.Time() // read by the server just before this call: the clock is costly here
	h := &c.Request.Header
	if bytes.Equal(c.Path(), pathHealth) {
		c.SetContentType("text/plain")
		c.SetBodyString("ok\n")
		return
	}
	if !e.guard.HostAllowed(transient(h.Host())) {
		c.Error("this endpoint answers only to loopback names and enforce.allowed_hosts", http.StatusForbidden)
		return
	}
	if e.key != "" && subtle.ConstantTimeCompare(requestKey(c), e.keyBytes) != 1 {
		// 401, never 403: the snippets treat it as an error and fail
		// open, so a wrong key cannot lock a site's visitors out.
		c.Error("send the key of <data_dir>/credentials/enforce.key as "+HeaderKey, http.StatusUnauthorized)
		return
	}
	v := e.decide(siteOf(h), e.clientAddr(h))
	if v.deny == nil {
		c.SetStatusCode(http.StatusNoContent)
	} else {
		status := v.deny.status
		var num [4]byte
		c.Response.Header.SetBytesV(HeaderStatus, strconv.AppendInt(num[:0], int64(status), 10))
		if string(h.Peek(HeaderDenyStatus)) == "403" {
			status = http.StatusForbidden
		}
		c.SetContentType("text/plain; charset=utf-8")
		c.Response.Header.Set("Cache-Control", "no-store")
		c.SetStatusCode(status)
		c.SetBody(denyBody)
		v.deny.hits.Add(1)
		e.m.Denied.WithLabelValues(v.deny.d.Rule, v.deny.d.Scope).Inc()
	}
	e.count(v.outcome, time.Since(start))
}

// requestKey is the key a request carries: X-Vakt-Key, or for Traefik,
// whose forwardAuth cannot add a header, the `key` query parameter.
func requestKey(c *fasthttp.RequestCtx) []byte {
	if k := c.Request.Header.Peek(HeaderKey); len(k) > 0 || len(c.URI().QueryString()) == 0 {
		return k
	}
	return c.QueryArgs().Peek("key")
}

// clientAddr is the client of the request the web server is asking
// about: the right-most X-Forwarded-For entry is the address the web
// server saw (the snippets append it), and the entries before it are
// believed only from pseudonymize.trusted_proxies, as in ingest.
func (e *Endpoint) clientAddr(h *fasthttp.RequestHeader) netip.Addr {
	var xff string
	switch v := h.PeekAll("X-Forwarded-For"); len(v) {
	case 0:
		return netip.Addr{}
	case 1:
		xff = transient(v[0])
	default:
		xff = string(bytes.Join(v, []byte(",")))
	}
	rest, last := "", xff
	if i := strings.LastIndexByte(xff, ','); i >= 0 {
		rest, last = xff[:i], xff[i+1:]
	}
	remote, err := netip.ParseAddr(strings.TrimSpace(last))
	if err != nil {
		return netip.Addr{}
	}
	// An Addr keeps no reference to the string it was parsed from (a
	// zone is interned), so the request's bytes may be reused.
	return e.proxies.ClientIP(remote, rest)
}

// siteOf is the site a request is for: X-Vakt-Site, else the host of
// X-Forwarded-Host. Only compared, never kept.
func siteOf(h *fasthttp.RequestHeader) string {
	if s := h.Peek(HeaderSite); len(s) > 0 {
		return transient(s)
	}
	host := h.Peek("X-Forwarded-Host")
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	return transient(host)
}

// transient is b as a string without a copy, for a request's bytes that
// are only compared or parsed during the request: fasthttp reuses them
// for the next, so the string must not be kept.
func transient(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// serveOn serves ln until ctx ends, then closes the connections (waiting
// up to 2 s for answers under way).
func (e *Endpoint) serveOn(ctx context.Context, ln net.Listener) error {
	srv := e.newServer()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(httpguard.LimitListener(ln, e.cfg.MaxConnections)) }()
	select {
	case err := <-serveErr:
		if err == nil {
			err = errors.New("the listener was closed")
		}
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	srv.ShutdownWithContext(sctx)
	return nil
}
