package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/analyze/web"
	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// get fetches path from the running vakt and decodes its JSON into v (if
// not nil); it returns the status and the body.
func get(t *testing.T, path string, v any) (int, []byte) {
	t.Helper()
	res, err := authGet(baseURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(path, "/api/") && res.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: Content-Type %q", path, res.Header.Get("Content-Type"))
	}
	if v != nil && res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, b)
		}
	}
	return res.StatusCode, b
}

type point struct {
	T             int64    `json:"t"`
	Requests      uint64   `json:"requests"`
	RPS           *float64 `json:"rps"`
	S2xx          uint64   `json:"s2xx"`
	S3xx          uint64   `json:"s3xx"`
	S4xx          uint64   `json:"s4xx"`
	S5xx          uint64   `json:"s5xx"`
	SOther        uint64   `json:"s_other"`
	ErrorRate     *float64 `json:"error_rate"`
	P50, P95, P99 *float64
	LatencyKnown  uint64 `json:"latency_known"`
}

type healthJSON struct {
	Site          string `json:"site"`
	Since, Until  time.Time
	BucketSeconds float64 `json:"bucket_seconds"`
	Series        []struct {
		Site   string  `json:"site"`
		Points []point `json:"points"`
	} `json:"series"`
	Totals []struct {
		Site string `json:"site"`
		point
	} `json:"totals"`
	All          point    `json:"all"`
	Sites        []string `json:"sites"`
	FailingPaths []struct {
		Site, Path string
		Failures   uint64
	} `json:"failing_paths"`
	SlowestPaths []struct {
		Site, Path string
		P95        *float64
	} `json:"slowest_paths"`
}

// quantileExact is ClickHouse's quantileExact: the value at position
// floor(level*n) of the sorted values.
func quantileExact(v []float64, level float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(int(level*float64(len(s))), len(s)-1)]
}

func TestHealthFiguresMatchTheSeededTraffic(t *testing.T) {
	for _, site := range seededSites {
		var h healthJSON
		if code, b := get(t, "/api/health?since=1h&site="+site, &h); code != 200 {
			t.Fatalf("%s: %d %s", site, code, b)
		}
		if h.Site != site || len(h.Series) != 1 || h.Series[0].Site != site || !slices.Equal(h.Sites, []string{site}) {
			t.Fatalf("%s: answer for site %q, series %d, sites %v", site, h.Site, len(h.Series), h.Sites)
		}
		// One dense series: 1-minute buckets from a whole minute an hour
		// ago up to now, every bucket present.
		if h.BucketSeconds != 60 {
			t.Errorf("%s: bucket %vs for 1h, want 60s", site, h.BucketSeconds)
		}
		pts := h.Series[0].Points
		if len(pts) < 60 || len(pts) > 61 {
			t.Errorf("%s: %d points for an hour of 1m buckets", site, len(pts))
		}
		var sum point
		for i, p := range pts {
			if i > 0 && p.T-pts[i-1].T != 60_000 {
				t.Fatalf("%s: gap between buckets %d and %d: %d ms", site, i-1, i, p.T-pts[i-1].T)
			}
			if p.RPS == nil {
				t.Fatalf("%s: bucket %d has no rate", site, i)
			}
			if p.Requests == 0 && (p.P95 != nil || *p.RPS != 0) {
				t.Errorf("%s: empty bucket %d with p95 %v, rps %v", site, i, p.P95, *p.RPS)
			}
			sum.Requests += p.Requests
			sum.S2xx += p.S2xx
			sum.S3xx += p.S3xx
			sum.S4xx += p.S4xx
			sum.S5xx += p.S5xx
			sum.SOther += p.SOther
		}
		st := truth.status[site]
		want := point{Requests: uint64(truth.requests[site]), S2xx: uint64(st[0]), S3xx: uint64(st[1]), S4xx: uint64(st[2]), S5xx: uint64(st[3]), SOther: uint64(st[4])}
		if sum.Requests != want.Requests || sum.S2xx != want.S2xx || sum.S3xx != want.S3xx || sum.S4xx != want.S4xx || sum.S5xx != want.S5xx || sum.SOther != want.SOther {
			t.Errorf("%s: series add up to %+v, the traffic had %+v", site, sum, want)
		}
		all := h.All
		if all.Requests != want.Requests || all.S5xx != want.S5xx {
			t.Errorf("%s: totals %d requests, %d 5xx; want %d, %d", site, all.Requests, all.S5xx, want.Requests, want.S5xx)
		}
		if wantRate := float64(want.S5xx) / float64(want.Requests); all.ErrorRate == nil || math.Abs(*all.ErrorRate-wantRate) > 1e-4 {
			t.Errorf("%s: error rate %v, want %.5f", site, all.ErrorRate, wantRate)
		}
		// Percentiles of one site equal those of the generated request
		// times (stored as Float32 seconds).
		for _, q := range []struct {
			name  string
			got   *float64
			level float64
		}{{"p50", all.P50, 0.5}, {"p95", all.P95, 0.95}, {"p99", all.P99, 0.99}} {
			w := quantileExact(truth.times[site], q.level)
			if q.got == nil || math.Abs(*q.got-w) > 1e-4 {
				t.Errorf("%s: %s = %v, the traffic's is %.4f", site, q.name, q.got, w)
			}
		}
		if all.LatencyKnown != want.Requests {
			t.Errorf("%s: %d requests with a time, want %d", site, all.LatencyKnown, want.Requests)
		}
		if want.S5xx > 0 && (len(h.FailingPaths) == 0 || h.FailingPaths[0].Failures == 0 || h.FailingPaths[0].Site != site) {
			t.Errorf("%s: failing paths %+v", site, h.FailingPaths)
		}
		if len(h.SlowestPaths) == 0 || h.SlowestPaths[0].P95 == nil {
			t.Errorf("%s: slowest paths %+v", site, h.SlowestPaths)
		}
	}
}

