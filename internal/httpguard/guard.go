// Package httpguard protects vakt's own HTTP listener (the dashboard, its
// API and /metrics) from the other programs on the host and from the web
// pages its operator opens: loopback is not a trust boundary.
//
//   - Host: only loopback names, the listen address and configured names are
//     answered. This is what defeats DNS rebinding, where a page of
//     attacker.example re-resolves its own name to 127.0.0.1 and reads the
//     answers as same-origin.
//   - Origin: a request a browser sends for a page of another origin
//     (Origin of another origin, or Sec-Fetch-Site cross-site or same-site
//     other than a top-level navigation) is refused, whatever credentials it
//     carries: cookies ignore ports, so any local web server on 127.0.0.1
//     shares the dashboard's cookies.
//   - Authentication: a bearer token (Prometheus, curl) or a session cookie
//     a browser gets by opening /?token=<token> once. Some paths (health
//     probes, static assets) are open; they carry no data.
//
// Refusals are 403 (Host, Origin) and 401 (authentication), decided in that
// order so that a request from a foreign page never learns whether its
// credentials were right.
package httpguard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Refusal reasons, as passed to Options.OnRefuse.
const (
	ReasonHost   = "host"
	ReasonOrigin = "origin"
	ReasonAuth   = "auth"
)

// Options configure a Guard.
type Options struct {
	// Token is the secret clients present; empty disables authentication
	// (Host and Origin are still checked).
	Token string
	// Listen is the listener's address: its host, when it is a specific
	// address, is an allowed Host.
	Listen string
	// AllowedHosts are further host names or addresses (without port) the
	// listener answers to, e.g. the name of a reverse proxy.
	AllowedHosts []string
	// Open says which paths need no authentication (they still get the
	// Host and Origin checks).
	Open func(path string) bool
	// OnRefuse, if set, is called with the reason of each refusal.
	OnRefuse func(reason string)
}

// Guard wraps handlers with the checks.
type Guard struct {
	o       Options
	hosts   map[string]bool
	session string // the cookie value: derived from the token, not the token
	cookie  string // the cookie name
}

// New returns a guard over o.
func New(o Options) *Guard {
	g := &Guard{o: o, hosts: map[string]bool{"localhost": true}, cookie: "vakt_session"}
	if host, port, err := net.SplitHostPort(o.Listen); err == nil {
		if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
			g.hosts[normHost(host)] = true
		}
		// Cookies are shared by every port of a host: one name per port
		// keeps two vakt instances on one host from logging each other out.
		if port != "" && port != "0" {
			g.cookie += "_" + port
		}
	}
	for _, h := range o.AllowedHosts {
		g.hosts[normHost(h)] = true
	}
	if o.Token != "" {
		m := hmac.New(sha256.New, []byte(o.Token))
		m.Write([]byte("vakt dashboard session"))
		g.session = hex.EncodeToString(m.Sum(nil))
	}
	return g
}

// CookieName is the session cookie's name.
func (g *Guard) CookieName() string { return g.cookie }

// normHost lower-cases a host and drops IPv6 brackets and a trailing dot.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// HostAllowed reports whether a Host header names this listener: a
// loopback name or address, the listen address or an allowed host. The
// port is not checked: the connection arrived on the listener's port.
func (g *Guard) HostAllowed(hostport string) bool {
	if hostport == "" {
		return false
	}
	host := hostport
	// Without a colon there is no port (and SplitHostPort's error would
	// cost an allocation on every request of the decision endpoint).
	if strings.IndexByte(hostport, ':') >= 0 {
		if h, _, err := net.SplitHostPort(hostport); err == nil {
			host = h
		}
	}
	host = normHost(host)
	if g.hosts[host] || g.hosts["*"] {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback() && ip.Zone() == ""
}

// CrossOrigin reports whether r comes from a page of another origin than
// the one it is addressed to. allowNavigation lets a top-level GET
// navigation from another site through (a link to the dashboard).
func CrossOrigin(r *http.Request, allowNavigation bool) bool {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			return true // includes Origin: null (sandboxed frames, file: pages)
		}
	}
	// Requests without Origin (a GET from <img>, <script>, <link>) still
	// say where they come from in Fetch Metadata. A top-level navigation
	// from another site is let through: it reads nothing, and the
	// SameSite=Strict cookie does not travel with it.
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return false
	}
	nav := r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document"
	return !(allowNavigation && nav && (r.Method == http.MethodGet || r.Method == http.MethodHead))
}

