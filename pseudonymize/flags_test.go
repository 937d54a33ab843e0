package pseudonymize

import (
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/vakt-dev/vakt/internal/event"
)

func TestFlags(t *testing.T) {
	const (
		sqli  = event.FlagSQLInjection
		xss   = event.FlagXSS
		trav  = event.FlagPathTraversal
		enc   = event.FlagEncodedPayload
		sens  = event.FlagSensitiveFile
		badUA = event.FlagBadUserAgent
	)
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name   string
		target string
		ua     string
		want   event.Flags
	}{
		// Clean traffic must stay clean: false positives bury real probes.
		{name: "root", target: "/"},
		{name: "asset", target: "/assets/app.3f2a.js?v=12"},
		{name: "search words", target: "/search?q=cats+and+dogs"},
		{name: "search select from", target: "/search?q=how+to+select+rows+from+a+table"},
		{name: "apostrophe", target: "/search?q=rock%27n%27roll"},
		{name: "irish name", target: "/people?name=O'Brien"},
		{name: "slug with sql words", target: "/blog/union-station-select-menu"},
		{name: "callback named onload", target: "/api.js?onload=initMap&render=explicit"},
		{name: "well-known", target: "/.well-known/acme-challenge/abc"},
		{name: "env in file name", target: "/static/app.env.js"},
		{name: "github path", target: "/.github/workflows"},
		{name: "encoded redirect", target: "/login?next=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1"},
		{name: "base64 token", target: "/cb?state=" + b64([]byte("hello world, plain state"))},
		{name: "binary base64", target: "/cb?sig=3q2+7wAAAAD/////AAECAw=="},
		{name: "sort with semicolon", target: "/list?sort=name;desc"},
		{name: "browser ua", target: "/", ua: "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"},
		{name: "curl ua", target: "/", ua: "curl/8.5.0"},

		{name: "quote or 1=1", target: "/item?id=1' OR 1=1--", want: sqli},
		{name: "encoded quote or", target: "/item?id=1%27%20OR%201%3D1--", want: sqli},
		{name: "numeric or", target: "/item?id=1+or+1=1", want: sqli},
		{name: "union select", target: "/item?id=1+UNION+SELECT+user,pass+FROM+users", want: sqli},
		{name: "comment-split union", target: "/item?id=1/**/UNION/**/SELECT/**/1", want: sqli},
		{name: "sleep", target: "/item?id=1+AND+SLEEP(5)", want: sqli},
		{name: "stacked drop", target: "/item?id=1;DROP TABLE users", want: sqli},
		{name: "quote comment", target: "/login?user=admin'--", want: sqli},
		{name: "double-encoded sqli", target: "/item?id=1%2527%2520OR%25201%253D1", want: sqli | enc},

		{name: "script tag", target: "/search?q=<script>alert(1)</script>", want: xss},
		{name: "encoded script", target: "/search?q=%3CScRiPt%3Ealert(1)%3C/script%3E", want: xss},
		{name: "javascript url", target: "/go?u=javascript:alert(document.cookie)", want: xss},
		{name: "event handler", target: `/q?x="><img src=x onerror=alert(1)>`, want: xss},
		{name: "double-encoded xss", target: "/q?x=%253Csvg%2520onload%253Dalert(1)%253E", want: xss | enc},
		{name: "base64 xss", target: "/q?data=" + url.QueryEscape(b64([]byte("<script>alert(1)</script>"))), want: xss | enc},

		{name: "dot dot slash", target: "/static/../../app/config.yml", want: trav},
		{name: "encoded slash", target: "/download?file=..%2F..%2Fnotes.txt", want: trav},
		{name: "encoded dots", target: "/%2e%2e/%2e%2e/notes.txt", want: trav | enc},
		{name: "double-encoded dots", target: "/%252e%252e/notes.txt", want: trav | enc},
		{name: "overlong utf-8 dots", target: "/%c0%ae%c0%ae/notes.txt", want: trav | enc},
		{name: "backslash traversal", target: `/static/..\..\win.ini`, want: trav | sens},
		{name: "traversal to passwd", target: "/../../etc/passwd", want: trav | sens},
		{name: "trailing dot dot", target: "/a/b/..", want: trav},

		{name: "dotenv", target: "/.env", want: sens},
		{name: "dotenv variant", target: "/api/.env.production", want: sens},
		{name: "git config", target: "/.git/config", want: sens},
		{name: "wp-config backup", target: "/wp-config.php.bak", want: sens},
		{name: "sql dump", target: "/backup.sql", want: sens},
		{name: "aws credentials", target: "/.aws/credentials", want: sens},
		{name: "server status", target: "/server-status", want: sens},
		{name: "phpinfo", target: "/phpinfo.php", want: sens},
		{name: "ds_store", target: "/.DS_Store", want: sens},
		{name: "private key", target: "/home/.ssh/id_rsa", want: sens},
		{name: "file param", target: "/view?file=.env", want: sens},

		{name: "null byte", target: "/view?file=a.txt%00.png", want: enc},
		{name: "iis unicode", target: "/view?x=%u0041", want: enc},
		{name: "hex escapes", target: `/view?x=\x3cscript\x3e`, want: xss | enc},

		{name: "sqlmap", target: "/", ua: "sqlmap/1.7.2#stable (https://sqlmap.org)", want: badUA},
		{name: "zgrab", target: "/", ua: "Mozilla/5.0 zgrab/0.x", want: badUA},
		{name: "shellshock", target: "/cgi-bin/test", ua: "() { :; }; /bin/bash -c 'id'", want: badUA},
		{name: "combined", target: "/.env?x=' or 1=1--", ua: "Nikto/2.1.6", want: sens | sqli | badUA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Signature bits have their own test (TestSignatures).
			if got := Flags(tt.target, tt.ua) &^ (event.FlagExploit | event.FlagProbe | event.FlagAllowed); got != tt.want {
				t.Errorf("Flags(%q, %q) = %06b, want %06b", tt.target, tt.ua, got, tt.want)
			}
		})
	}
}

func TestDecodeOnce(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain", "/plain"},
		{"a+b", "a b"},
		{"%41%42", "AB"},
		{"%2", "%2"},
		{"%zz", "%zz"},
		{"%252e", "%2e"},
		{"%u002e", "."},
		{"%c0%ae%c0%af", "./"},
		{"%e0%80%ae", "."},
		{`\x2e\u002e`, ".."},
		{"100%", "100%"},
	}
	for _, tt := range tests {
		if got := decodeOnce(tt.in); got != tt.want {
			t.Errorf("decodeOnce(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFlagsBoundedOnHostileInput(t *testing.T) {
	// Twenty nested encodings: only maxDecodeRounds are unwrapped, and the
	// call must stay fast and must not panic.
	s := "../"
	for range 20 {
		s = url.QueryEscape(s)
	}
	_ = Flags("/x?f="+s, "")
	long := make([]byte, 1<<16)
	for i := range long {
		long[i] = "%2e%2e/"[i%7]
	}
	if got := Flags(string(long), ""); got&event.FlagPathTraversal == 0 {
		t.Errorf("long traversal not flagged: %06b", got)
	}
}

func BenchmarkFlags(b *testing.B) {
	targets := []string{
		"/",
		"/assets/app.3f2a.js?v=12",
		"/products/shoes?size=42&color=red&page=2",
		"/item?id=1%27%20OR%201%3D1--",
	}
	for _, target := range targets {
		b.Run(target, func(b *testing.B) {
			for b.Loop() {
				Flags(target, "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
			}
		})
	}
}
