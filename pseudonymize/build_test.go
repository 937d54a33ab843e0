package pseudonymize

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/analyze/rules/signatures"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
)

func TestScrubQuery(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		policy QueryPolicy
		want   string
	}{
		{"redact values", "a=1&b=x", QueryRedact, "a=&b="},
		{"redact keeps order and repeats", "b=2&a=1&b=3", QueryRedact, "b=&a=&b="},
		{"redact empty", "", QueryRedact, ""},
		{"redact bare key", "amp", QueryRedact, "amp"},
		{"redact injection", "email=a@b.se&token=XYZ&id=1' OR 1=1--", QueryRedact, "email=&token=&id="},
		{"redact value in key place", "jane@example.com", QueryRedact, "~"},
		{"redact encoded key", "a%20b=1", QueryRedact, "~="},
		{"redact bracket keys", "filter[name]=x&f%5Bq%5D=y", QueryRedact, "filter[name]=&f%5Bq%5D="},
		{"redact long key", "k" + string(make([]byte, 70)) + "=1", QueryRedact, "~="},
		{"redact empty parts", "&&a=1&", QueryRedact, "&&a=&"},
		{"redact drops fragment", "a=1#frag", QueryRedact, "a="},
		{"redact value with equals", "next=/a?b=c", QueryRedact, "next="},
		{"keep", "a=1&b=x", QueryKeep, "a=1&b=x"},
		{"drop", "a=1&b=x", QueryDrop, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ScrubQuery(tt.query, tt.policy); got != tt.want {
				t.Errorf("ScrubQuery(%q, %s) = %q, want %q", tt.query, tt.policy, got, tt.want)
			}
		})
	}
}

