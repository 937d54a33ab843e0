package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// screenshotDir is where the browser test leaves its screenshots, under
// the package (git-ignored), so they outlive the test; with
// `go test -artifacts`, they are also in the test's artifact directory.
const screenshotDir = "testdata/out"

// chromium returns Debian's chromium (testenv.Chromium: it fails in CI
// and skips elsewhere without it).
func chromium(t *testing.T) string { return testenv.Chromium(t) }

// headless runs chromium on url with extra flags (testenv.RunChromium) and
// returns stdout. It fails the test on any console message: the page writes
// none, so one is an error or a CSP violation.
func headless(t *testing.T, _, url string, extra ...string) string {
	t.Helper()
	b := testenv.RunChromium(t, url, extra...)
	for _, line := range b.Console {
		t.Errorf("console message on %s: %s", url, line)
	}
	return b.Stdout
}

var (
	bodyAttrRE = regexp.MustCompile(`<body[^>]*>`)
	attrRE     = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	optionRE   = regexp.MustCompile(`<option value="([^"]*)"`)
	rowRE      = regexp.MustCompile(`(?s)<tr class="offender" data-category="([^"]*)" data-key="([^"]*)">(.*?)</tr>`)
	cellRE     = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	tagRE      = regexp.MustCompile(`<[^>]+>`)
)

// page is what the test reads back from the rendered DOM.
type page struct {
	dom  string
	body map[string]string
}

func parsePage(t *testing.T, dom string) page {
	t.Helper()
	p := page{dom: dom, body: map[string]string{}}
	b := bodyAttrRE.FindString(dom)
	if b == "" {
		t.Fatalf("no body in the DOM:\n%.2000s", dom)
	}
	for _, m := range attrRE.FindAllStringSubmatch(b, -1) {
		p.body[m[1]] = html.UnescapeString(m[2])
	}
	return p
}

// chart returns the data-* attributes of a chart's svg.
func (p page) chart(t *testing.T, name string) map[string]int {
	t.Helper()
	m := regexp.MustCompile(`id="chart-` + name + `"[^>]*><svg[^>]*>`).FindString(p.dom)
	if m == "" {
		t.Fatalf("chart %s not drawn", name)
	}
	out := map[string]int{}
	for _, a := range attrRE.FindAllStringSubmatch(m, -1) {
		if n, err := strconv.Atoi(a[2]); err == nil {
			out[strings.TrimPrefix(a[1], "data-")] = n
		}
	}
	return out
}

// kpi returns a key figure's shown value and its exact value.
func (p page) kpi(t *testing.T, id string) (string, string) {
	t.Helper()
	m := regexp.MustCompile(`(?s)<div class="kpi[^"]*" id="kpi-` + id + `"([^>]*)>.*?<div class="k-value">([^<]*)</div>`).FindStringSubmatch(p.dom)
	if m == nil {
		t.Fatalf("key figure %s not found", id)
	}
	var exact string
	for _, a := range attrRE.FindAllStringSubmatch(m[1], -1) {
		if a[1] == "data-value" {
			exact = a[2]
		}
	}
	return html.UnescapeString(m[2]), exact
}

// shownOffender is one row of the threats table: its categories and
// rules (space-separated), id, site, key (scope/site/epoch/id) and the
// link of its id.
type shownOffender struct{ category, rule, id, site, key, href string }

var threatCountRE = regexp.MustCompile(`id="threat-count"[^>]*>([^<]*)<`)

var hrefRE = regexp.MustCompile(`<a class="offender-id" href="([^"]*)"`)

func (p page) offenders() []shownOffender {
	var out []shownOffender
	for _, r := range rowRE.FindAllStringSubmatch(p.dom, -1) {
		cells := cellRE.FindAllStringSubmatch(r[3], -1)
		text := func(i int) string {
			if i >= len(cells) {
				return ""
			}
			return html.UnescapeString(tagRE.ReplaceAllString(cells[i][1], " "))
		}
		id := strings.Fields(text(3))
		o := shownOffender{category: r[1], rule: strings.Join(strings.Fields(text(2)), " "), site: strings.TrimSpace(text(4)), key: html.UnescapeString(r[2])}
		if m := hrefRE.FindStringSubmatch(r[3]); m != nil {
			o.href = html.UnescapeString(m[1])
		}
		if len(id) > 0 {
			o.id = id[0]
		}
		out = append(out, o)
	}
	return out
}

