// Package web is the dashboard: it serves vakt's web page and the JSON endpoints behind it:
// live site health, the threats table, top lists, and the retention and salt
// status. The page is plain HTML, CSS and JavaScript embedded in the binary
// (no CDN, no build step); its charts are hand-drawn SVG.
//
// Every figure comes from package analyze, the same code `vakt report` and
// the alerts use. The dashboard shows pseudonymous client and network ids,
// never an IP (the store holds none), and salt metadata, never a salt.
//
// Endpoints (all GET, JSON; other parameters are ignored):
//
//	/api/sites                      sites with stored requests
//	/api/health?since=1h&site=S     series per site and bucket, totals, failing and slowest paths
//	/api/threats?since=24h&site=S   offenders of every rule; category, q, sort, dir, limit
//	                                and offset cut a page of them (threatsview.go)
//	/api/top?since=1h&site=S&n=10   top clients, networks, paths, countries, ASNs, user agents
//	/api/status                     salt epochs, retention, stored rows, pipeline readiness
//	/api/client?id=ID&epoch=E&scope=client&since=24h&site=S&n=20
//	                                one client's (network's, AS's) investigation; the page is /client
//	/api/decisions                  the bans the decision endpoint enforces (pseudonymous ids)
//
// since is a duration (15m, 1h, 24h, 7d, …); site empty means every site.
package web

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
)

//go:embed assets
var assets embed.FS

// SaltLister lists the stored salt epochs: metadata only, never a salt
// (pseudonymize.SaltStore implements it).
type SaltLister interface {
	Epochs(ctx context.Context) ([]pseudonymize.EpochInfo, error)
}

// Retention is one kind of data and how long it is kept.
type Retention = analyze.RetentionRow

// Options configure a Dashboard.
type Options struct {
	// CH queries the store; Database holds the requests table (default "vakt").
	CH       driver.Conn
	Database string
	// RuleDirs are the rule directories besides the built-in rules
	// (analyze.LoadRules). Rules are read on each threats request, so edits
	// show up without a restart.
	RuleDirs []string
	// Salts lists salt epochs; nil when the salt bucket is unreachable, and
	// SaltsErr then says why.
	Salts    SaltLister
	SaltsErr error
	// EpochLength and Grace are the salt schedule.
	EpochLength, Grace time.Duration
	// Retention lists what is kept how long.
	Retention func(ctx context.Context) ([]Retention, error)
	// Pipeline, if set, returns the pipeline's readiness (the /readyz
	// answer), shown in the page's header.
	Pipeline func(ctx context.Context) any
	// Decisions, if set, lists the active decisions of the decision
	// endpoint (enforce.Decisions.List): ids, rules, expiry, hits.
	Decisions func(ctx context.Context) (any, error)
	// Attribution credits the open data the shown countries and ASes come
	// from, as its licences require (pseudonymize.GeoIPConfig.OpenSources);
	// shown in the page's footer.
	Attribution []Attribution
	// Restricted, if set, reads the restriction list of data subjects'
	// requests; every answer leaves those clients out (analyze.LoadRestricted).
	Restricted func(ctx context.Context) (context.Context, error)
	// OnQuery, if set, is called each time an endpoint computes an answer
	// (a cache miss), with the endpoint's name.
	OnQuery func(endpoint string)
	Log     *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Attribution is one credit line and the pages it links to.
type Attribution struct {
	Text  string   `json:"text"`
	Links []string `json:"links,omitempty"`
}

// Dashboard serves the page and its API.
type Dashboard struct {
	o     Options
	cache cache
}

// New returns a dashboard over o.
func New(o Options) *Dashboard {
	if o.Database == "" {
		o.Database = "vakt"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Dashboard{o: o, cache: cache{entries: map[string]*cacheEntry{}}}
}

// Register mounts the page at / and the API under /api/ on mux.
func (d *Dashboard) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	})))
	mux.Handle("GET /client", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "client.html")
	})))
	mux.Handle("GET /assets/", secure(http.StripPrefix("/assets/", noDirs(files))))
	mux.Handle("GET /favicon.ico", http.RedirectHandler("/assets/favicon.svg", http.StatusMovedPermanently))
	mux.Handle("GET /api/sites", secure(d.api("sites", d.sites, 20*time.Second)))
	mux.Handle("GET /api/health", secure(d.api("health", d.health, 2*time.Second, "since", "site")))
	mux.Handle("GET /api/threats", secure(d.apiView("threats", d.threats, threatsViewer, 10*time.Second, "since", "site")))
	mux.Handle("GET /api/top", secure(d.api("top", d.top, 5*time.Second, "since", "site", "n")))
	mux.Handle("GET /api/status", secure(d.api("status", d.status, 5*time.Second)))
	mux.Handle("GET /api/client", secure(d.api("client", d.client, 10*time.Second, "since", "site", "n", "scope", "id", "epoch")))
	mux.Handle("GET /api/decisions", secure(d.api("decisions", d.decisions, 2*time.Second)))
	mux.Handle("/api/", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/sites", "/api/health", "/api/threats", "/api/top", "/api/status", "/api/client", "/api/decisions":
			// The API is read-only: nothing but GET changes nothing.
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "the API is read-only: use GET")
			return
		}
		writeError(w, http.StatusNotFound, "no such endpoint: see /api/health, /api/threats, /api/top, /api/status, /api/sites, /api/client")
	})))
}

