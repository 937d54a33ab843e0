package enforce

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestEndpointDecides: decisions in the bucket deny their client or
// network at once and nothing else; the allow list, site restriction, 429
// as 403 for nginx, a wrong key (401: the snippets fail open) and a
// foreign Host; bans expire on their own; hits reach the bucket.
func TestEndpointDecides(t *testing.T) {
	env := startEnv(t)
	ep := startEndpoint(t, env, Config{Allow: []string{"198.51.100.0/24"}})
	keys := env.keys(t)
	ds := ep.Decisions()

	allowed := func(addr, site string) bool { s, _ := ep.ask(t, addr, site); return s == http.StatusNoContent }
	testenv.WaitFor(t, 10*time.Second, "endpoint loaded", func() bool { return allowed("192.0.2.7", "shop") })

	ban(t, ds, keys, ScopeClient, "192.0.2.7", time.Hour, 403)
	ban(t, ds, keys, ScopeNetwork, "203.0.113.9", time.Hour, 403)
	ban(t, ds, keys, ScopeClient, "198.51.100.5", time.Hour, 403) // on the allow list
	flood := ban(t, ds, keys, ScopeClient, "2001:db8::77", time.Hour, 429)
	testenv.WaitFor(t, 10*time.Second, "client ban enforced", func() bool { return !allowed("192.0.2.7", "shop") })
	testenv.WaitFor(t, 10*time.Second, "flood ban enforced", func() bool { return !allowed("2001:db8::77", "shop") })

	for _, c := range []struct {
		addr      string
		status    int
		xstatus   string
		hdr       []string
		what      string
		site      string
		forwarded string
	}{
		{addr: "192.0.2.7", status: 403, xstatus: "403", what: "banned client"},
		{addr: "192.0.2.8", status: 204, what: "its neighbour (client ban only)"},
		{addr: "203.0.113.200", status: 403, xstatus: "403", what: "another address of the banned network"},
		{addr: "203.0.114.9", status: 204, what: "the next network"},
		{addr: "198.51.100.5", status: 204, what: "banned, but on enforce.allow"},
		{addr: "2001:db8::77", status: 429, xstatus: "429", what: "flood ban"},
		{addr: "2001:db8::77", status: 403, xstatus: "429", hdr: []string{HeaderDenyStatus, "403"}, what: "flood ban, asked as nginx does"},
		{addr: "::ffff:192.0.2.7", status: 403, xstatus: "403", what: "IPv4-mapped form of the banned client"},
		{addr: "192.0.2.7, 10.1.2.3", status: 403, xstatus: "403", what: "banned client behind a trusted proxy"},
		{addr: "192.0.2.7, 192.0.2.99", status: 204, what: "a forged X-Forwarded-For entry from an untrusted peer"},
		{addr: "not-an-address", status: 204, what: "no address (undecided: allowed)"},
	} {
		s, xs := ep.ask(t, c.addr, "shop", c.hdr...)
		if s != c.status || xs != c.xstatus {
			t.Errorf("%s: %d (X-Vakt-Status %q), want %d (%q)", c.what, s, xs, c.status, c.xstatus)
		}
	}

	// A site-restricted decision applies to its site only.
	siteOnly := ban(t, ds, keys, ScopeClient, "192.0.2.50", time.Hour, 403)
	siteOnly.Site = "blog"
	ds.Delete(context.Background(), siteOnly.Key())
	if _, err := ds.Put(context.Background(), siteOnly); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "site ban enforced", func() bool { return !allowed("192.0.2.50", "blog") })
	if !allowed("192.0.2.50", "shop") {
		t.Error("a decision for site blog denied a request for site shop")
	}

	// Wrong key: 401, which the snippets treat as an error and allow.
	if s, _ := ep.ask(t, "192.0.2.7", "shop", HeaderKey, "wrong"); s != http.StatusUnauthorized {
		t.Errorf("wrong key: %d, want 401", s)
	}
	// The key in the query, as Traefik's snippet sends it.
	qreq, _ := http.NewRequest(http.MethodGet, ep.url+"/decide?key="+ep.key, nil)
	qreq.Header.Set("X-Forwarded-For", "192.0.2.7")
	if resp, err := http.DefaultClient.Do(qreq); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("key in the query, banned client: %v %v, want 403", resp, err)
	}
	req, _ := http.NewRequest(http.MethodGet, ep.url+"/decide", nil)
	req.Host = "attacker.example"
	req.Header.Set(HeaderKey, ep.key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %v %v, want 403", resp, err)
	}

	// Expiry: a 2 s ban ends by itself.
	ban(t, ds, keys, ScopeClient, "192.0.2.60", 2*time.Second, 403)
	testenv.WaitFor(t, 10*time.Second, "short ban enforced", func() bool { return !allowed("192.0.2.60", "shop") })
	testenv.WaitFor(t, 20*time.Second, "short ban expired", func() bool { return allowed("192.0.2.60", "shop") })

	// Hits reach the bucket for `vakt decisions list`.
	testenv.WaitFor(t, 20*time.Second, "hits flushed", func() bool {
		list, err := ds.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			if d.Key == flood.Key() {
				return d.Hits >= 2
			}
		}
		return false
	})
	m := metricsText(t, ep.reg)
	for _, want := range []string{`vakt_enforce_denied_total`, `"test-rule"`, `vakt_enforce_answer_seconds`, `vakt_enforce_decisions_active`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestBanCarriedAcrossEpochChange: a ban made under one epoch still denies
// after the salts rotate (the endpoint recognises the address under the
// previous, living salt) and is carried to the address's new id.
func TestBanCarriedAcrossEpochChange(t *testing.T) {
	env := startEnv(t)
	ep := startEndpoint(t, env, Config{})
	old := env.keys(t)
	ds := ep.Decisions()
	ban(t, ds, old, ScopeClient, "192.0.2.7", time.Hour, 403)
	denied := func() bool { s, _ := ep.ask(t, "192.0.2.7", "shop"); return s == http.StatusForbidden }
	testenv.WaitFor(t, 10*time.Second, "ban enforced", denied)

	ctx := context.Background()
	if _, err := env.salts.Rotate(ctx, false); err != nil {
		t.Fatal(err)
	}
	cur := env.keys(t) // the pseudonymiser's salt of the new epoch
	if cur.Epoch() == old.Epoch() {
		t.Fatal("rotation did not change the epoch")
	}
	testenv.WaitFor(t, 10*time.Second, "endpoint on the new epoch", func() bool { return ep.ring.keys(cur.Epoch()) != nil })
	if !denied() {
		t.Fatal("the ban of the previous epoch no longer denies after the epoch change")
	}
	var carried *Listed
	testenv.WaitFor(t, 10*time.Second, "ban carried to the new id", func() bool {
		list, err := ds.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			if d.Epoch == cur.Epoch() && d.Origin == OriginCarried {
				carried = &d
				return true
			}
		}
		return false
	})
	want := ban(t, ds, cur, ScopeClient, "192.0.2.7", time.Minute, 403) // kept: the carried one lasts longer
	if carried.ID != want.ID || carried.CarriedFrom != old.Epoch() {
		t.Errorf("carried decision %+v: want id %s carried from %d", carried.Decision, want.ID, old.Epoch())
	}
	if s, _ := ep.ask(t, "192.0.2.8", "shop"); s != http.StatusNoContent {
		t.Errorf("a neighbour is denied after the carry: %d", s)
	}
}