// Wrap returns h behind the checks.
func (g *Guard) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !g.HostAllowed(r.Host):
			g.refuse(w, r, http.StatusForbidden, ReasonHost,
				"this listener answers only to loopback names and the addresses in http.allowed_hosts")
			return
		case CrossOrigin(r, true):
			g.refuse(w, r, http.StatusForbidden, ReasonOrigin, "requests from pages of other origins are refused")
			return
		}
		if g.o.Token == "" || (g.o.Open != nil && g.o.Open(r.URL.Path)) {
			h.ServeHTTP(w, r)
			return
		}
		if tok, ok := queryToken(r); ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			if !g.validToken(tok) {
				g.refuse(w, r, http.StatusUnauthorized, ReasonAuth, loginHint)
				return
			}
			// Swap the token in the URL for a cookie and drop it from the
			// address bar (and the history) at once.
			http.SetCookie(w, &http.Cookie{Name: g.cookie, Value: g.session, Path: "/",
				HttpOnly: true, SameSite: http.SameSiteStrictMode})
			u := *r.URL
			u.RawQuery = withoutToken(r.URL.RawQuery)
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if !g.authenticated(r) {
			g.refuse(w, r, http.StatusUnauthorized, ReasonAuth, loginHint)
			return
		}
		h.ServeHTTP(w, r)
	})
}

const loginHint = "authentication required: open the dashboard with the URL `vakt run` printed (it ends in ?token=...), " +
	"or send Authorization: Bearer <token>; the token is in the data dir, credentials/http.token"

// authenticated checks the bearer token or the session cookie.
func (g *Guard) authenticated(r *http.Request) bool {
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, ok := strings.Cut(a, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && g.validToken(strings.TrimSpace(tok))
	}
	for _, c := range r.Cookies() {
		if c.Name == g.cookie && subtle.ConstantTimeCompare([]byte(c.Value), []byte(g.session)) == 1 {
			return true
		}
	}
	return false
}

func (g *Guard) validToken(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(g.o.Token)) == 1
}

// queryToken returns the token parameter of r's URL, if any.
func queryToken(r *http.Request) (string, bool) {
	if !strings.Contains(r.URL.RawQuery, "token=") {
		return "", false
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || !q.Has("token") {
		return "", false
	}
	return q.Get("token"), true
}

// withoutToken drops the token parameters of a raw query, keeping the
// others as they were written.
func withoutToken(raw string) string {
	var keep []string
	for p := range strings.SplitSeq(raw, "&") {
		k, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(k); err == nil && k == "token" {
			continue
		}
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, "&")
}

// refuse answers a refused request: JSON under /api/, a short page for
// browsers at /, text elsewhere. It never echoes the request.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	if g.o.OnRefuse != nil {
		g.o.OnRefuse(reason)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="vakt"`)
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		h.Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":"` + strings.ReplaceAll(msg, `"`, `'`) + `"}` + "\n"))
	case r.URL.Path == "/" && status == http.StatusUnauthorized:
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'")
		w.WriteHeader(status)
		w.Write([]byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vakt: sign in</title></head>` +
			`<body><h1>vakt</h1><p>Open the dashboard with the URL <code>vakt run</code> printed: it ends in <code>?token=…</code>.</p>` +
			`<p>The token is also in the data directory, in <code>credentials/http.token</code>.</p></body></html>` + "\n"))
	default:
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		w.Write([]byte(msg + "\n"))
	}
}