func TestHealthOfAllSites(t *testing.T) {
	var h healthJSON
	if code, b := get(t, "/api/health?since=15m", &h); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	// The demo's live traffic is in the last 15 minutes; the seeded
	// traffic ended about two minutes ago, so it shows too.
	for _, s := range append(slices.Clone(seededSites), ingest.DemoSite) {
		if !slices.Contains(h.Sites, s) {
			t.Errorf("sites %v lack %s", h.Sites, s)
		}
	}
	if h.BucketSeconds != 10 {
		t.Errorf("bucket %vs for 15m, want 10s", h.BucketSeconds)
	}
	var sum uint64
	for _, tot := range h.Totals {
		sum += tot.Requests
	}
	if h.All.Requests != sum || sum == 0 {
		t.Errorf("all sites: %d requests, the sites' totals add up to %d", h.All.Requests, sum)
	}
	// Percentiles of several sites do not add up: none is made up.
	if h.All.P95 != nil {
		t.Errorf("p95 over several sites: %v", *h.All.P95)
	}
	for _, s := range h.Series {
		if len(s.Points) != len(h.Series[0].Points) || s.Points[0].T != h.Series[0].Points[0].T {
			t.Fatalf("series of %s is not on the common time axis", s.Site)
		}
	}
}

func TestHealthOfASiteWithNoTraffic(t *testing.T) {
	var h healthJSON
	code, b := get(t, "/api/health?since=24h&site=nobody.example", &h)
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if len(h.Series) != 1 || h.Series[0].Site != "nobody.example" || len(h.Series[0].Points) == 0 {
		t.Fatalf("a site with no traffic gets a flat series: %+v", h.Series)
	}
	for _, p := range h.Series[0].Points {
		if p.Requests != 0 || p.P95 != nil || p.ErrorRate != nil {
			t.Fatalf("point of an idle site: %+v", p)
		}
	}
	if h.All.Requests != 0 || h.All.ErrorRate != nil || h.All.P95 != nil {
		t.Errorf("totals of an idle site: %+v", h.All)
	}
	// Unknown figures are null, never NaN (which is not JSON).
	if bytes.Contains(b, []byte("NaN")) {
		t.Error("NaN in the JSON")
	}
}

func TestBadParametersAre400(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{"/api/health?since=yesterday", "since"},
		{"/api/health?since=10s", "out of range"},
		{"/api/threats?since=1000d", "out of range"},
		{"/api/top?n=0", "n:"},
		{"/api/top?n=many", "n:"},
		{"/api/health?site=" + strings.Repeat("x", 300), "site"},
	} {
		code, b := get(t, c.path, nil)
		var e struct{ Error string }
		if code != 400 || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, c.want) {
			t.Errorf("%.60s: %d %s; want 400 with an error about %q", c.path, code, b, c.want)
		}
	}
	if code, b := get(t, "/api/nothing", nil); code != 404 || !bytes.Contains(b, []byte(`"error"`)) {
		t.Errorf("unknown endpoint: %d %s", code, b)
	}
}

