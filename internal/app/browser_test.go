package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vakt-dev/vakt/analyze/web"
	"github.com/vakt-dev/vakt/internal/health"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// probePage is a page that, from JavaScript, asks target (empty: its own
// origin) for the dashboard's API with the token in the URL and as a bearer
// header, for /metrics, and POSTs text/plain (a "simple" request, sent
// without a CORS preflight) carrying the token, all with credentials;
// then a no-cors GET (an image). It writes what it could see into the DOM.
const probePage = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>probe</title></head>
<body><pre id="out">running</pre><script>
const T = %q, TOKEN = %q, out = [];
async function probe(name, url, init) {
  try { const r = await fetch(url, Object.assign({credentials: "include", cache: "no-store"}, init)); out.push(name + "=" + r.status); }
  catch (e) { out.push(name + "=blocked"); }
}
(async () => {
  await probe("status-token", T + "/api/status?junk=1&token=" + TOKEN);
  await probe("status-bearer", T + "/api/status?junk=2", {headers: {Authorization: "Bearer " + TOKEN}});
  await probe("metrics", T + "/metrics");
  await probe("post", T + "/api/probe", {method: "POST", headers: {"Content-Type": "text/plain"}, body: "token=" + TOKEN});
  await new Promise(done => { const i = new Image(); i.onload = i.onerror = done; i.src = T + "/metrics?as=image"; });
  document.getElementById("out").textContent = "done " + out.join(" ");
})();
</script></body></html>
`

// probeRequests is how many requests probePage sends to the target
// (the bearer one as a CORS preflight when cross-origin).
const probeRequests = 5

var probeOutRE = regexp.MustCompile(`<pre id="out">done ([^<]*)</pre>`)

type countingSalts struct{ calls atomic.Int32 }

func (c *countingSalts) Epochs(context.Context) ([]pseudonymize.EpochInfo, error) {
	c.calls.Add(1)
	return nil, nil
}

// TestBrowserRefusesOtherOrigins is issue 12's acceptance 3 for vakt's
// HTTP listener, in headless Chromium: a page on another origin (another
// port of 127.0.0.1, holding a valid session cookie since cookies ignore
// ports) and a page under a foreign Host name (DNS rebinding: same-origin
// to the browser, with the token) send the dashboard API, /metrics and a
// text/plain POST requests; the listener refuses each (403) before any
// handler runs. The same page served from the listener's own origin gets
// every answer, so the test fails if the checks refuse too much.
func TestBrowserRefusesOtherOrigins(t *testing.T) {
	testenv.Chromium(t)
	cfg := testConfig(t.TempDir())
	cfg.HTTP.Listen = "127.0.0.1:0"
	m := metrics.New()
	salts := &countingSalts{}
	var reached, posts atomic.Int32
	inner := http.NewServeMux()
	web.New(web.Options{CH: owner.CH, Salts: salts}).Register(inner)
	inner.HandleFunc("POST /api/probe", func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.Write([]byte("posted\n"))
	})
	var token string
	inner.HandleFunc("GET /probe/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, probePage, "", token)
	})
	srv, stop := health.Serve(cfg.HTTP, cfg.DataDir, m, nil, quiet, func(mux *http.ServeMux) {
		mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached.Add(1)
			inner.ServeHTTP(w, r)
		}))
	})
	defer stop()
	if token = srv.Token; token == "" {
		t.Fatal("no token with http.auth: token")
	}
	dash := "http://" + srv.Addr

	// The session cookie a browser gets from the token URL.
	c := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(dash + "/?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(res.Cookies()) != 1 {
		t.Fatalf("token URL set cookies %v", res.Cookies())
	}
	session := res.Cookies()[0]

	refused := func(reason string) float64 { return value(m.HTTPRefused.WithLabelValues(reason)) }
	noneReached := func(t *testing.T, what string) {
		t.Helper()
		if n, p, s := reached.Load(), posts.Load(), salts.calls.Load(); n+p+s != 0 {
			t.Fatalf("%s: %d requests reached a handler, %d posts, %d API evaluations; want none", what, n, p, s)
		}
	}

	t.Run("another origin", func(t *testing.T) {
		foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The operator is signed in: the dashboard's cookie is in the
			// browser, for 127.0.0.1, whatever the port.
			http.SetCookie(w, &http.Cookie{Name: session.Name, Value: session.Value, Path: "/"})
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, probePage, dash, token)
		}))
		defer foreign.Close()
		before := refused("origin")
		out := probeResult(t, testenv.RunPage(t, foreign.URL+"/"))
		noneReached(t, "cross-origin page")
		if got := refused("origin") - before; got != probeRequests {
			t.Errorf("%v requests refused for their origin, want %d", got, probeRequests)
		}
		for _, want := range []string{"status-token=blocked", "status-bearer=blocked", "metrics=blocked", "post=blocked"} {
			if !strings.Contains(out, want) {
				t.Errorf("the foreign page saw %q, want %s", out, want)
			}
		}
	})

	t.Run("foreign Host (DNS rebinding)", func(t *testing.T) {
		// rebind.test resolves to 127.0.0.1 and the page's requests go to
		// the dashboard under its own name: what a rebound DNS name does.
		page := testenv.Rebound(t, dash, func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: session.Name, Value: session.Value, Path: "/"})
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, probePage, "", token)
		})
		before := refused("host")
		out := probeResult(t, testenv.RunPage(t, page, testenv.ReboundFlag))
		noneReached(t, "rebound page")
		if got := refused("host") - before; got != probeRequests {
			t.Errorf("%v requests refused for their Host, want %d", got, probeRequests)
		}
		for _, want := range []string{"status-token=403", "status-bearer=403", "metrics=403", "post=403"} {
			if !strings.Contains(out, want) {
				t.Errorf("the rebound page saw %q, want %s", out, want)
			}
		}
	})

	t.Run("own origin", func(t *testing.T) {
		before := refused("origin") + refused("host") + refused("auth")
		out := probeResult(t, testenv.RunPage(t, dash+"/probe/page?token="+token))
		for _, want := range []string{"status-token=200", "status-bearer=200", "metrics=200", "post=200"} {
			if !strings.Contains(out, want) {
				t.Errorf("the dashboard's own page saw %q, want %s", out, want)
			}
		}
		if posts.Load() != 1 {
			t.Errorf("%d posts reached the handler, want 1", posts.Load())
		}
		// Two spellings of one query (junk parameters): one evaluation.
		if salts.calls.Load() != 1 {
			t.Errorf("%d API evaluations, want 1", salts.calls.Load())
		}
		if got := refused("origin") + refused("host") + refused("auth") - before; got != 0 {
			t.Errorf("%v of the page's own requests refused", got)
		}
	})
}

// probeResult is what probePage wrote, failing the test if it did not finish.
func probeResult(t *testing.T, b testenv.Browser) string {
	t.Helper()
	m := probeOutRE.FindStringSubmatch(b.Stdout)
	if m == nil {
		t.Fatalf("the probe page did not finish:\n%.2000s\nconsole: %v", b.Stdout, b.Console)
	}
	t.Logf("page saw: %s", m[1])
	return m[1]
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.GetGauge().GetValue()
}
