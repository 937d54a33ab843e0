package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/config"
)

// queryTimeout bounds one endpoint's work on the store.
const queryTimeout = 60 * time.Second

// Limits of the query parameters.
const (
	minSince = time.Minute
	maxSince = 400 * 24 * time.Hour
	maxSite  = 256
	defaultN = 10
	maxN     = 100
)

// badRequest is an error in the request's parameters: HTTP 400.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

// api wraps an endpoint: parameters are validated, the answer cached for
// ttl per normalised query (see normalise), errors returned as
// {"error": "..."}.
func (d *Dashboard) api(name string, fn func(ctx context.Context, q url.Values) (any, error), ttl time.Duration, params ...string) http.Handler {
	return d.apiView(name, fn, nil, ttl, params...)
}

// A viewer reads, from a request's own parameters, what part of the cached
// answer to send it (threatsview.go); a bad parameter is a badRequest,
// answered before any query runs.
type viewer func(q url.Values) (func(any) any, error)

// apiView is api where the cached answer is the endpoint's value and each
// request is sent the part of it that see picks.
func (d *Dashboard) apiView(name string, fn func(ctx context.Context, q url.Values) (any, error), see viewer, ttl time.Duration, params ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cut func(any) any
		if see != nil {
			var err error
			if cut, err = see(r.URL.Query()); err != nil {
				writeAPI(w, http.StatusBadRequest, errorBody(err.Error()))
				return
			}
		}
		q := normalise(r.URL.Query(), params)
		key := r.URL.Path + "?" + q.Encode()
		status, body, val := d.cache.get(key, ttl, d.o.Now, func() (int, []byte, any) {
			if d.o.OnQuery != nil {
				d.o.OnQuery(name)
			}
			// The first caller's query serves every caller waiting on it,
			// so it must not end when that caller goes away.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), queryTimeout)
			defer cancel()
			var err error
			if d.o.Restricted != nil {
				if ctx, err = d.o.Restricted(ctx); err != nil {
					d.o.Log.Warn("dashboard query refused", "endpoint", r.URL.Path, "err", err)
					return http.StatusServiceUnavailable, errorBody(err.Error()), nil
				}
			}
			v, err := fn(ctx, q)
			if err != nil {
				var br badRequest
				if errors.As(err, &br) {
					return http.StatusBadRequest, errorBody(err.Error()), nil
				}
				d.o.Log.Warn("dashboard query failed", "endpoint", r.URL.Path, "err", err)
				return http.StatusInternalServerError, errorBody(err.Error()), nil
			}
			if cut != nil {
				return http.StatusOK, nil, v // encoded per request
			}
			status, body := encodeJSON(v)
			return status, body, nil
		})
		if cut != nil && status == http.StatusOK {
			status, body = encodeJSON(cut(val))
		}
		writeAPI(w, status, body)
	})
}

// encodeJSON writes an answer, by hand where it can (jsonAppender).
func encodeJSON(v any) (int, []byte) {
	if a, ok := v.(jsonAppender); ok {
		if body, err := a.appendJSON(nil); !errors.Is(err, errByReflection) {
			if err != nil {
				return http.StatusInternalServerError, errorBody(err.Error())
			}
			return http.StatusOK, append(body, '\n')
		}
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return http.StatusInternalServerError, errorBody(err.Error())
	}
	return http.StatusOK, b.Bytes()
}

func writeAPI(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return append(b, '\n')
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(errorBody(msg))
}

// num is a float that encodes NaN and ±Inf (a latency nobody logged, a rate
// of nothing) as null.
type num float64

func (n num) MarshalJSON() ([]byte, error) { return appendJSONNum(nil, n), nil }