type threatsJSON struct {
	Rules []struct {
		Name     string
		Severity int
	}
	Offenders []struct {
		Rule, Category, Scope, Site, ID string
		Severity                        int
		Epoch                           uint32
		Requests                        uint64
		Evidence                        map[string]*float64
		FirstSeen                       time.Time `json:"first_seen"`
		LastSeen                        time.Time `json:"last_seen"`
		Rules, Categories               []string
		Matches                         []struct {
			Rule, Category string
			Severity       int
			Evidence       map[string]*float64
		}
	}
	Categories []struct {
		Category  string
		Offenders int
	}
}

func TestThreatsListTheSeededAttackers(t *testing.T) {
	var all threatsJSON
	if code, b := get(t, "/api/threats?since=1h", &all); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if len(all.Rules) == 0 {
		t.Fatal("no rules")
	}
	cats := map[string]int{}
	seen := map[string]bool{}
	var categorised int
	for _, o := range all.Offenders {
		// One row per offender, with every rule that caught it and the
		// highest severity; rule, category and evidence are its first's.
		key := fmt.Sprint(o.Scope, o.Site, o.Epoch, o.ID)
		if seen[key] {
			t.Errorf("offender %s listed twice", key)
		}
		seen[key] = true
		if len(o.Matches) == 0 || len(o.Rules) != len(o.Matches) || o.Rule != o.Rules[0] || o.Matches[0].Severity != o.Severity ||
			o.Category != o.Matches[0].Category || len(o.Evidence) != len(o.Matches[0].Evidence) {
			t.Errorf("offender %s: rule %s (%s), severity %d, rules %v, matches %+v", key, o.Rule, o.Category, o.Severity, o.Rules, o.Matches)
		}
		for i, m := range o.Matches {
			if m.Rule != o.Rules[i] || m.Severity > o.Severity || !slices.Contains(o.Categories, m.Category) {
				t.Errorf("offender %s: match %+v of rules %v, categories %v", key, m, o.Rules, o.Categories)
			}
		}
		for _, c := range o.Categories {
			cats[c]++
		}
		categorised += len(o.Categories)
		if o.Severity < 1 || o.Severity > 5 || o.ID == "" || o.Requests == 0 || o.LastSeen.Before(o.FirstSeen) {
			t.Errorf("offender %+v", o)
		}
		if o.Scope == "client" && o.Epoch == 0 {
			t.Errorf("client offender without its salt epoch: %+v", o)
		}
		if o.FirstSeen.Before(truth.first.Add(-time.Second)) {
			t.Errorf("offender seen at %s, before any traffic (%s)", o.FirstSeen, truth.first)
		}
	}
	// Loggen's attackers probe sensitive files, traverse paths, inject SQL
	// and scripts (and more, which the report's own tests cover): each of
	// these kinds must show.
	t.Logf("attack lines %v; offenders per category %v", truth.attacks, cats)
	for _, c := range []string{"sensitive_file", "path_traversal", "sql_injection", "xss"} {
		if cats[c] == 0 {
			t.Errorf("no %s offender among %d (categories %v)", c, len(all.Offenders), cats)
		}
	}
	var sum int
	for _, c := range all.Categories {
		sum += c.Offenders
	}
	if sum != categorised {
		t.Errorf("categories count %d offenders, the list has %d in %d categories", sum, len(all.Offenders), categorised)
	}

	// The site filter.
	var blog threatsJSON
	if code, b := get(t, "/api/threats?since=1h&site=blog.example", &blog); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if len(blog.Offenders) == 0 || len(blog.Offenders) >= len(all.Offenders) {
		t.Errorf("blog.example: %d offenders of %d on every site", len(blog.Offenders), len(all.Offenders))
	}
	for _, o := range blog.Offenders {
		if o.Site != "blog.example" && o.Scope != "asn" {
			t.Errorf("site filter blog.example lists an offender on %s", o.Site)
		}
	}
}

type topEntry struct {
	Key      string
	Requests uint64
	Share    *float64
}