// Handler returns a handler serving only the dashboard.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	d.Register(mux)
	return mux
}

// secure sets headers that keep the page to its own origin: scripts,
// styles and data only from vakt itself, no framing, no referrers.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// noDirs answers 404 for directory listings.
func noDirs(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || r.URL.Path[len(r.URL.Path)-1] == '/' {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// cache keeps each answer for a few seconds and lets concurrent identical
// requests share one query, so that several open pages refreshing every few
// seconds cost the store no more than one.
type cache struct {
	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	ready   chan struct{}
	expires time.Time
	status  int
	body    []byte
	val     any // the endpoint's value, when a view is cut from it per request
}

func (c *cache) get(key string, ttl time.Duration, now func() time.Time, fill func() (int, []byte, any)) (int, []byte, any) {
	c.mu.Lock()
	e := c.entries[key]
	if e != nil {
		select {
		case <-e.ready:
			if now().Before(e.expires) {
				c.mu.Unlock()
				return e.status, e.body, e.val
			}
			e = nil
		default: // in flight: wait for it
		}
	}
	if e == nil {
		e = &cacheEntry{ready: make(chan struct{})}
		c.entries[key] = e
		for k, old := range c.entries { // drop expired entries
			select {
			case <-old.ready:
				if !now().Before(old.expires) {
					delete(c.entries, k)
				}
			default:
			}
		}
		c.mu.Unlock()
		e.status, e.body, e.val = fill()
		e.expires = now().Add(ttl)
		if e.status != http.StatusOK {
			e.expires = now() // errors are not cached
		}
		close(e.ready)
		return e.status, e.body, e.val
	}
	c.mu.Unlock()
	<-e.ready
	return e.status, e.body, e.val
}

// normalise keeps only the parameters an endpoint reads, one value each,
// written canonically (since=60m is since=1h): the cache key is made of
// these, so junk parameters, repeats and spellings cannot make a request
// miss the cache and run every rule again. The endpoint sees exactly what
// the key holds.
func normalise(q url.Values, params []string) url.Values {
	out := url.Values{}
	for _, p := range params {
		v := q.Get(p)
		if v == "" {
			continue
		}
		switch p {
		case "since":
			if d, err := config.ParseDuration(v); err == nil {
				v = analyze.ShortDuration(d.D())
			}
		case "n":
			if n, err := strconv.Atoi(v); err == nil {
				v = strconv.Itoa(n)
			}
		}
		out.Set(p, v)
	}
	return out
}

// decisionsResp is /api/decisions.
type decisionsResp struct {
	Decisions any    `json:"decisions"`
	Error     string `json:"error,omitempty"`
}

func (d *Dashboard) decisions(ctx context.Context, _ url.Values) (any, error) {
	if d.o.Decisions == nil {
		return decisionsResp{Decisions: []any{}, Error: "decisions are not available in this process"}, nil
	}
	list, err := d.o.Decisions(ctx)
	if err != nil {
		return decisionsResp{Decisions: []any{}, Error: err.Error()}, nil
	}
	return decisionsResp{Decisions: list}, nil
}