// TestEndpointOnUnixSocket: the socket is owner and group only, and
// answers.
func TestEndpointOnUnixSocket(t *testing.T) {
	env := startEnv(t)
	path := filepath.Join(t.TempDir(), "enforce.sock")
	ep := startEndpoint(t, env, Config{Listen: "unix:" + path})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		t.Errorf("socket mode %v: others may connect", perm)
	}
	c := unixClient(path)
	testenv.WaitFor(t, 10*time.Second, "answer over the socket", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://localhost/decide", nil)
		req.Header.Set("X-Forwarded-For", "192.0.2.1")
		req.Header.Set(HeaderKey, ep.key)
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})
}

// TestNoAddressInDecisionsBucket: after decisions by address (client and
// network), answers, hits and a carry, no file of the NATS store (kept in
// the clear here) holds any address asked about, in text or binary form,
// and neither do the endpoint's metrics.
func TestNoAddressInDecisionsBucket(t *testing.T) {
	env := startEnv(t)
	ep := startEndpoint(t, env, Config{})
	keys := env.keys(t)
	ds := ep.Decisions()
	addrs := []string{"192.0.2.7", "203.0.113.9", "2001:db8::77", "198.51.100.23"}
	ban(t, ds, keys, ScopeClient, addrs[0], time.Hour, 403)
	ban(t, ds, keys, ScopeNetwork, addrs[1], time.Hour, 403)
	ban(t, ds, keys, ScopeClient, addrs[2], time.Hour, 429)
	if _, err := Add(context.Background(), env.js, env.pcfg, ds, AddRequest{IP: addrs[3], Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		testenv.WaitFor(t, 10*time.Second, "ban enforced", func() bool { s, _ := ep.ask(t, a, "shop"); return s != http.StatusNoContent })
	}
	if _, err := env.salts.Rotate(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	env.keys(t)
	testenv.WaitFor(t, 20*time.Second, "carried and hits flushed", func() bool {
		for _, a := range addrs {
			ep.ask(t, a, "shop")
		}
		list, err := ds.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		carried, hits := 0, uint64(0)
		for _, d := range list {
			if d.Origin == OriginCarried {
				carried++
			}
			hits += d.Hits
		}
		return carried == len(addrs) && hits > 0
	})
	var needles [][]byte
	for _, s := range addrs {
		a := netip.MustParseAddr(s)
		needles = append(needles, []byte(a.String()), []byte(a.StringExpanded()))
		if a.Is6() {
			b := a.As16()
			needles = append(needles, b[:])
		}
	}
	files := 0
	err := filepath.WalkDir(env.storeDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds an address asked about (%q)", p, n)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("scan %s: %v (%d files)", env.storeDir, err, files)
	}
	m := metricsText(t, ep.reg)
	for _, n := range needles {
		if bytes.Contains([]byte(m), n) {
			t.Errorf("metrics hold an address")
		}
	}
}