// TestBrowserDashboard loads the dashboard of a running vakt with data in
// Debian's headless chromium and checks what the page shows: the site
// selector has the sites, the charts have data points, the threats table
// lists the offenders the API reports, the salt and retention status are
// there, no IP is on the page, and no script error or console message
// occurred. It saves screenshots under testdata/out.
func TestBrowserDashboard(t *testing.T) {
	bin := chromium(t)

	// Every site, the last hour: what an operator opens first.
	all := parsePage(t, headless(t, bin, pageURL("range=1h"), "--window-size=1400,1000", "--dump-dom"))
	if got := strings.Fields(all.body["data-loaded"]); !slices.Equal(got, []string{"decisions", "health", "sites", "status", "threats", "top"}) {
		t.Fatalf("panels loaded: %q, want every one (js errors: %s)", all.body["data-loaded"], all.body["data-js-errors"])
	}
	if all.body["data-js-errors"] != "0" || strings.Contains(all.dom, `<ul id="js-errors" hidden=""><li>`) {
		t.Errorf("script errors on the page: %s", regexp.MustCompile(`(?s)<ul id="js-errors".*?</ul>`).FindString(all.dom))
	}
	var options []string
	for _, m := range optionRE.FindAllStringSubmatch(all.dom, -1) {
		options = append(options, m[1])
	}
	for _, want := range []string{"", seededSites[0], seededSites[1], ingest.DemoSite} {
		if !slices.Contains(options, want) {
			t.Errorf("site selector %q lacks %q", options, want)
		}
	}
	rps := all.chart(t, "rps")
	// One line per site plus their total, over 60 one-minute buckets; the
	// seeded sites had traffic in 48 of them.
	if rps["series"] != 4 || rps["points"] < 4*60 || rps["nonzero"] < 2*40 {
		t.Errorf("requests/s chart: %v", rps)
	}
	if e := all.chart(t, "errors"); e["nonzero"] < 10 {
		t.Errorf("errors chart: %v", e)
	}
	if l := all.chart(t, "latency"); l["nonzero"] < 2*40 {
		t.Errorf("latency chart: %v", l)
	}
	if shown, exact := all.kpi(t, "requests"); shown == "—" || exact == "" {
		t.Errorf("requests figure %q (%s)", shown, exact)
	} else if n, _ := strconv.Atoi(exact); n < truth.requests[seededSites[0]]+truth.requests[seededSites[1]] {
		t.Errorf("requests figure %d, below the %d seeded", n, truth.requests[seededSites[0]]+truth.requests[seededSites[1]])
	}
	if rows := all.offenders(); len(rows) == 0 {
		t.Error("the threats table is empty")
	}
	var st statusJSON
	get(t, "/api/status", &st)
	var cur uint32
	for _, e := range st.Salts.Epochs {
		if e.Current {
			cur = e.Epoch
		}
	}
	if !strings.Contains(all.dom, fmt.Sprintf("Epoch %d in use", cur)) {
		t.Errorf("salt status does not show current epoch %d", cur)
	}
	if !regexp.MustCompile(`Pseudonymised requests</td><td class="nowrap">30d</td>`).MatchString(all.dom) {
		t.Error("retention of request rows (30d) not shown")
	}
	for _, ip := range truth.ips {
		if strings.Contains(all.dom, ip.String()) {
			t.Fatalf("client IP %s is on the page", ip)
		}
	}

	// One site: its offenders exactly as the API reports them, and its
	// latency percentiles.
	site := seededSites[0]
	var api threatsJSON
	get(t, "/api/threats?since=1h&site="+site, &api)
	one := parsePage(t, headless(t, bin, pageURL("range=1h&site="+site), "--window-size=1400,1000", "--dump-dom"))
	rows := one.offenders()
	if len(rows) != min(len(api.Offenders), 250) || one.body["data-offenders"] != strconv.Itoa(len(rows)) {
		t.Errorf("%s: the table shows %d offenders, the API reports %d", site, len(rows), len(api.Offenders))
	}
	// The count is of every offender, not of the page the server sent.
	if m := threatCountRE.FindStringSubmatch(one.dom); m == nil || strings.ReplaceAll(m[1], ",", "") != strconv.Itoa(len(api.Offenders)) {
		t.Errorf("%s: the threats count shows %v, the API reports %d", site, m, len(api.Offenders))
	}
	// One row per offender, with all its rules.
	keys := map[string]bool{}
	for i, r := range rows {
		if keys[r.key] {
			t.Errorf("row %d: offender %s has a second row", i, r.key)
		}
		keys[r.key] = true
		if i < len(api.Offenders) {
			a := api.Offenders[i]
			if r.id != a.ID || r.rule != strings.Join(a.Rules, " ") || r.category != strings.Join(a.Categories, " ") || (a.Scope != "asn" && r.site != site) {
				t.Errorf("row %d shows %+v, the API has %v %v %s on %s", i, r, a.Rules, a.Categories, a.ID, a.Site)
			}
		}
	}
	if l := one.chart(t, "latency"); l["series"] != 3 || l["nonzero"] < 3*40 {
		t.Errorf("%s: latency chart %v, want p50, p95 and p99 with data", site, l)
	}
	if _, exact := one.kpi(t, "requests"); exact != strconv.Itoa(truth.requests[site]) {
		t.Errorf("%s: requests figure %s, the traffic had %d", site, exact, truth.requests[site])
	}
	if shown, _ := one.kpi(t, "latency"); !strings.HasSuffix(shown, " ms") && !strings.HasSuffix(shown, " s") {
		t.Errorf("%s: p95 figure %q", site, shown)
	}

	// A site with no traffic: readable empty states, not broken charts.
	empty := parsePage(t, headless(t, bin, pageURL("range=15m&site=nobody.example"), "--window-size=1400,1000", "--dump-dom"))
	if !strings.Contains(empty.dom, "No requests for nobody.example in the last 15 minutes.") ||
		!strings.Contains(empty.dom, "No offenders for nobody.example in the last 15 minutes") {
		t.Error("no empty state for a site without traffic")
	}
	if c := empty.chart(t, "rps"); c["nonzero"] != 0 || c["points"] == 0 {
		t.Errorf("idle site's chart: %v", c)
	}

	// Screenshots: the first screen at 1400x1000, the whole page, and one
	// site's first screen.
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ name, query, size string }{
		{"dashboard.png", "range=1h", "1400,1000"},
		{"dashboard-full.png", "range=1h", "1400,2500"},
		{"dashboard-site.png", "range=1h&site=" + site, "1400,1000"},
	} {
		path, err := filepath.Abs(filepath.Join(screenshotDir, s.name))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(path)
		headless(t, bin, pageURL(s.query), "--window-size="+s.size, "--screenshot="+path)
		checkScreenshot(t, path, s.size)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), s.name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

