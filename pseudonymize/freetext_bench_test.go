package pseudonymize

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
)

// BenchmarkBuildFreeText is the pseudonymise hot path (build + encode) on
// typical records, and on ones with addresses in their free text.
func BenchmarkBuildFreeText(b *testing.B) {
	cases := []struct{ name, target, ref, ua string }{
		{"firefox", "/products/shoes?size=42&color=red&page=2", "https://www.google.com/search?q=shoes",
			"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
		{"chrome", "/assets/app.3f2a.js?v=12", "https://shop.example/cart",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36"},
		{"no-ua", "/", "", "-"},
		{"addresses", "/lookup/203.0.113.5?host=198.51.100.7", "http://198.51.100.7:8080/x",
			"curl/8 from 203.0.113.99 via [2001:db8::1]"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			keys := mustKeys(b, 1, 1)
			raw := event.Raw{
				Time: time.Now(), Site: "shop.example", ClientIP: netip.MustParseAddr("198.51.100.7"),
				Method: "GET", Target: c.target, Protocol: "HTTP/2.0",
				Status: 200, Bytes: 5120, Referrer: c.ref, Host: "shop.example",
				UserAgent: c.ua, RequestTime: time.Millisecond, UpstreamTime: event.Unknown,
			}
			bl := builder{policy: QueryKeep}
			var e event.Event
			var out []byte
			b.ReportAllocs()
			for b.Loop() {
				if err := bl.build(keys, &raw, "", &e); err != nil {
					b.Fatal(err)
				}
				out = event.AppendEvent(out[:0], &e)
			}
		})
	}
}

// BenchmarkRedactAddrs is what RedactAddrs adds per event: the four free
// text fields of each case of BenchmarkBuildFreeText.
func BenchmarkRedactAddrs(b *testing.B) {
	cases := map[string][4]string{
		"firefox": {"/products/shoes", "size=&color=&page=", "https://www.google.com/search",
			"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
		"chrome": {"/assets/app.3f2a.js", "v=", "https://shop.example/cart",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36"},
		"addresses": {"/lookup/203.0.113.5", "host=198.51.100.7", "http://198.51.100.7:8080/x",
			"curl/8 from 203.0.113.99 via [2001:db8::1]"},
	}
	for name, fields := range cases {
		b.Run(name, func(b *testing.B) {
			keys := mustKeys(b, 1, 1)
			b.ReportAllocs()
			for b.Loop() {
				for _, f := range fields {
					_ = keys.RedactAddrs(f)
				}
			}
		})
	}
}