func TestScrubReferrer(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://www.google.com/search?q=secret+illness#top", "https://www.google.com/search"},
		{"https://user:pw@example.com:8443/a/b?c=d", "https://example.com:8443/a/b"},
		{"http://example.com", "http://example.com"},
		{"HTTPS://Example.com/Path", "https://Example.com/Path"},
		{"https://example.com?x=1", "https://example.com"},
		{"https://example.com#frag", "https://example.com"},
		{"android-app://com.google.android.gm/", "android-app://com.google.android.gm/"},
		{"-", ""},
		{"", ""},
		{"/relative/path?x=1", ""},
		{"example.com/path", ""},
		{"ht tp://x/y", ""},
		{"1http://x/y", ""},
		{"https://", ""},
		{"https://@/", ""},
		{"https://a%zz.example/%zz", "https://a%zz.example/%zz"},
	}
	for _, tt := range tests {
		if got := ScrubReferrer(tt.in); got != tt.want {
			t.Errorf("ScrubReferrer(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type fakeEnricher struct{ seen []netip.Addr }

func (f *fakeEnricher) Enrich(ip netip.Addr, e *event.Event) {
	f.seen = append(f.seen, ip)
	e.Country, e.ASN, e.ASOrg = "SE", 64500, "Example AS"
}

func TestBuild(t *testing.T) {
	keys := mustKeys(t, 12, 3)
	ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	raw := event.Raw{
		Time: ts, Site: "shop.example", ClientIP: netip.MustParseAddr("::ffff:198.51.100.7"),
		ForwardedFor: "203.0.113.9", User: "jane",
		Method: "GET", Target: "/login?email=a@b.se&token=XYZ&id=1' OR 1=1--", Protocol: "HTTP/1.1",
		Status: 200, Bytes: 512, Referrer: "https://mail.example/inbox?msg=42", UserAgent: "Mozilla/5.0",
		Host: "shop.example", RequestTime: 1500 * time.Microsecond, UpstreamTime: event.Unknown,
	}
	enr := &fakeEnricher{}
	b := builder{policy: QueryRedact, enricher: enr}
	var got event.Event
	if err := b.build(keys, &raw, "", &got); err != nil {
		t.Fatal(err)
	}
	v4 := netip.MustParseAddr("198.51.100.7")
	want := event.Event{
		Time: ts, Site: "shop.example", ClientID: keys.ClientID(v4), NetworkID: keys.NetworkID(v4),
		IPVersion: 4, Epoch: 12, Country: "SE", ASN: 64500, ASOrg: "Example AS",
		Method: "GET", Path: "/login", Query: "email=&token=&id=", Protocol: "HTTP/1.1",
		Status: 200, Bytes: 512, Referrer: "https://mail.example/inbox", UserAgent: "Mozilla/5.0",
		Host: "shop.example", RequestTime: 1500 * time.Microsecond, UpstreamTime: event.Unknown,
		Flags: event.FlagSQLInjection,
	}
	if got != want {
		t.Errorf("build:\n got %+v\nwant %+v", got, want)
	}
	if len(enr.seen) != 1 || enr.seen[0] != v4 {
		t.Errorf("enricher saw %v, want the unmapped address", enr.seen)
	}

	raw.ClientIP = netip.MustParseAddr("2001:db8::1")
	if err := (&builder{policy: QueryKeep}).build(keys, &raw, "", &got); err != nil {
		t.Fatal(err)
	}
	if got.IPVersion != 6 || got.Query != "email=a@b.se&token=XYZ&id=1' OR 1=1--" || got.Country != "" {
		t.Errorf("ipv6/keep: got version %d, query %q, country %q", got.IPVersion, got.Query, got.Country)
	}

	raw.ClientIP = netip.Addr{}
	if err := b.build(keys, &raw, "", &got); !errors.Is(err, errInvalidIP) {
		t.Errorf("build without ip: err = %v, want errInvalidIP", err)
	}
}

func BenchmarkBuild(b *testing.B) {
	keys := mustKeys(b, 1, 1)
	raw := event.Raw{
		Time: time.Now(), Site: "shop.example", ClientIP: netip.MustParseAddr("198.51.100.7"),
		Method: "GET", Target: "/products/shoes?size=42&color=red&page=2", Protocol: "HTTP/2.0",
		Status: 200, Bytes: 5120, Referrer: "https://www.google.com/search?q=shoes", Host: "shop.example",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", RequestTime: time.Millisecond,
		UpstreamTime: event.Unknown,
	}
	bl := builder{policy: QueryRedact, siteNames: &siteNames{}} // as newBuilder makes it
	var e event.Event
	var out []byte
	cpu := threadCPU()
	for b.Loop() {
		if err := bl.build(keys, &raw, "", &e); err != nil {
			b.Fatal(err)
		}
		out = event.AppendEvent(out[:0], &e)
	}
	b.ReportMetric(float64(threadCPU()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkBuildSignatures is BenchmarkBuild with no signatures and with
// the built-in ones, in one process: the difference is what signature
// matching costs a benign request, measured side by side so that a loaded
// machine slows both alike.
func BenchmarkBuildSignatures(b *testing.B) {
	keys := mustKeys(b, 1, 1)
	raw := event.Raw{
		Time: time.Now(), Site: "shop.example", ClientIP: netip.MustParseAddr("198.51.100.7"),
		Method: "GET", Target: "/products/shoes?size=42&color=red&page=2", Protocol: "HTTP/2.0",
		Status: 200, Bytes: 5120, Referrer: "https://www.google.com/search?q=red%20shoes", Host: "shop.example",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", RequestTime: time.Millisecond,
		UpstreamTime: event.Unknown,
	}
	empty, err := NewMatcher(&signatures.Set{})
	if err != nil {
		b.Fatal(err)
	}
	for round := range 3 {
		for _, bc := range []struct {
			name string
			m    *Matcher
		}{{"none", empty}, {"builtin", BuiltinMatcher()}} {
			b.Run(fmt.Sprintf("signatures=%s/round=%d", bc.name, round), func(b *testing.B) {
				bl := builder{policy: QueryRedact, signatures: bc.m}
				var e event.Event
				cpu := threadCPU()
				for b.Loop() {
					if err := bl.build(keys, &raw, "", &e); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(threadCPU()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

func TestSitePolicyAndReferrers(t *testing.T) {
	keys := mustKeys(t, 12, 3)
	b, err := newBuilder(Config{
		QueryPolicy: QueryRedact,
		Sites: map[string]SitePolicy{
			"shop.example": {QueryPolicy: QueryKeep, Hosts: []string{"checkout.example"}},
			"blog.example": {QueryPolicy: QueryDrop},
			"docs.example": {Hosts: []string{"WWW.Docs-Mirror.example"}},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, site, subjectSite, host, target, ref string
		wantSite, wantQuery, wantRef               string
	}{
		{name: "site keeps its query", site: "shop.example", target: "/s?q=shoes&page=2",
			ref: "https://www.google.com/search?q=secret", wantQuery: "q=shoes&page=2", wantRef: "https://www.google.com/search"},
		{name: "site drops its query", site: "blog.example", target: "/p?utm_source=x",
			ref: "https://blog.example/index?utm_source=y", wantQuery: "", wantRef: "https://blog.example/index"},
		{name: "default policy redacts", site: "other.example", target: "/x?email=a@b.se",
			ref: "https://other.example/login?email=a@b.se#f", wantQuery: "email=", wantRef: "https://other.example/login?email="},
		{name: "internal by site label, www and port ignored", site: "shop.example", target: "/",
			ref: "https://WWW.Shop.Example.:443/cart?id=7&token=t", wantRef: "https://WWW.Shop.Example.:443/cart?id=7&token=t"},
		{name: "internal by configured host", site: "shop.example", target: "/",
			ref: "https://checkout.example/pay?order=9", wantRef: "https://checkout.example/pay?order=9"},
		{name: "internal by Host header", site: "default", host: "news.example:8080", target: "/",
			ref: "http://news.example/a?id=1", wantRef: "http://news.example/a?id="},
		{name: "configured host with www", site: "docs.example", target: "/",
			ref: "https://docs-mirror.example/p?lang=sv", wantRef: "https://docs-mirror.example/p?lang="},
		{name: "suffix is not the site", site: "shop.example", target: "/",
			ref: "https://evilshop.example/x?q=1", wantRef: "https://evilshop.example/x"},
		{name: "subdomain is another site", site: "shop.example", target: "/",
			ref: "https://mail.shop.example/inbox?id=3", wantRef: "https://mail.shop.example/inbox"},
		{name: "user info is not the host", site: "shop.example", target: "/",
			ref: "https://shop.example@evil.example/x?q=1", wantRef: "https://evil.example/x"},
		{name: "record without site takes the subject's", site: "", subjectSite: "shop.example", target: "/s?q=1",
			wantSite: "shop.example", wantQuery: "q=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := event.Raw{Site: tt.site, Host: tt.host, ClientIP: netip.MustParseAddr("198.51.100.7"), Method: "GET",
				Target: tt.target, Referrer: tt.ref, UpstreamTime: event.Unknown, RequestTime: event.Unknown}
			var e event.Event
			if err := b.build(keys, &r, tt.subjectSite, &e); err != nil {
				t.Fatal(err)
			}
			wantSite := tt.site
			if tt.wantSite != "" {
				wantSite = tt.wantSite
			}
			if e.Site != wantSite || e.Query != tt.wantQuery || e.Referrer != tt.wantRef {
				t.Errorf("site %q query %q referrer %q; want %q %q %q", e.Site, e.Query, e.Referrer, wantSite, tt.wantQuery, tt.wantRef)
			}
		})
	}
}

func TestBuildNeverLabelsBySiteAddress(t *testing.T) {
	keys := mustKeys(t, 1, 1)
	b := builder{policy: QueryRedact}
	var e event.Event
	for _, site := range []string{"198.51.100.7", "[2001:db8::1]:443"} {
		r := event.Raw{ClientIP: netip.MustParseAddr("198.51.100.7"), Site: site, Target: "/", RequestTime: event.Unknown, UpstreamTime: event.Unknown}
		if err := b.build(keys, &r, "shop.example", &e); err != nil {
			t.Fatal(err)
		}
		if e.Site != "shop.example" {
			t.Errorf("record site %q stored as %q, want the subject's site", site, e.Site)
		}
	}
}

func TestBuildUsesForwardedClient(t *testing.T) {
	keys := mustKeys(t, 12, 3)
	b, err := newBuilder(Config{TrustedProxies: []string{"10.0.0.0/8"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddr("203.0.113.9")
	for _, tt := range []struct {
		remote, xff string
		want        netip.Addr
	}{
		{"10.0.0.5", "6.6.6.6, 203.0.113.9", client},
		{"198.51.100.1", "203.0.113.9", netip.MustParseAddr("198.51.100.1")},
	} {
		r := event.Raw{ClientIP: netip.MustParseAddr(tt.remote), ForwardedFor: tt.xff, Target: "/"}
		var e event.Event
		if err := b.build(keys, &r, "s", &e); err != nil {
			t.Fatal(err)
		}
		if e.ClientID != keys.ClientID(tt.want) || e.NetworkID != keys.NetworkID(tt.want) {
			t.Errorf("remote %s xff %q: ids are not those of %s", tt.remote, tt.xff, tt.want)
		}
	}
}

// TestSiteNamesRemembersNoAddress: the memo answers as bus.AddressLike
// does, in any order of sites, and never holds a site that is an address.
func TestSiteNamesRemembersNoAddress(t *testing.T) {
	sites := []string{"shop.example", "shop.example", "203.0.113.5", "shop.example", "[2001:db8::1]:443",
		"", "203_0_113_5", "blog.example", "blog.example", "198.51.100.7:8080", "blog.example"}
	var n siteNames
	for _, s := range sites {
		want := s != "" && !bus.AddressLike(s)
		if got := n.usable(s); got != want {
			t.Errorf("usable(%q) = %v, want %v", s, got, want)
		}
		if p := n.last.Load(); p != nil && bus.AddressLike(*p) {
			t.Fatalf("after %q the memo holds the address %q", s, *p)
		}
	}
	if p := n.last.Load(); p == nil || *p != "blog.example" {
		t.Errorf("memo %v, want the last usable site", p)
	}
	var none *siteNames // a builder made without newBuilder
	if !none.usable("shop.example") || none.usable("203.0.113.5") {
		t.Error("a nil memo answers differently")
	}
}
