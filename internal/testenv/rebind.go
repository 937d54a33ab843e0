package testenv

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
)

// ReboundName is the host name a rebinding page is served under; RunPage
// with ReboundFlag resolves it to 127.0.0.1.
const (
	ReboundName = "rebind.test"
	ReboundFlag = "--host-resolver-rules=MAP " + ReboundName + " 127.0.0.1"
)

// Rebound serves what a DNS-rebinding attacker gets: page at /page, and
// every other path forwarded to target under the page's own Host, as if
// rebind.test now resolved to target's address. It returns the page's URL.
func Rebound(tb testing.TB, target string, page http.HandlerFunc) string {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/page" {
			proxy.ServeHTTP(w, r)
			return
		}
		page(w, r)
	}))
	tb.Cleanup(srv.Close)
	return "http://" + ReboundName + ":" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port) + "/page"
}