// rangeFilter reads since and site.
func rangeFilter(q url.Values, now time.Time, def time.Duration) (analyze.Filter, error) {
	since := def
	if s := q.Get("since"); s != "" {
		d, err := config.ParseDuration(s)
		if err != nil {
			return analyze.Filter{}, badRequest{fmt.Sprintf("since: %v", err)}
		}
		if since = d.D(); since < minSince || since > maxSince {
			return analyze.Filter{}, badRequest{fmt.Sprintf("since: %s is out of range; use 1m to 400d, e.g. 15m, 1h, 24h or 7d", s)}
		}
	}
	site := q.Get("site")
	if len(site) > maxSite {
		return analyze.Filter{}, badRequest{fmt.Sprintf("site: longer than %d bytes", maxSite)}
	}
	return analyze.Filter{Since: now.Add(-since), Until: now, Site: site}, nil
}

// bucketFor picks the health series' bucket for a range: at most 90
// points, on round sizes (15m: 10s, 1h: 1m, 24h: 15m, 7d: 2h).
func bucketFor(r time.Duration) time.Duration {
	for _, b := range []time.Duration{
		10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour,
		6 * time.Hour, 12 * time.Hour,
	} {
		if r/b <= 90 {
			return b
		}
	}
	return 24 * time.Hour
}

// ---- /api/sites

type siteInfo struct {
	Site     string    `json:"site"`
	Requests uint64    `json:"requests"`
	LastSeen time.Time `json:"last_seen"`
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *Dashboard) table() (string, error) {
	if !identRe.MatchString(d.o.Database) {
		return "", fmt.Errorf("database name %q is not a plain identifier", d.o.Database)
	}
	return "`" + d.o.Database + "`.`requests`", nil
}

// sites lists every site with stored requests (the table's TTL bounds how
// far back that is), busiest first.
func (d *Dashboard) sites(ctx context.Context, _ url.Values) (any, error) {
	t, err := d.table()
	if err != nil {
		return nil, err
	}
	rows, err := d.o.CH.Query(ctx, "SELECT site, count(), max(ts) FROM "+t+" GROUP BY site ORDER BY count() DESC, site LIMIT 500")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := struct {
		Sites []siteInfo `json:"sites"`
	}{Sites: []siteInfo{}}
	for rows.Next() {
		var s siteInfo
		if err := rows.Scan(&s.Site, &s.Requests, &s.LastSeen); err != nil {
			return nil, err
		}
		s.LastSeen = s.LastSeen.UTC()
		out.Sites = append(out.Sites, s)
	}
	return out, rows.Err()
}

// ---- /api/health

type healthPoint struct {
	T               int64  `json:"t"` // bucket start, Unix milliseconds
	Requests        uint64 `json:"requests"`
	RPS             num    `json:"rps"`
	Status2xx       uint64 `json:"s2xx"`
	Status3xx       uint64 `json:"s3xx"`
	Status4xx       uint64 `json:"s4xx"`
	Status5xx       uint64 `json:"s5xx"`
	StatusOther     uint64 `json:"s_other"`
	ErrorRate       num    `json:"error_rate"`        // 5xx / requests
	ClientErrorRate num    `json:"client_error_rate"` // 4xx / requests
	Bytes           uint64 `json:"bytes"`
	P50             num    `json:"p50"` // seconds; null when no request time was logged
	P95             num    `json:"p95"`
	P99             num    `json:"p99"`
	LatencyKnown    uint64 `json:"latency_known"`
}

type siteSeries struct {
	Site   string        `json:"site"`
	Points []healthPoint `json:"points"`
}

type siteTotal struct {
	Site string `json:"site"`
	healthPoint
}

type pathStat struct {
	Site     string `json:"site"`
	Path     string `json:"path"`
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
	P95      num    `json:"p95"`
}