func TestTopLists(t *testing.T) {
	site := seededSites[0]
	var top struct {
		Total                                     uint64
		Clients, Networks, Paths, Countries, ASNs []topEntry
		UserAgents                                []topEntry `json:"user_agents"`
	}
	if code, b := get(t, "/api/top?since=1h&n=5&site="+site, &top); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if top.Total != uint64(truth.requests[site]) {
		t.Errorf("total %d, the traffic had %d", top.Total, truth.requests[site])
	}
	if len(top.Clients) != 5 || len(top.Networks) != 5 || len(top.Paths) != 5 || len(top.UserAgents) == 0 {
		t.Fatalf("n=5: %d clients, %d networks, %d paths, %d agents", len(top.Clients), len(top.Networks), len(top.Paths), len(top.UserAgents))
	}
	// The busiest path and its count, from the generated traffic.
	var bestPath string
	for p, n := range truth.paths[site] {
		if n > truth.paths[site][bestPath] || n == truth.paths[site][bestPath] && p < bestPath {
			bestPath = p
		}
	}
	if top.Paths[0].Key != bestPath || top.Paths[0].Requests != uint64(truth.paths[site][bestPath]) {
		t.Errorf("top path %s (%d), the traffic's is %s (%d)", top.Paths[0].Key, top.Paths[0].Requests, bestPath, truth.paths[site][bestPath])
	}
	for i, e := range top.Clients {
		if i > 0 && e.Requests > top.Clients[i-1].Requests {
			t.Errorf("clients not in order: %+v", top.Clients)
		}
		if e.Share == nil || math.Abs(*e.Share-float64(e.Requests)/float64(top.Total)) > 1e-4 {
			t.Errorf("client %s: share %v of %d/%d", e.Key, e.Share, e.Requests, top.Total)
		}
	}
}

type statusJSON struct {
	Now   time.Time
	Salts struct {
		EpochLength string `json:"epoch_length"`
		Grace       string
		Epochs      []struct {
			Epoch      uint32
			Start, End time.Time
			DestroyAt  time.Time `json:"destroy_at"`
			Current    bool
		}
		Error string
	}
	Retention []struct {
		Data        string
		Keep        string
		KeepSeconds float64 `json:"keep_seconds"`
	}
	Store struct {
		Rows           uint64
		Oldest, Newest *time.Time
	}
	Pipeline struct {
		Ready bool
		NATS  string
	}
}

func TestStatusShowsSaltsAndRetentionButNoSalt(t *testing.T) {
	var st statusJSON
	code, body := get(t, "/api/status", &st)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if st.Salts.Error != "" || st.Salts.EpochLength != "1d" || st.Salts.Grace != "2d" {
		t.Fatalf("salts: %+v", st.Salts)
	}
	var cur uint32
	for _, e := range st.Salts.Epochs {
		if e.Current {
			cur = e.Epoch
			if !e.End.Equal(e.Start.Add(24*time.Hour)) || !e.DestroyAt.Equal(e.End.Add(48*time.Hour)) || st.Now.Before(e.Start) || !st.Now.Before(e.End) {
				t.Errorf("current epoch %+v at %s", e, st.Now)
			}
		}
	}
	if cur == 0 {
		t.Fatalf("no current epoch in %+v", st.Salts.Epochs)
	}
	keep := map[string]float64{}
	for _, r := range st.Retention {
		keep[r.Data] = r.KeepSeconds
	}
	if keep["Pseudonymised requests"] != runCfg.Retention.Requests.D().Seconds() || keep["Raw events (with IPs)"] != runCfg.Streams.RawMaxAge.Seconds() ||
		keep["Salts"] != (72*time.Hour).Seconds() {
		t.Errorf("retention %+v", st.Retention)
	}
	if st.Store.Rows < uint64(seedLines)/2 || st.Store.Oldest == nil || st.Store.Oldest.After(truth.first.Add(time.Second)) {
		t.Errorf("store %+v; seeded from %s", st.Store, truth.first)
	}
	if !st.Pipeline.Ready || st.Pipeline.NATS != "connected" {
		t.Errorf("pipeline %+v", st.Pipeline)
	}

	// The salt itself is nowhere in the answer, in any usual encoding.
	// Read as the pseudonymiser's NATS user, the only one that may.
	sjs, err := eng.StageJS(bus.StageSalts)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := sjs.KeyValue(context.Background(), bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), fmt.Sprintf("epoch.%d", cur))
	if err != nil {
		t.Fatal(err)
	}
	salt := e.Value()
	if len(salt) < 16 {
		t.Fatalf("salt of %d bytes", len(salt))
	}
	for _, enc := range []string{string(salt), hex.EncodeToString(salt), strings.ToUpper(hex.EncodeToString(salt)),
		base64.StdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(salt),
		base64.URLEncoding.EncodeToString(salt), base64.RawURLEncoding.EncodeToString(salt)} {
		if bytes.Contains(body, []byte(enc[:len(enc)*3/4])) {
			t.Fatalf("the status answer contains the salt (%q)", enc)
		}
	}
}

