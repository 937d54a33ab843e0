package httpguard

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// server serves a counting handler behind a guard on a real loopback port.
func server(t *testing.T, o Options) (*httptest.Server, *atomic.Int32, map[string]int) {
	t.Helper()
	var hits atomic.Int32
	refused := map[string]int{}
	ts := httptest.NewUnstartedServer(nil)
	o.Listen = ts.Listener.Addr().String()
	o.OnRefuse = func(r string) { refused[r]++ }
	if o.Open == nil {
		o.Open = func(p string) bool { return p == "/readyz" }
	}
	ts.Config.Handler = New(o).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("data"))
	}))
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &hits, refused
}

type req struct {
	method, path, host string
	header             map[string]string
}

func do(t *testing.T, ts *httptest.Server, r req) *http.Response {
	t.Helper()
	hr, err := http.NewRequest(cmpOr(r.method, http.MethodGet), ts.URL+r.path, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	c := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestChecks(t *testing.T) {
	ts, hits, refused := server(t, Options{Token: token, AllowedHosts: []string{"Vakt.Example.org."}})
	bearer := map[string]string{"Authorization": "Bearer " + token}
	own := "http://" + ts.Listener.Addr().String()
	for _, c := range []struct {
		name string
		r    req
		want int
	}{
		{"no credentials", req{path: "/api/x"}, 401},
		{"wrong bearer", req{path: "/api/x", header: map[string]string{"Authorization": "Bearer nope"}}, 401},
		{"basic auth is not a token", req{path: "/api/x", header: map[string]string{"Authorization": "Basic " + token}}, 401},
		{"bearer", req{path: "/api/x", header: bearer}, 200},
		{"bearer, lower-case scheme", req{path: "/metrics", header: map[string]string{"Authorization": "bearer " + token}}, 200},
		{"open path without credentials", req{path: "/readyz"}, 200},
		{"localhost", req{path: "/api/x", host: "localhost:1", header: bearer}, 200},
		{"127.0.0.2", req{path: "/api/x", host: "127.0.0.2", header: bearer}, 200},
		{"[::1]", req{path: "/api/x", host: "[::1]:9464", header: bearer}, 200},
		{"allowed host", req{path: "/api/x", host: "vakt.example.org:443", header: bearer}, 200},
		{"foreign host", req{path: "/api/x", host: "attacker.example:9464", header: bearer}, 403},
		{"foreign host on an open path", req{path: "/readyz", host: "attacker.example"}, 403},
		{"rebinding to a private address", req{path: "/api/x", host: "10.0.0.1", header: bearer}, 403},
		{"localhost lookalike", req{path: "/api/x", host: "localhost.attacker.example", header: bearer}, 403},
		{"own origin", req{method: "POST", path: "/api/x", header: map[string]string{"Authorization": "Bearer " + token, "Origin": own}}, 200},
		{"foreign origin", req{path: "/api/x", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "http://attacker.example"}}, 403},
		{"other port, same host", req{method: "POST", path: "/api/x", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "http://127.0.0.1:1"}}, 403},
		{"null origin", req{method: "POST", path: "/api/x", header: map[string]string{"Authorization": "Bearer " + token, "Origin": "null"}}, 403},
		{"no-cors GET from a same-site page", req{path: "/metrics", header: map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}}, 403},
		{"navigation from another site", req{path: "/", header: map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}}, 401},
		{"typed into the address bar", req{path: "/", header: map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}}, 200},
		{"token in the URL of another origin's request", req{path: "/?token=" + token, header: map[string]string{"Origin": "http://127.0.0.1:1"}}, 403},
		{"wrong token in the URL", req{path: "/?token=nope"}, 401},
	} {
		before := hits.Load()
		res := do(t, ts, c.r)
		if res.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, res.StatusCode, c.want)
		}
		if reached := hits.Load() != before; reached != (c.want == 200) {
			t.Errorf("%s: reached the handler: %v", c.name, reached)
		}
	}
	if refused[ReasonHost] != 4 || refused[ReasonOrigin] != 5 || refused[ReasonAuth] != 5 {
		t.Errorf("refusals counted %v", refused)
	}
}

// Opening /?token= swaps the token for an HttpOnly, SameSite=Strict cookie
// and drops it from the URL; the cookie then authenticates.
func TestTokenURLSetsSessionCookie(t *testing.T) {
	ts, hits, _ := server(t, Options{Token: token})
	res := do(t, ts, req{path: "/?range=1h&token=" + token + "&site=a.example"})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/?range=1h&site=a.example" {
		t.Fatalf("%d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if hits.Load() != 0 {
		t.Fatal("the token request reached the handler")
	}
	cs := res.Cookies()
	if len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Path != "/" ||
		!strings.HasPrefix(cs[0].Name, "vakt_session_") || strings.Contains(cs[0].Value, token) {
		t.Fatalf("cookie %+v", cs)
	}
	cookie := cs[0].Name + "=" + cs[0].Value
	if res := do(t, ts, req{path: "/api/x", header: map[string]string{"Cookie": cookie}}); res.StatusCode != 200 {
		t.Fatalf("with the cookie: %d", res.StatusCode)
	}
	if res := do(t, ts, req{path: "/api/x", header: map[string]string{"Cookie": cs[0].Name + "=" + token}}); res.StatusCode != 401 {
		t.Fatalf("the token as cookie value: %d", res.StatusCode)
	}
	// Another listener's cookie (another port, another token) is not this one's.
	other, _, _ := server(t, Options{Token: strings.Repeat("f", 64)})
	if res := do(t, other, req{path: "/api/x", header: map[string]string{"Cookie": cookie}}); res.StatusCode != 401 {
		t.Fatalf("another listener accepted the cookie: %d", res.StatusCode)
	}
}

func TestNoTokenStillChecksHostAndOrigin(t *testing.T) {
	ts, _, _ := server(t, Options{})
	if res := do(t, ts, req{path: "/api/x"}); res.StatusCode != 200 {
		t.Fatalf("auth none: %d", res.StatusCode)
	}
	if res := do(t, ts, req{path: "/api/x", host: "attacker.example"}); res.StatusCode != 403 {
		t.Fatalf("foreign host: %d", res.StatusCode)
	}
	if res := do(t, ts, req{method: "POST", path: "/api/x", header: map[string]string{"Origin": "http://attacker.example"}}); res.StatusCode != 403 {
		t.Fatalf("foreign origin: %d", res.StatusCode)
	}
}

func TestWithoutToken(t *testing.T) {
	for raw, want := range map[string]string{
		"token=x":                 "",
		"a=1&token=x&b=2":         "a=1&b=2",
		"to%6Ben=x&a=%20":         "a=%20",
		"tokens=1&token=x&token=": "tokens=1",
	} {
		if got := withoutToken(raw); got != want {
			t.Errorf("withoutToken(%q) = %q, want %q", raw, got, want)
		}
	}
}

// LimitListener holds n connections; the next waits until one closes.
func TestLimitListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitListener(ln, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two are open")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
	second.Close()
}