// checkScreenshot checks that path is a PNG of the window's size with a
// rendered page on it, not a blank or error page.
func checkScreenshot(t *testing.T, path, size string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if b := img.Bounds(); fmt.Sprintf("%d,%d", b.Dx(), b.Dy()) != size {
		t.Errorf("screenshot %s is %dx%d, want %s", path, b.Dx(), b.Dy(), size)
	}
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>11<<10|g>>11<<5|bl>>11] = true
		}
	}
	if len(colours) < 40 {
		t.Errorf("screenshot %s looks blank: %d colours", path, len(colours))
	}
}

// TestBrowserClientPage opens an offender's investigation page the way a
// user does, from its id in the threats table, and checks that every panel
// shows what `vakt report client` prints for the same id, site and range.
func TestBrowserClientPage(t *testing.T) {
	bin := chromium(t)
	site := seededSites[0]
	dash := parsePage(t, headless(t, bin, pageURL("range=24h&site="+site), "--window-size=1400,1000", "--dump-dom"))
	var pick shownOffender
	for _, r := range dash.offenders() {
		if strings.HasPrefix(r.key, "client/") && len(strings.Fields(r.rule)) > len(strings.Fields(pick.rule)) {
			pick = r
		}
	}
	if pick.href == "" {
		t.Fatalf("no client offender with a link in the threats table:\n%.3000s", dash.dom)
	}
	u, err := url.Parse(pick.href)
	if err != nil || u.Path != "/client" {
		t.Fatalf("offender link %q: %v", pick.href, err)
	}
	lq := u.Query()
	_, _, epoch, id := splitKey(t, pick.key)
	if lq.Get("id") != id || lq.Get("epoch") != epoch || lq.Get("site") != site || lq.Get("range") != "24h" || id != pick.id {
		t.Fatalf("offender %s links to %q", pick.key, pick.href)
	}
	t.Logf("offender %s (rules %s): %s", pick.key, pick.rule, pick.href)

	dom := headless(t, bin, baseURL+pick.href+"&token="+token, "--window-size=1400,1200", "--dump-dom")
	p := parsePage(t, dom)
	if p.body["data-loaded"] != "client" || p.body["data-js-errors"] != "0" {
		t.Fatalf("client page: loaded %q, js errors %q: %s", p.body["data-loaded"], p.body["data-js-errors"],
			regexp.MustCompile(`(?s)<(ul id="js-errors"|div id="banner").*?</(ul|div)>`).FindAllString(dom, -1))
	}

	// The same report from the command line's code (vakt report client).
	ep, _ := strconv.ParseUint(epoch, 10, 32)
	var out strings.Builder
	err = app.ReportCommand(t.Context(), runCfg, "client", analyze.ReportOptions{Since: "24h", Site: site, Format: "json", ID: id, Epoch: uint32(ep)}, quiet, &out)
	if err != nil {
		t.Fatalf("vakt report client: %v", err)
	}
	cli := map[string][]map[string]any{}
	for line := range strings.Lines(out.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("vakt report client: %v: %s", err, line)
		}
		cli[m["section"].(string)] = append(cli[m["section"].(string)], m)
	}
	if len(cli["summary"]) != 1 {
		t.Fatalf("vakt report client printed no summary:\n%s", out.String())
	}

	// Summary figures.
	sum := cli["summary"][0]
	for _, k := range []struct{ kpi, want string }{
		{"requests", text(sum["requests"])},
		{"errors", text(sum["status_4xx"]) + " " + text(sum["status_5xx"])},
		{"paths", text(sum["distinct_paths"])},
		{"seen", isoTime(t, sum["first_seen"]) + " " + isoTime(t, sum["last_seen"])},
		{"country", text(sum["country"])},
		{"as", text(sum["asn"])},
	} {
		if _, got := p.kpi(t, k.kpi); html.UnescapeString(got) != k.want {
			t.Errorf("summary %s: page %q, vakt report client %q", k.kpi, got, k.want)
		}
	}
	// Requests over time.
	var total float64
	for _, r := range cli["series"] {
		total += number(t, r["requests"])
	}
	if c := p.chart(t, "series"); c["points"] != len(cli["series"]) || c["total"] != int(total) || total != number(t, sum["requests"]) {
		t.Errorf("series: page %v, vakt report client %d buckets, %v requests", c, len(cli["series"]), total)
	}
	// Tables: every row, in order.
	for _, tc := range []struct {
		table, section string
		attrs, fields  []string
	}{
		{"c-paths", "paths", []string{"key", "status", "n"}, []string{"path", "status", "requests"}},
		{"c-user_agents", "user_agents", []string{"key", "n"}, []string{"user_agent", "requests"}},
		{"c-referrers", "referrers", []string{"key", "n"}, []string{"referrer_host", "requests"}},
		{"c-rules", "rules", []string{"key", "scope", "id", "n"}, []string{"rule", "scope", "id", "requests"}},
		{"c-network", "network", []string{"key", "epoch", "n", "rules"}, []string{"id", "epoch", "requests", "rules"}},
	} {
		shown := tableRows(t, dom, tc.table)
		if len(shown) != len(cli[tc.section]) {
			t.Errorf("%s: page shows %d rows, vakt report client %d", tc.section, len(shown), len(cli[tc.section]))
			continue
		}
		for i, row := range shown {
			for j, a := range tc.attrs {
				if want := text(cli[tc.section][i][tc.fields[j]]); row[a] != want {
					t.Errorf("%s row %d: %s %q on the page, %q from vakt report client", tc.section, i, tc.fields[j], row[a], want)
				}
			}
			if tc.section == "rules" {
				var page, want map[string]*float64
				json.Unmarshal([]byte(row["evidence"]), &page)
				b, _ := json.Marshal(cli["rules"][i]["evidence"])
				json.Unmarshal(b, &want)
				if fmt.Sprint(deref(page)) != fmt.Sprint(deref(want)) {
					t.Errorf("rule %s: evidence %s on the page, %s from vakt report client", row["key"], row["evidence"], b)
				}
			}
		}
	}
	t.Logf("client page = vakt report client: %s requests, %d buckets, %d paths, %d user agents, %d referrer hosts, %d rules, %d other clients of its network",
		text(sum["requests"]), len(cli["series"]), len(cli["paths"]), len(cli["user_agents"]), len(cli["referrers"]), len(cli["rules"]), len(cli["network"]))
	// Every rule of its threats-table row is among the rules matched.
	var matched []string
	for _, r := range cli["rules"] {
		matched = append(matched, text(r["rule"]))
	}
	for _, r := range strings.Fields(pick.rule) {
		if !slices.Contains(matched, r) {
			t.Errorf("rule %s of the threats table is not on the client page (%v)", r, matched)
		}
	}
	for _, ip := range truth.ips {
		if strings.Contains(dom, ip.String()) || strings.Contains(out.String(), ip.String()) {
			t.Fatalf("client IP %s is on the client page or in vakt report client", ip)
		}
	}

	path, err := filepath.Abs(filepath.Join(screenshotDir, "client.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	headless(t, bin, baseURL+pick.href+"&token="+token, "--window-size=1400,1600", "--screenshot="+path)
	checkScreenshot(t, path, "1400,1600")
	t.Logf("screenshot: %s", path)
}

// splitKey splits a threats row's key: scope/site/epoch/id.
func splitKey(t *testing.T, key string) (scope, site, epoch, id string) {
	t.Helper()
	parts := strings.Split(key, "/")
	if len(parts) != 4 {
		t.Fatalf("row key %q", key)
	}
	return parts[0], parts[1], parts[2], parts[3]
}

var (
	tableRE = regexp.MustCompile(`(?s)<table id="([^"]*)"[^>]*>.*?<tbody>(.*?)</tbody>`)
	trRE    = regexp.MustCompile(`<tr([^>]*)>`)
)

// tableRows returns the data-* attributes of each row of a table.
func tableRows(t *testing.T, dom, id string) []map[string]string {
	t.Helper()
	for _, m := range tableRE.FindAllStringSubmatch(dom, -1) {
		if m[1] != id {
			continue
		}
		var out []map[string]string
		for _, tr := range trRE.FindAllStringSubmatch(m[2], -1) {
			row := map[string]string{}
			for _, a := range attrRE.FindAllStringSubmatch(tr[1], -1) {
				row[strings.TrimPrefix(a[1], "data-")] = html.UnescapeString(a[2])
			}
			out = append(out, row)
		}
		return out
	}
	t.Fatalf("no table %s on the page", id)
	return nil
}

// text renders a JSON value of vakt report as the page's data attributes
// hold it: numbers (quoted or not) in decimal, arrays space-separated.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = text(e)
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}

func number(t *testing.T, v any) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(text(v), 64)
	if err != nil {
		t.Fatalf("not a number: %v", v)
	}
	return f
}

// isoTime turns a DateTime64(3) of vakt report into the page's ISO form.
func isoTime(t *testing.T, v any) string {
	t.Helper()
	ts, err := time.Parse("2006-01-02 15:04:05.000", text(v))
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return strings.Replace(ts.Format("2006-01-02T15:04:05.000Z"), ".000Z", "Z", 1)
}

func deref(m map[string]*float64) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if v == nil {
			out[k] = nil
		} else {
			out[k] = *v
		}
	}
	return out
}
