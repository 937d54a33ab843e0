package logformat

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/testenv"
)

const (
	nginxCustom = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time $host`
	nginxJSON   = `{"time_iso8601":"$time_iso8601","msec":"$msec","remote_addr":"$remote_addr","remote_user":"$remote_user",` +
		`"request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"http_referer":"$http_referer",` +
		`"http_user_agent":"$http_user_agent","request_time":$request_time,"upstream_response_time":"$upstream_response_time",` +
		`"host":"$host","http_x_forwarded_for":"$http_x_forwarded_for"}`
	// nginxJSONKeys is a JSON template with keys of its own: parsed by
	// compiling the template.
	nginxJSONKeys = `{"@t":"$time_local","ip":"$remote_addr","req":"$request","s":"$status","b":"$body_bytes_sent",` +
		`"rt":"$request_time","ut":"$upstream_response_time","vhost":"$host","ua":"$http_user_agent"}`
)

// sentRequest is one request the test sends and what the log must say.
type sentRequest struct {
	raw                      string // bytes on the wire
	method, target, protocol string // as nginx logs them (combined escaping applied by escapeNginx)
	user, referrer, ua, xff  string
	host                     string
	upstream                 bool // proxied: upstream time is measured
	badURI                   bool // refused before the headers were read
	status                   int  // filled in from the response
	bytes                    int  // body bytes, from the response
}

// TestRealNginx starts Debian's nginx on loopback with combined, main, JSON
// (escape=json) and custom log_formats, one of them with
// $request_time $upstream_response_time and a location proxied to a second
// loopback server; sends it odd requests (query strings, quotes, a UTF-8
// path, a long user agent, a TLS handshake on the plain port, HTTP/1.0
// without Host); and checks that every line written parses, in the
// configured format and by auto-detection, with the fields that were sent.
func TestRealNginx(t *testing.T) {
	front, back := testenv.FreePort(t), testenv.FreePort(t)
	for back == front {
		back = testenv.FreePort(t)
	}
	conf := fmt.Sprintf(`
  log_format custom '%s';
  log_format jsonl escape=json '%s';
  log_format jsonkeys escape=json '%s';
  log_format main '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"';
  server {
    listen 127.0.0.1:%d;
    location / { return 200 "upstream says hi\n"; }
  }
  server {
    listen 127.0.0.1:%d;
    server_name vakt.test;
    root DIR/www;
    access_log DIR/combined.log combined;
    access_log DIR/main.log main;
    access_log DIR/json.log jsonl;
    access_log DIR/jsonkeys.log jsonkeys;
    access_log DIR/custom.log custom;
    location /api/ { proxy_pass http://127.0.0.1:%d; }
    location / { try_files $uri $uri/ =404; }
  }`, nginxCustom, nginxJSON, nginxJSONKeys, back, front, back)
	ngx := testenv.StartNginx(t, conf, front, back)
	if err := os.WriteFile(filepath.Join(ngx.Dir, "www", "index.html"), []byte("<h1>hello</h1>\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	longUA := "Mozilla/5.0 (X11; Linux x86_64)" + strings.Repeat(" LongAgent/1.0", 300)
	reqs := []*sentRequest{
		{method: "GET", target: "/index.html?q=a%20b&lang=sv", protocol: "HTTP/1.1", host: "vakt.test", ua: "curl/8.5.0"},
		{method: "GET", target: `/search?q="quoted"&x=1`, protocol: "HTTP/1.1", host: "shop.example",
			referrer: `https://ref.example/?q="x"`, ua: `Agent "with" quotes \ backslash`},
		{method: "GET", target: "/café/menü?ä=ö", protocol: "HTTP/1.1", host: "vakt.test", ua: "UTF-8 Agent ✓"},
		{method: "GET", target: "/index.html", protocol: "HTTP/1.1", host: "vakt.test", ua: longUA},
		{method: "POST", target: "/api/orders?id=42", protocol: "HTTP/1.1", host: "api.example", ua: "client/2",
			xff: "198.51.100.7, 10.0.0.1", upstream: true},
		{method: "HEAD", target: "/", protocol: "HTTP/1.1", host: "vakt.test", user: "alice", ua: "monitor"},
		// nginx refuses a path above the root with 400 before reading the
		// headers: they are not logged.
		{method: "GET", target: "/missing/../../etc/passwd", protocol: "HTTP/1.1", host: "vakt.test", ua: "scanner", badURI: true},
		{method: "GET", target: "/api/v1?x=1", protocol: "HTTP/1.0", ua: "old", upstream: true},
	}
	for i, r := range reqs {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s\r\n", r.method, r.target, r.protocol)
		if r.host != "" {
			fmt.Fprintf(&b, "Host: %s\r\n", r.host)
		}
		fmt.Fprintf(&b, "User-Agent: %s\r\n", r.ua)
		if r.referrer != "" {
			fmt.Fprintf(&b, "Referer: %s\r\n", r.referrer)
		}
		if r.xff != "" {
			fmt.Fprintf(&b, "X-Forwarded-For: %s\r\n", r.xff)
		}
		if r.user != "" {
			fmt.Fprintf(&b, "Authorization: Basic YWxpY2U6c2VjcmV0\r\n") // alice:secret
		}
		if r.method == "POST" {
			b.WriteString("Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"b\"}\r\n")
		} else {
			b.WriteString("Connection: close\r\n\r\n")
		}
		r.raw = b.String()
		r.status, r.bytes = send(t, front, r.raw, r.method == "HEAD")
		if r.host == "" || r.badURI {
			r.host = "vakt.test" // $host falls back to server_name
		}
		if r.badURI {
			r.ua, r.referrer, r.xff, r.user = "", "", "", ""
		}
		t.Logf("request %d: %s %d, %d bytes", i, r.method, r.status, r.bytes)
	}
	// A TLS handshake on the plain-HTTP port: nginx answers 400 and logs
	// the bytes as the request.
	tls := &sentRequest{raw: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", status: 400}
	send(t, front, tls.raw, false)
	// nginx logs a request when it frees it, after a lingering close for
	// the 400s: wait for every line before stopping it.
	want := len(reqs) + 1
	deadline := time.Now().Add(10 * time.Second)
	for _, f := range []string{"combined.log", "main.log", "json.log", "jsonkeys.log", "custom.log"} {
		for {
			data, _ := os.ReadFile(filepath.Join(ngx.Dir, f))
			if bytes.Count(data, []byte("\n")) >= want || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ngx.Stop()

	// What a format logs beyond combined's fields.
	type logs struct{ escaped, timed, hosted, xffed, noRefUser bool }
	check := func(t *testing.T, file string, p Parser, f logs) {
		data, err := os.ReadFile(filepath.Join(ngx.Dir, file))
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
		if len(lines) != len(reqs)+1 {
			t.Fatalf("%d lines in %s, want %d:\n%s", len(lines), file, len(reqs)+1, data)
		}
		for i, line := range lines {
			r := event.Raw{Site: "s"}
			if err := p.Parse(line, &r); err != nil {
				t.Fatalf("line %d: %v\n%s", i+1, err, line)
			}
			if r.ClientIP != netip.MustParseAddr("127.0.0.1") || time.Since(r.Time) > time.Minute || r.Time.After(time.Now()) {
				t.Errorf("line %d: client %v time %v", i+1, r.ClientIP, r.Time)
			}
			if i == len(reqs) {
				// The TLS bytes: no method, status 400, the escaped bytes
				// as target.
				if r.Method != "" || r.Status != 400 || !strings.HasPrefix(r.Target, `\x16\x03\x01\x02\x00`) {
					t.Errorf("TLS line: %+v", r)
				}
				continue
			}
			s := reqs[i]
			target, referrer, ua, user := s.target, s.referrer, s.ua, s.user
			if f.escaped {
				target, referrer, ua = escapeNginx(target), escapeNginx(referrer), escapeNginx(ua)
			}
			if f.noRefUser {
				referrer, user = "", ""
			}
			if r.Method != s.method || r.Target != target || r.Protocol != s.protocol || int(r.Status) != s.status ||
				int(r.Bytes) != s.bytes || r.Referrer != referrer || r.UserAgent != ua || r.User != user {
				t.Errorf("line %d:\ngot  %q %q %q %d %d ref %q ua %.40q user %q\nwant %q %q %q %d %d ref %q ua %.40q user %q",
					i+1, r.Method, r.Target, r.Protocol, r.Status, r.Bytes, r.Referrer, r.UserAgent, r.User,
					s.method, target, s.protocol, s.status, s.bytes, referrer, ua, user)
			}
			if f.hosted && r.Host != s.host {
				t.Errorf("line %d: host %q, want %q", i+1, r.Host, s.host)
			}
			if f.xffed && r.ForwardedFor != s.xff {
				t.Errorf("line %d: forwarded for %q, want %q", i+1, r.ForwardedFor, s.xff)
			}
			if f.timed {
				if r.RequestTime < 0 || r.RequestTime > 10*time.Second {
					t.Errorf("line %d: request time %v", i+1, r.RequestTime)
				}
				// nginx writes both times in milliseconds, each rounded on
				// its own: the upstream's may exceed the request's by 1 ms.
				if s.upstream != (r.UpstreamTime != event.Unknown) || r.UpstreamTime > r.RequestTime+time.Millisecond {
					t.Errorf("line %d: upstream time %v (request time %v), proxied %v", i+1, r.UpstreamTime, r.RequestTime, s.upstream)
				}
			} else if r.RequestTime != event.Unknown || r.UpstreamTime != event.Unknown {
				t.Errorf("line %d: durations in a format without them", i+1)
			}
			if r.Site != "s" {
				t.Errorf("line %d: site overwritten", i+1)
			}
		}
		// Auto-detection of the same file (the custom formats are not
		// guessed; they parse as what they start with or not at all).
		if file == "custom.log" || file == "jsonkeys.log" {
			return
		}
		var detected string
		a := NewAuto(func(f string) { detected = f })
		for i := 0; i < 2; i++ {
			for n, line := range lines {
				var r event.Raw
				if err := a.Parse(line, &r); err != nil {
					t.Fatalf("auto: line %d: %v", n+1, err)
				}
			}
		}
		if want := strings.TrimSuffix(strings.TrimSuffix(file, ".log"), "l"); detected != map[string]string{
			"combined": FormatCombined, "main": FormatMain, "json": FormatNginxJSON}[want] {
			t.Errorf("auto-detected %q for %s", detected, file)
		}
	}
	t.Run("combined", func(t *testing.T) { check(t, "combined.log", mustNew(t, "combined"), logs{escaped: true}) })
	t.Run("main", func(t *testing.T) { check(t, "main.log", mustNew(t, "main"), logs{escaped: true, xffed: true}) })
	t.Run("json", func(t *testing.T) {
		check(t, "json.log", mustNew(t, "nginx_json"), logs{timed: true, hosted: true, xffed: true})
	})
	t.Run("json_template", func(t *testing.T) {
		check(t, "jsonkeys.log", mustNew(t, "log_format jsonkeys escape=json '"+nginxJSONKeys+"';"),
			logs{timed: true, hosted: true, noRefUser: true})
	})
	t.Run("custom", func(t *testing.T) {
		check(t, "custom.log", mustNew(t, nginxCustom), logs{escaped: true, timed: true, hosted: true})
	})
}

// send writes one raw request and returns the status and the body size.
func send(t *testing.T, port int, raw string, head bool) (status, size int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	method := "GET"
	if head {
		method = "HEAD"
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, len(body)
}

// escapeNginx escapes a string as nginx's default log escaping does: '"',
// '\' and bytes outside printable ASCII become \xHH.
func escapeNginx(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c > 0x7e {
			fmt.Fprintf(&b, `\x%02X`, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