type healthResp struct {
	Site          string       `json:"site"`
	Since         time.Time    `json:"since"`
	Until         time.Time    `json:"until"`
	BucketSeconds float64      `json:"bucket_seconds"`
	Quantile      string       `json:"quantile"` // the ClickHouse function behind the percentiles
	Series        []siteSeries `json:"series"`
	Totals        []siteTotal  `json:"totals"`
	All           healthPoint  `json:"all"` // every site together; latency only for one site
	WorstP95      num          `json:"worst_p95"`
	WorstP95Site  string       `json:"worst_p95_site"`
	FailingPaths  []pathStat   `json:"failing_paths"`
	SlowestPaths  []pathStat   `json:"slowest_paths"`
	Sites         []string     `json:"sites"`
}

func (d *Dashboard) health(ctx context.Context, q url.Values) (any, error) {
	now := d.o.Now().UTC()
	f, err := rangeFilter(q, now, time.Hour)
	if err != nil {
		return nil, err
	}
	f.Bucket = bucketFor(f.Until.Sub(f.Since))
	// Start on a bucket boundary, so that the first bucket is whole.
	f.Since = f.Since.Truncate(f.Bucket)
	h, err := analyze.HealthReport(ctx, d.o.CH, d.o.Database, f)
	if err != nil {
		return nil, err
	}
	return healthResponse(h, f), nil
}

func toPoint(p analyze.HealthPoint) healthPoint {
	return healthPoint{
		T: p.Time.UnixMilli(), Requests: p.Requests, RPS: num(p.RequestsPerSecond),
		Status2xx: p.Status2xx, Status3xx: p.Status3xx, Status4xx: p.Status4xx, Status5xx: p.Status5xx, StatusOther: p.StatusOther,
		ErrorRate: num(p.ErrorRate), ClientErrorRate: num(p.ClientErrorRate), Bytes: p.Bytes,
		P50: num(p.P50), P95: num(p.P95), P99: num(p.P99), LatencyKnown: p.LatencyKnown,
	}
}

func toPaths(ps []analyze.PathStat) []pathStat {
	out := make([]pathStat, 0, len(ps))
	for _, p := range ps {
		out = append(out, pathStat{Site: p.Site, Path: p.Path, Requests: p.Requests, Failures: p.Failures, P95: num(p.P95)})
	}
	return out
}

// healthResponse shapes a health report for the charts: every site's series
// on one dense time axis (buckets without requests are zeros, with unknown
// latency), and totals over every site.
func healthResponse(h *analyze.Health, f analyze.Filter) healthResp {
	bucket := f.Bucket
	if h.Filter.Bucket > 0 {
		bucket = h.Filter.Bucket
	}
	r := healthResp{
		Site: f.Site, Since: f.Since, Until: f.Until, BucketSeconds: bucket.Seconds(), Quantile: h.Quantile,
		Series: []siteSeries{}, Totals: []siteTotal{}, Sites: []string{},
		FailingPaths: toPaths(h.FailingPaths), SlowestPaths: toPaths(h.SlowestPaths),
		WorstP95: num(math.NaN()),
	}
	r.addSeries(h, f, bucket)
	r.All = r.addTotals(h, f)
	return r
}

// addSeries adds each site's series on the grid of buckets from f.Since
// to f.Until, with a gap where a bucket has no requests.
func (r *healthResp) addSeries(h *analyze.Health, f analyze.Filter, bucket time.Duration) {
	var grid []int64
	for t := f.Since.Truncate(bucket); t.Before(f.Until); t = t.Add(bucket) {
		grid = append(grid, t.UnixMilli())
	}
	bySite := map[string]map[int64]healthPoint{}
	var order []string
	for _, p := range h.Series {
		m := bySite[p.Site]
		if m == nil {
			m = map[int64]healthPoint{}
			bySite[p.Site] = m
			order = append(order, p.Site)
		}
		m[p.Time.UnixMilli()] = toPoint(p)
	}
	if len(order) == 0 && f.Site != "" {
		order = append(order, f.Site) // a flat line at zero, not no chart
		bySite[f.Site] = map[int64]healthPoint{}
	}
	for _, site := range order {
		m := bySite[site]
		ts := slices.Clone(grid)
		for t := range m {
			if _, found := slices.BinarySearch(grid, t); !found {
				ts = append(ts, t) // a bucket off the grid: keep it
			}
		}
		slices.Sort(ts)
		s := siteSeries{Site: site, Points: make([]healthPoint, 0, len(ts))}
		for _, t := range ts {
			p, ok := m[t]
			if !ok {
				nan := num(math.NaN())
				p = healthPoint{T: t, P50: nan, P95: nan, P99: nan, ErrorRate: nan, ClientErrorRate: nan}
			}
			s.Points = append(s.Points, p)
		}
		r.Series = append(r.Series, s)
		r.Sites = append(r.Sites, site)
	}
}