// No answer carries a client IP: the page shows pseudonymous ids only.
func TestNoIPInAnyAnswer(t *testing.T) {
	var bodies [][]byte
	for _, site := range append([]string{""}, seededSites...) {
		for _, ep := range []string{"health", "threats", "top"} {
			code, b := get(t, "/api/"+ep+"?since=1h&n=100&site="+site, nil)
			if code != 200 && !(ep != "top" && code == 400) {
				t.Fatalf("%s %s: %d %s", ep, site, code, b)
			}
			bodies = append(bodies, b)
		}
	}
	for _, p := range []string{"/api/status", "/api/sites"} {
		_, b := get(t, p, nil)
		bodies = append(bodies, b)
	}
	all := bytes.Join(bodies, []byte("\n"))
	for _, ip := range truth.ips {
		if bytes.Contains(all, []byte(`"`+ip.String()+`"`)) || bytes.Contains(all, []byte(" "+ip.String()+" ")) || bytes.Contains(all, []byte(ip.String()+`"`)) {
			t.Fatalf("an answer contains client IP %s", ip)
		}
	}
}

func TestSitesAreListedBusiestFirst(t *testing.T) {
	var s struct {
		Sites []struct {
			Site     string
			Requests uint64
		}
	}
	if code, b := get(t, "/api/sites", &s); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	got := map[string]uint64{}
	for i, x := range s.Sites {
		got[x.Site] = x.Requests
		if i > 0 && x.Requests > s.Sites[i-1].Requests {
			t.Errorf("not busiest first: %+v", s.Sites)
		}
	}
	for _, site := range seededSites {
		if got[site] != uint64(truth.requests[site]) {
			t.Errorf("%s: %d requests, %d seeded", site, got[site], truth.requests[site])
		}
	}
	if got[ingest.DemoSite] == 0 {
		t.Errorf("no demo site in %+v", s.Sites)
	}
}

