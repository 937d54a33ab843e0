package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// request sends one request to the running vakt's listener and returns the
// response (body read) without following redirects.
func request(t *testing.T, method, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, baseURL+path, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	c := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// metricValue reads one sample of the running vakt's /metrics (0 when
// absent), e.g. `vakt_http_refused_total{reason="origin"}`.
func metricValue(t *testing.T, sample string) float64 {
	t.Helper()
	res, body := request(t, http.MethodGet, "/metrics", map[string]string{"Authorization": "Bearer " + token})
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d", res.StatusCode)
	}
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// TestListenerNeedsTokenSameOriginAndOwnHost checks the listener `vakt run`
// serves: the token (bearer or the session cookie opening /?token= sets)
// for the page, the API and /metrics; the probes and static files open;
// foreign Host names and Origins refused even with the token.
func TestListenerNeedsTokenSameOriginAndOwnHost(t *testing.T) {
	bearer := "Bearer " + token
	for _, p := range []string{"/", "/api/status", "/api/threats?since=1h", "/metrics"} {
		if res, body := request(t, http.MethodGet, p, nil); res.StatusCode != 401 || strings.Contains(body, token) {
			t.Errorf("GET %s without the token: %d", p, res.StatusCode)
		}
		if res, _ := request(t, http.MethodGet, p, map[string]string{"Authorization": bearer}); res.StatusCode != 200 {
			t.Errorf("GET %s with the token: %d", p, res.StatusCode)
		}
		for _, h := range []map[string]string{
			{"Authorization": bearer, "Host": "attacker.example:9464"},
			{"Authorization": bearer, "Host": "192.168.1.20"},
			{"Authorization": bearer, "Origin": "http://attacker.example"},
			{"Authorization": bearer, "Origin": "http://127.0.0.1:1"},
		} {
			if res, _ := request(t, http.MethodGet, p, h); res.StatusCode != 403 {
				t.Errorf("GET %s with %v: %d, want 403", p, h, res.StatusCode)
			}
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/assets/app.js"} {
		if res, _ := request(t, http.MethodGet, p, nil); res.StatusCode != 200 {
			t.Errorf("GET %s without the token: %d, want 200 (no data there)", p, res.StatusCode)
		}
	}
	if res, _ := request(t, http.MethodGet, "/", nil); !strings.Contains(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("the 401 page is %s", res.Header.Get("Content-Type"))
	}
	// The API changes nothing: no other method reaches it.
	if res, _ := request(t, http.MethodPost, "/api/status", map[string]string{"Authorization": bearer, "Content-Type": "text/plain"}); res.StatusCode != 405 {
		t.Errorf("POST /api/status: %d, want 405", res.StatusCode)
	}

	// A browser: the token URL sets the session cookie and goes to the
	// same page without it.
	res, _ := request(t, http.MethodGet, "/?range=1h&token="+token, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/?range=1h" || len(res.Cookies()) != 1 {
		t.Fatalf("token URL: %d to %q, cookies %v", res.StatusCode, res.Header.Get("Location"), res.Cookies())
	}
	c := res.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("session cookie %+v", c)
	}
	if res, _ := request(t, http.MethodGet, "/api/sites", map[string]string{"Cookie": c.Name + "=" + c.Value}); res.StatusCode != 200 {
		t.Errorf("with the session cookie: %d", res.StatusCode)
	}
}

// /readyz is open, so it must say nothing about where the engines are.
func TestReadyzHasNoAddresses(t *testing.T) {
	_, body := request(t, http.MethodGet, "/readyz", nil)
	if !strings.Contains(body, `"store":"ok"`) {
		t.Errorf("/readyz lacks the store's insert state: %s", body)
	}
	for _, m := range regexp.MustCompile(`[0-9a-fA-F:.\[\]]{3,}`).FindAllString(body, -1) {
		if _, err := netip.ParseAddr(strings.Trim(m, "[]")); err == nil {
			t.Errorf("/readyz names an address %s: %s", m, body)
		}
	}
	if strings.Contains(body, token) || regexp.MustCompile(`:\d{4,5}\b`).MatchString(body) {
		t.Errorf("/readyz holds a token or a port: %s", body)
	}
}

// Requests with junk parameters share one evaluation: the cache is keyed on
// the parameters the endpoint reads, and concurrent identical requests
// wait for one answer.
func TestJunkParametersShareOneEvaluation(t *testing.T) {
	const sample = `vakt_dashboard_queries_total{endpoint="threats"}`
	before := metricValue(t, sample)
	// since=53m is spelled three ways; no other test asks for it.
	spellings := []string{"53m", "3180s", "53m0s"}
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			res, err := authGet(fmt.Sprintf("%s/api/threats?since=%s&site=&junk%d=%d&_=%d", baseURL, spellings[i%3], i, i, i))
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				codes[i] = res.StatusCode
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if n := metricValue(t, sample) - before; n != 1 {
		t.Fatalf("20 requests with junk parameters ran the rules %v times, want 1", n)
	}
}