// addTotals adds each site's totals and returns the sum over the sites.
func (r *healthResp) addTotals(h *analyze.Health, f analyze.Filter) healthPoint {
	var all healthPoint
	var latencySites int
	for _, t := range h.Totals {
		p := toPoint(t)
		r.Totals = append(r.Totals, siteTotal{Site: t.Site, healthPoint: p})
		all.Requests += p.Requests
		all.Status2xx += p.Status2xx
		all.Status3xx += p.Status3xx
		all.Status4xx += p.Status4xx
		all.Status5xx += p.Status5xx
		all.StatusOther += p.StatusOther
		all.Bytes += p.Bytes
		all.LatencyKnown += p.LatencyKnown
		if !math.IsNaN(t.P95) && t.LatencyKnown > 0 {
			latencySites++
			if math.IsNaN(float64(r.WorstP95)) || t.P95 > float64(r.WorstP95) {
				r.WorstP95, r.WorstP95Site = num(t.P95), t.Site
			}
		}
	}
	all.T = f.Since.UnixMilli()
	all.RPS = num(float64(all.Requests) / f.Until.Sub(f.Since).Seconds())
	all.ErrorRate, all.ClientErrorRate = num(math.NaN()), num(math.NaN())
	if all.Requests > 0 {
		all.ErrorRate = num(float64(all.Status5xx) / float64(all.Requests))
		all.ClientErrorRate = num(float64(all.Status4xx) / float64(all.Requests))
	}
	// Percentiles of several sites do not add up: the page shows the
	// worst site's p95 instead.
	all.P50, all.P95, all.P99 = num(math.NaN()), num(math.NaN()), num(math.NaN())
	if len(h.Totals) == 1 {
		all.P50, all.P95, all.P99 = num(h.Totals[0].P50), num(h.Totals[0].P95), num(h.Totals[0].P99)
	}
	return all
}

// ---- /api/threats

type ruleInfo struct {
	Name        string  `json:"name"`
	Category    string  `json:"category"`
	Scope       string  `json:"scope"`
	Severity    int     `json:"severity"`
	Description string  `json:"description"`
	Window      float64 `json:"window_seconds"`
	Source      string  `json:"source"`
}

// offender is one client, network or AS with every rule that caught it
// (analyze.OffenderGroup): rule, category and evidence are those of its
// primary (highest-severity) rule, matches every rule's.
type offender struct {
	Rule       string         `json:"rule"`
	Category   string         `json:"category"`
	Severity   int            `json:"severity"` // the highest of its rules
	Scope      string         `json:"scope"`
	Site       string         `json:"site"`
	ID         string         `json:"id"` // pseudonymous client or network id, or an ASN
	Epoch      uint32         `json:"epoch"`
	Requests   uint64         `json:"requests"`
	Evidence   map[string]num `json:"evidence"`
	FirstSeen  time.Time      `json:"first_seen"`
	LastSeen   time.Time      `json:"last_seen"`
	Country    string         `json:"country"`
	ASN        uint32         `json:"asn"`
	Rules      []string       `json:"rules"`
	Categories []string       `json:"categories"`
	Matches    []match        `json:"matches"`
	// Signatures name the exploit or probe signatures matched, with CVEs.
	Signatures []string `json:"signatures,omitempty"`
}