func TestPageAndAssets(t *testing.T) {
	res, err := authGet(baseURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !bytes.Contains(b, []byte(`src="/assets/app.js"`)) {
		t.Fatalf("page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: %v", res.Header)
	}
	// Nothing is loaded from elsewhere.
	if bytes.Contains(b, []byte("http://")) || bytes.Contains(b, []byte("https://")) || bytes.Contains(b, []byte("//cdn")) {
		t.Error("the page refers to another origin")
	}
	for path, ctype := range map[string]string{"/assets/app.js": "text/javascript", "/assets/app.css": "text/css", "/assets/favicon.svg": "image/svg+xml"} {
		res, err := authGet(baseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{"/assets/", "/assets/nope.js", "/nope"} {
		res, err := authGet(baseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
	// /metrics and /readyz still answer next to the dashboard.
	for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
		if code, _ := get(t, path, nil); code != 200 {
			t.Errorf("%s: %d", path, code)
		}
	}
}

// Several pages refreshing at once cost the store one query per answer.
func TestConcurrentRequestsShareOneQuery(t *testing.T) {
	counting := &countingSalts{}
	d := web.New(web.Options{CH: eng.CH, Salts: counting})
	ts := httptest.NewServer(d.Handler())
	defer ts.Close()
	srv := ts.URL
	done := make(chan int, 8)
	for range 8 {
		go func() {
			res, err := http.Get(srv + "/api/status")
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
	}
	for range 8 {
		if code := <-done; code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if n := counting.calls.Load(); n != 1 {
		t.Errorf("8 concurrent requests made %d salt listings, want 1", n)
	}
}

type countingSalts struct{ calls atomic.Int32 }

func (c *countingSalts) Epochs(context.Context) ([]pseudonymize.EpochInfo, error) {
	c.calls.Add(1)
	time.Sleep(50 * time.Millisecond) // a slow store: the other requests wait for this answer
	return nil, nil
}

// TestThreatsViews: a page of the threats table, filtered and sorted on the
// server, is the run of the whole report's offenders it names, and a bad
// view is refused before any rule runs.
func TestThreatsViews(t *testing.T) {
	type page struct {
		threatsJSON
		Total, Matched int
	}
	var all page
	if code, b := get(t, "/api/threats?since=1h", &all); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if all.Total != len(all.Offenders) || all.Matched != all.Total || all.Total < 3 {
		t.Fatalf("total %d, matched %d, %d offenders", all.Total, all.Matched, len(all.Offenders))
	}
	// The most common category, by requests ascending, two at a time.
	cat, _ := commonestCategory(all.threatsJSON)
	var want []string
	for _, o := range all.Offenders {
		if slices.Contains(o.Categories, cat) {
			want = append(want, fmt.Sprint(o.Scope, "/", o.ID, "/", o.Requests))
		}
	}
	var got []string
	for offset := 0; offset < len(want)+2; offset += 2 {
		var p page
		path := fmt.Sprintf("/api/threats?since=1h&category=%s&sort=requests&dir=asc&limit=2&offset=%d", cat, offset)
		if code, b := get(t, path, &p); code != 200 {
			t.Fatalf("%s: %d %s", path, code, b)
		}
		if p.Total != all.Total || p.Matched != len(want) || len(p.Offenders) > 2 || len(p.Categories) != len(all.Categories) {
			t.Fatalf("%s: total %d, matched %d, %d offenders, %d categories; want %d, %d, at most 2, %d",
				path, p.Total, p.Matched, len(p.Offenders), len(p.Categories), all.Total, len(want), len(all.Categories))
		}
		for _, o := range p.Offenders {
			got = append(got, fmt.Sprint(o.Scope, "/", o.ID, "/", o.Requests))
		}
	}
	slices.SortStableFunc(want, func(a, b string) int { return cmpRequests(a) - cmpRequests(b) })
	if len(got) != len(want) {
		t.Fatalf("pages of %s: %d offenders, want %d", cat, len(got), len(want))
	}
	for i := range got {
		if cmpRequests(got[i]) != cmpRequests(want[i]) {
			t.Fatalf("pages of %s by requests: %v, want %v", cat, got, want)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("pages of %s: %v, want %v", cat, got, want)
	}

	// Text: an offender's id finds it.
	var one page
	id := all.Offenders[len(all.Offenders)-1].ID
	if code, b := get(t, "/api/threats?since=1h&q="+url.QueryEscape(strings.ToUpper(id)), &one); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	found := false
	for _, o := range one.Offenders {
		found = found || o.ID == id
	}
	if one.Matched == 0 || !found {
		t.Errorf("q=%s: %d matched, not the offender", id, one.Matched)
	}

	// A bad view: 400, and no query.
	const queries = `vakt_dashboard_queries_total{endpoint="threats"}`
	before := metricValue(t, queries)
	for _, p := range []string{"/api/threats?since=3h&sort=ip", "/api/threats?since=3h&limit=0", "/api/threats?since=3h&dir=sideways"} {
		if code, b := get(t, p, nil); code != 400 {
			t.Errorf("%s: %d %s, want 400", p, code, b)
		}
	}
	if after := metricValue(t, queries); after != before {
		t.Errorf("a refused view ran %v queries", after-before)
	}
}

// commonestCategory is the category most offenders of r have (the first
// by name of those), and how many have it.
func commonestCategory(r threatsJSON) (string, int) {
	counts := map[string]int{}
	for _, o := range r.Offenders {
		for _, c := range o.Categories {
			counts[c]++
		}
	}
	var cat string
	for c, n := range counts {
		if n > counts[cat] || (n == counts[cat] && c < cat) {
			cat = c
		}
	}
	return cat, counts[cat]
}

// cmpRequests is the requests of a "scope/id/requests" key.
func cmpRequests(key string) int {
	n, _ := strconv.Atoi(key[strings.LastIndexByte(key, '/')+1:])
	return n
}
