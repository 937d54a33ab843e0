package subject

import (
	"context"
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/vakt-dev/vakt/internal/httpguard"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject/selfserve"
)

// ExportPath is the self-service download.
const ExportPath = "/export.json"

// pageRows bounds the request rows shown on the page; the download has all.
const pageRows = 500

//go:embed selfservice.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"ts":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"day": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
}).Parse(pageHTML))

// DayCount is the number of requests held for one day (UTC).
type DayCount struct {
	Day      time.Time `json:"day"`
	Requests uint64    `json:"requests"`
}

// SelfService is the visitors' page (subject.listen): it shows what is held
// about the address the request comes from, read through the trusted
// proxies, and serves it as the `vakt subject export` document. The
// address is the proof of possession; it never reaches a log, a metric or
// an answer.
type SelfService struct {
	d       Deps
	cfg     selfserve.Config
	proxies pseudonymize.TrustedProxies
	info    func(context.Context) Information
	limit   *selfserve.Limiter
	log     *slog.Logger
}

// NewSelfService returns the page's handler; info reads the information
// the policy owes (with the live retention).
func NewSelfService(d Deps, cfg selfserve.Config, proxies pseudonymize.TrustedProxies, info func(context.Context) Information, log *slog.Logger) *SelfService {
	cfg = cfg.WithDefaults()
	return &SelfService{d: d, cfg: cfg, proxies: proxies, info: info, limit: selfserve.NewLimiter(cfg.RatePerMinute), log: log}
}

// Handler is the page behind the Host and Origin checks. There is no
// token: the connection's own address is what the visitor proves.
func (s *SelfService) Handler(listen string) http.Handler {
	return httpguard.New(httpguard.Options{Listen: listen, AllowedHosts: s.cfg.AllowedHosts}).Wrap(s)
}

func (s *SelfService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	if r.URL.Path != "/" && r.URL.Path != ExportPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "the connection's address is unknown", http.StatusBadRequest)
		return
	}
	ip := s.proxies.ClientIP(remote.Addr(), r.Header.Get("X-Forwarded-For"))
	if !s.limit.Allow(ip, time.Now()) {
		h.Set("Retry-After", "60")
		http.Error(w, "too many requests: try again in a minute", http.StatusTooManyRequests)
		return
	}
	x, err := s.collect(r.Context(), ip)
	if err != nil {
		// The error names no address (ids are query parameters); redact
		// anyway, as every error of an open listener.
		s.log.Warn("self-service page: reading what is held failed", "err", httpguard.NoAddresses(err.Error()))
		http.Error(w, "the data cannot be read right now; try again later", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == ExportPath {
		h.Set("Content-Type", "application/json")
		h.Set("Content-Disposition", `attachment; filename="vakt-export.json"`)
		_ = writeJSON(w, x)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	shown := x.Requests
	if len(shown) > pageRows {
		shown = shown[len(shown)-pageRows:]
	}
	_ = pageTemplate.Execute(w, map[string]any{"X": x, "Shown": shown, "More": len(x.Requests) - len(shown),
		"Total": s.total(x), "Threshold": s.cfg.SharedAgents, "ExportPath": ExportPath})
}

func (s *SelfService) total(x *Export) uint64 {
	if !x.SharedAddress {
		return uint64(len(x.Requests))
	}
	var n uint64
	for _, d := range x.Daily {
		n += d.Requests
	}
	return n
}

// collect builds the export of ip's rows; for an address that looks shared
// (more distinct user agents in an epoch than subject.shared_agents) only
// per-day counts: its paths and hours would disclose other people's
// browsing (Art. 15(4)).
func (s *SelfService) collect(ctx context.Context, ip netip.Addr) (*Export, error) {
	t, err := Resolve(ctx, s.d, ip)
	if err != nil {
		return nil, err
	}
	shared, err := s.shared(ctx, t)
	if err != nil {
		return nil, err
	}
	if !shared {
		return Collect(ctx, s.d, t, s.info(ctx), time.Now())
	}
	x, err := Collect(ctx, s.d, &Target{Unlinkable: t.Unlinkable}, s.info(ctx), time.Now())
	if err != nil {
		return nil, err
	}
	x.Epochs = append([]Epoch{}, t.Epochs...)
	x.SharedAddress = true
	x.Daily, err = dailyCounts(ctx, s.d, t)
	return x, err
}

// shared reports whether the target's id saw more distinct user agents
// than the threshold in one of its epochs.
func (s *SelfService) shared(ctx context.Context, t *Target) (bool, error) {
	if len(t.Epochs) == 0 {
		return false, nil
	}
	var most uint64
	err := s.d.CH.QueryRow(t.ctx(ctx), "SELECT max(agents) FROM (SELECT uniqExact(user_agent) AS agents FROM "+
		s.d.table(store.RequestsTable)+" WHERE "+whoWhere+" GROUP BY epoch)").Scan(&most)
	if err != nil {
		return false, chError("shared-address check", err)
	}
	return most > uint64(s.cfg.SharedAgents), nil
}

func dailyCounts(ctx context.Context, d Deps, t *Target) ([]DayCount, error) {
	out := []DayCount{}
	rows, err := d.CH.Query(t.ctx(ctx), "SELECT toDate(ts) AS day, count() FROM "+d.table(store.RequestsTable)+
		" WHERE "+whoWhere+" GROUP BY day ORDER BY day")
	if err != nil {
		return nil, chError("daily counts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c DayCount
		if err := rows.Scan(&c.Day, &c.Requests); err != nil {
			return nil, chError("daily counts", err)
		}
		c.Day = c.Day.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