type categoryCount struct {
	Category  string `json:"category"`
	Offenders int    `json:"offenders"`
	Requests  uint64 `json:"requests"`
	Severity  int    `json:"severity"` // the highest of its rules
}

type threatsResp struct {
	Site  string     `json:"site"`
	Since time.Time  `json:"since"`
	Until time.Time  `json:"until"`
	Rules []ruleInfo `json:"rules"`
	// Total counts every offender of the range and site, Matched those a
	// view's filters keep (threatsview.go); Offenders is the view's page.
	Total      int             `json:"total"`
	Matched    int             `json:"matched"`
	Offenders  []offender      `json:"offenders"`
	Categories []categoryCount `json:"categories"`
}

func (d *Dashboard) threats(ctx context.Context, q url.Values) (any, error) {
	f, err := rangeFilter(q, d.o.Now().UTC(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	rules, err := analyze.LoadRules(d.o.RuleDirs...)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	t, err := analyze.ThreatReport(ctx, d.o.CH, d.o.Database, rules, f)
	if err != nil {
		return nil, err
	}
	t.Epochs.Log(d.o.Log)
	return threatsResponse(t, rules, f), nil
}

func threatsResponse(t *analyze.Threats, rules []analyze.Rule, f analyze.Filter) threatsResp {
	r := threatsResp{Site: f.Site, Since: f.Since, Until: f.Until, Rules: []ruleInfo{}, Offenders: []offender{}, Categories: []categoryCount{}}
	severity := map[string]int{}
	for _, ru := range rules {
		severity[ru.Name] = ru.Severity
		r.Rules = append(r.Rules, ruleInfo{Name: ru.Name, Category: ru.Category, Scope: ru.Scope, Severity: ru.Severity,
			Description: ru.Description, Window: ru.Window.Seconds(), Source: ru.Source})
	}
	cats := map[string]*categoryCount{}
	for _, g := range analyze.GroupOffenders(t.Offenders) {
		o := toOffender(g, severity)
		r.Offenders = append(r.Offenders, o)
		for _, m := range o.Matches {
			c := cats[m.Category]
			if c == nil {
				c = &categoryCount{Category: m.Category}
				cats[m.Category] = c
			}
			c.Severity = max(c.Severity, m.Severity)
		}
		for _, cat := range o.Categories {
			cats[cat].Offenders++
			cats[cat].Requests += o.Requests
		}
	}
	for _, c := range cats {
		r.Categories = append(r.Categories, *c)
	}
	slices.SortFunc(r.Categories, func(a, b categoryCount) int {
		if a.Severity != b.Severity {
			return b.Severity - a.Severity
		}
		if a.Offenders != b.Offenders {
			return b.Offenders - a.Offenders
		}
		return strings.Compare(a.Category, b.Category)
	})
	return r
}

// ---- /api/top

type topEntry struct {
	Key      string `json:"key"`
	Label    string `json:"label,omitempty"` // e.g. an ASN's organisation
	Requests uint64 `json:"requests"`
	Share    num    `json:"share"`
}

type topResp struct {
	Site       string     `json:"site"`
	Since      time.Time  `json:"since"`
	Until      time.Time  `json:"until"`
	Total      uint64     `json:"total"`
	Clients    []topEntry `json:"clients"`
	Networks   []topEntry `json:"networks"`
	Paths      []topEntry `json:"paths"`
	Countries  []topEntry `json:"countries"`
	ASNs       []topEntry `json:"asns"`
	UserAgents []topEntry `json:"user_agents"`
}

func (d *Dashboard) top(ctx context.Context, q url.Values) (any, error) {
	f, err := rangeFilter(q, d.o.Now().UTC(), time.Hour)
	if err != nil {
		return nil, err
	}
	n := defaultN
	if s := q.Get("n"); s != "" {
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > maxN {
			return nil, badRequest{fmt.Sprintf("n: %q is not a number from 1 to %d", s, maxN)}
		}
	}
	t, err := analyze.TopReport(ctx, d.o.CH, d.o.Database, f, n)
	if err != nil {
		return nil, err
	}
	list := func(es []analyze.TopEntry) []topEntry {
		out := make([]topEntry, 0, len(es))
		for _, e := range es {
			out = append(out, topEntry{Key: e.Key, Label: e.Label, Requests: e.Requests, Share: num(e.Share)})
		}
		return out
	}
	return topResp{Site: f.Site, Since: f.Since, Until: f.Until, Total: t.Total,
		Clients: list(t.Clients), Networks: list(t.Networks), Paths: list(t.Paths),
		Countries: list(t.Countries), ASNs: list(t.ASNs), UserAgents: list(t.UserAgents)}, nil
}

// ---- /api/status

type epochInfo struct {
	Epoch     uint32    `json:"epoch"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	DestroyAt time.Time `json:"destroy_at"`
	Created   time.Time `json:"created"`
	Current   bool      `json:"current"`
}

type saltStatus struct {
	EpochLength string      `json:"epoch_length"`
	Grace       string      `json:"grace"`
	Epochs      []epochInfo `json:"epochs"`
	Error       string      `json:"error,omitempty"`
}

type storeStatus struct {
	Rows   uint64     `json:"rows"`
	Oldest *time.Time `json:"oldest"`
	Newest *time.Time `json:"newest"`
	Error  string     `json:"error,omitempty"`
}

type statusResp struct {
	Now            time.Time   `json:"now"`
	Salts          saltStatus  `json:"salts"`
	Retention      []Retention `json:"retention"`
	RetentionError string      `json:"retention_error,omitempty"`
	Store          storeStatus `json:"store"`
	Pipeline       any         `json:"pipeline,omitempty"`
	// Attribution of the GeoIP data in use, for the footer.
	Attribution []Attribution `json:"attribution"`
}

// status never fails as a whole: each part reports its own error, so the
// page shows what it can.
func (d *Dashboard) status(ctx context.Context, _ url.Values) (any, error) {
	r := statusResp{Now: d.o.Now().UTC(), Retention: []Retention{}, Attribution: append([]Attribution{}, d.o.Attribution...)}
	r.Salts = saltStatus{EpochLength: analyze.ShortDuration(d.o.EpochLength), Grace: analyze.ShortDuration(d.o.Grace), Epochs: []epochInfo{}}
	switch {
	case d.o.Salts != nil:
		eps, err := d.o.Salts.Epochs(ctx)
		if err != nil {
			r.Salts.Error = err.Error()
		}
		for _, e := range eps {
			r.Salts.Epochs = append(r.Salts.Epochs, epochInfo{Epoch: e.Epoch, Start: e.Start.UTC(), End: e.End.UTC(),
				DestroyAt: e.DestroyAt.UTC(), Created: e.Created.UTC(), Current: e.Current})
		}
	case d.o.SaltsErr != nil:
		r.Salts.Error = d.o.SaltsErr.Error()
	default:
		r.Salts.Error = "salt status is not available in this process"
	}
	if d.o.Retention != nil {
		ret, err := d.o.Retention(ctx)
		if err != nil {
			r.RetentionError = err.Error()
		}
		r.Retention = append(r.Retention, ret...)
	}
	if t, err := d.table(); err != nil {
		r.Store.Error = err.Error()
	} else {
		var oldest, newest time.Time
		err := d.o.CH.QueryRow(ctx, "SELECT count(), min(ts), max(ts) FROM "+t).Scan(&r.Store.Rows, &oldest, &newest)
		if err != nil {
			r.Store.Error = err.Error()
		} else if r.Store.Rows > 0 {
			oldest, newest = oldest.UTC(), newest.UTC()
			r.Store.Oldest, r.Store.Newest = &oldest, &newest
		}
	}
	if d.o.Pipeline != nil {
		r.Pipeline = d.o.Pipeline(ctx)
	}
	return r, nil
}
