package logformat

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
)

var (
	tsUTC = time.Date(2021, 10, 22, 9, 28, 56, 0, time.UTC) // 02:28:56 -0700
	ip1   = netip.MustParseAddr("203.0.113.7")
	ip6   = netip.MustParseAddr("2001:db8::42")
)

func raw(f func(r *event.Raw)) event.Raw {
	r := event.Raw{Time: tsUTC, ClientIP: ip1, Method: "GET", Target: "/a?b=1", Protocol: "HTTP/1.1",
		Status: 200, Bytes: 512, RequestTime: event.Unknown, UpstreamTime: event.Unknown}
	if f != nil {
		f(&r)
	}
	return r
}

func mustNew(t testing.TB, format string) Parser {
	t.Helper()
	p, err := New(format)
	if err != nil {
		t.Fatalf("New(%q): %v", format, err)
	}
	return p
}

// TestFormats parses one line of every format and compares every field.
func TestFormats(t *testing.T) {
	const custom = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time`
	tests := []struct {
		name, format, line string
		want               event.Raw
	}{
		{"combined", "combined",
			`203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512 "https://r.example/" "UA/1.0"`,
			raw(func(r *event.Raw) { r.Referrer, r.UserAgent = "https://r.example/", "UA/1.0" })},
		{"common", "common",
			`203.0.113.7 - bob [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512`,
			raw(func(r *event.Raw) { r.User = "bob" })},
		{"vhost_combined", "vhost_combined",
			`www.example.org:443 203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512 "-" "UA/1.0"`,
			raw(func(r *event.Raw) { r.Host, r.UserAgent = "www.example.org", "UA/1.0" })},
		{"main", "main",
			`203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512 "-" "UA/1.0" "198.51.100.1, 10.0.0.1"`,
			raw(func(r *event.Raw) { r.UserAgent, r.ForwardedFor = "UA/1.0", "198.51.100.1, 10.0.0.1" })},
		{"main no xff", "main",
			`203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512 "-" "UA/1.0" "-"`,
			raw(func(r *event.Raw) { r.UserAgent = "UA/1.0" })},
		{"nginx json", "nginx_json",
			`{"time_iso8601":"2021-10-22T02:28:56-07:00","remote_addr":"203.0.113.7","request":"GET /a?b=1 HTTP/1.1","status":200,"body_bytes_sent":512,"http_referer":"","http_user_agent":"UA \"quoted\" \u00e9","request_time":0.005,"upstream_response_time":"0.003, 0.001","host":"www.example.org","http_x_forwarded_for":"-"}`,
			raw(func(r *event.Raw) {
				r.UserAgent, r.Host = `UA "quoted" é`, "www.example.org"
				r.RequestTime, r.UpstreamTime = 5*time.Millisecond, 4*time.Millisecond
			})},
		{"nginx json split request, msec, strings", "json",
			`{"msec":"1634894936.250","remote_addr":"2001:db8::42","request_method":"POST","request_uri":"/a?b=1","server_protocol":"HTTP/2.0","status":"404","body_bytes_sent":"0","request_time":"0.000","upstream_response_time":"-","server_name":"example.org"}`,
			event.Raw{Time: tsUTC.Add(250 * time.Millisecond), ClientIP: ip6, Method: "POST", Target: "/a?b=1",
				Protocol: "HTTP/2.0", Status: 404, Host: "example.org", RequestTime: 0, UpstreamTime: event.Unknown}},
		{"caddy", "caddy",
			`{"level":"info","ts":1634894936.5,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"10.0.0.1","remote_port":"41342","client_ip":"203.0.113.7","proto":"HTTP/1.1","method":"GET","host":"example.org","uri":"/a?b=1","headers":{"User-Agent":["UA/1.0"],"Accept":["*/*"],"Referer":["https://r.example/"]}},"bytes_read":0,"user_id":"","duration":0.0012345,"size":512,"status":200,"resp_headers":{"Server":["Caddy"]}}`,
			raw(func(r *event.Raw) {
				r.Time = tsUTC.Add(500 * time.Millisecond)
				r.Host, r.UserAgent, r.Referrer = "example.org", "UA/1.0", "https://r.example/"
				r.RequestTime = 1234 * time.Microsecond
			})},
		{"caddy remote_ip only, iso ts, string duration", "caddy",
			`{"ts":"2021-10-22T09:28:56Z","request":{"remote_ip":"2001:db8::42","method":"HEAD","uri":"/","proto":"HTTP/2.0"},"duration":"1.5ms","size":0,"status":304}`,
			event.Raw{Time: tsUTC, ClientIP: ip6, Method: "HEAD", Target: "/", Protocol: "HTTP/2.0", Status: 304,
				RequestTime: 1500 * time.Microsecond, UpstreamTime: event.Unknown}},
		{"custom", custom,
			`203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512 "-" "UA 1.0 (x; y)" 0.120 0.010, 0.020 : 0.005`,
			raw(func(r *event.Raw) {
				r.UserAgent = "UA 1.0 (x; y)"
				r.RequestTime, r.UpstreamTime = 120*time.Millisecond, 35*time.Millisecond
			})},
		{"custom without upstream", custom,
			`203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512 "-" "-" 0.000 -`,
			raw(func(r *event.Raw) { r.RequestTime = 0 })},
		{"custom quoted with log_format prefix", `log_format timed escape=default '$host $remote_addr [$time_iso8601] '
			'"$request_method $request_uri $server_protocol" $status $bytes_sent $msec "$http_x_forwarded_for"';`,
			`example.org 203.0.113.7 [2021-10-22T02:28:56-07:00] "GET /a?b=1 HTTP/1.1" 200 512 1634894936.000 "198.51.100.1"`,
			raw(func(r *event.Raw) { r.Host, r.ForwardedFor = "example.org", "198.51.100.1" })},
		{"custom uri and args", `$remote_addr [$time_local] $uri?$args $status`,
			`203.0.113.7 [22/Oct/2021:02:28:56 -0700] /a?b=1 200`,
			raw(func(r *event.Raw) { r.Method, r.Protocol, r.Bytes = "", "", 0 })},
		{"custom json template", `log_format j escape=json '{"t":"$time_local","ip":"$remote_addr","r":"$request","s":$status,"b":$body_bytes_sent,"rt":$request_time,"h":"$host","other":"x$uri"}';`,
			`{"t":"22/Oct/2021:02:28:56 -0700","ip":"203.0.113.7","r":"GET /a?b=1 HTTP/1.1","s":200,"b":512,"rt":0.250,"h":"example.org","other":"x/a"}`,
			raw(func(r *event.Raw) { r.Host, r.RequestTime = "example.org", 250*time.Millisecond })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.format)
			r := event.Raw{Site: "kept", ForwardedFor: "stale", Host: "stale", User: "stale", RequestTime: 1}
			if err := p.Parse([]byte(tt.line), &r); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.want.Site = "kept"
			if r != tt.want {
				t.Errorf("got  %+v\nwant %+v", r, tt.want)
			}
		})
	}
}

func TestFormatErrors(t *testing.T) {
	const custom = `$remote_addr [$time_local] "$request" $status $request_time $upstream_response_time`
	tests := []struct {
		format, line string
		reason       Reason
	}{
		{"main", `203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 5 "-" "ua"`, ReasonBadFormat},
		{"vhost_combined", `203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 5 "-" "ua"`, ReasonBadFormat},
		{"vhost_combined", `h:80 nope - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 5 "-" "ua"`, ReasonBadIP},
		{"nginx_json", `{"remote_addr":"203.0.113.7"`, ReasonBadJSON},
		{"nginx_json", `["remote_addr"]`, ReasonBadJSON},
		{"nginx_json", `{"remote_addr":"203.0.113.7","status":200}`, ReasonBadTimestamp},
		{"nginx_json", `{"remote_addr":"1.2.3","msec":1}`, ReasonBadIP},
		{"nginx_json", `{"remote_addr":"203.0.113.7","msec":1,"status":1000}`, ReasonBadStatus},
		{"nginx_json", `{"remote_addr":"203.0.113.7","msec":1,"request_time":"abc"}`, ReasonBadDuration},
		{"nginx_json", `{"remote_addr":"203.0.113.7","msec":1,"body_bytes_sent":-1}`, ReasonBadBytes},
		{"caddy", `{"ts":1,"request":"GET /"}`, ReasonBadFormat},
		{"caddy", `{"ts":1,"request":{"remote_ip":"x"}}`, ReasonBadIP},
		{"caddy", `{"request":{"remote_ip":"203.0.113.7"}}`, ReasonBadTimestamp},
		{"caddy", `{"ts":1,"request":{"remote_ip":"203.0.113.7"},"duration":"fast"}`, ReasonBadDuration},
		{custom, `203.0.113.7 [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 x -`, ReasonBadDuration},
		{custom, `203.0.113.7 [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 0.1 0.1,`, ReasonBadFormat},
		{custom, `203.0.113.7 [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 20 0.1 -`, ReasonBadStatus},
		{custom, `203.0.113.7 [22/Oct/2021:02:28:56 +0700 "GET / HTTP/1.1" 200 0.1 -`, ReasonBadFormat},
		{custom, `203.0.113.7 [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 0.1 - extra`, ReasonBadFormat},
		{custom, `x [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 0.1 -`, ReasonBadIP},
		{custom, "203.0.113.7 [22/Oct/2021:02:28:56 -0700] \"\x01\" 200 0.1 -", ReasonBadRequest},
		{custom, "   ", ReasonEmpty},
		{custom, "203.0.113.7 \xff", ReasonInvalidUTF8},
	}
	for _, tt := range tests {
		var r event.Raw
		err := mustNew(t, tt.format).Parse([]byte(tt.line), &r)
		if ReasonOf(err) != tt.reason {
			t.Errorf("%s: %q: got %v, want reason %s", tt.format, tt.line, err, tt.reason)
		}
		if err != nil && (strings.Contains(err.Error(), "203.0.113") || strings.Contains(err.Error(), "GET")) {
			t.Errorf("error leaks line content: %v", err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, def := range []string{
		`$remote_addr $status`,                     // no time
		`[$time_local] $status`,                    // no client
		`$remote_addr$remote_user [$time_local]`,   // adjacent variables
		`'$remote_addr [$time_local]`,              // unterminated quote
		`log_format x`,                             // no string
		`{"ip":"$remote_addr","s":$status}`,        // JSON without time
		`{"ip":"$remote_addr","t":"$time_local"`,   // not an object
		`$remote_addr [$time_local] ${request`,     // unterminated ${
		`'$remote_addr [$time_local]' x '$status'`, // text between strings
		`nonsense`, // no $ and not a name
	} {
		if _, err := New(def); err == nil {
			t.Errorf("New(%q) succeeded", def)
		}
	}
	p, err := New(`log_format x '$remote_addr [$time_local] '  "\"\$request\"";`)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.(interface{ String() string }).String(); s != `$remote_addr [$time_local] "\$request"` {
		// nginx keeps "\$" as is: the variable is then not a variable.
		t.Logf("compiled %q", s)
	}
}

// TestAutoDetect feeds lines of each format to a fresh Auto and checks
// what it detects and that every line parses.
func TestAutoDetect(t *testing.T) {
	combined := `203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 5 "-" "ua"`
	lines := map[string]string{
		FormatCombined:      combined,
		FormatMain:          combined + ` "198.51.100.1"`,
		FormatVhostCombined: "example.org:80 " + combined,
		FormatNginxJSON:     `{"msec":1634894936.1,"remote_addr":"203.0.113.7","request":"GET / HTTP/1.1","status":200}`,
		FormatCaddy:         `{"ts":1634894936.1,"request":{"remote_ip":"203.0.113.7","method":"GET","uri":"/"},"status":200}`,
	}
	for want, line := range lines {
		var got []string
		a := NewAuto(func(f string) { got = append(got, f) })
		if a.Format() != FormatAuto {
			t.Fatal(a.Format())
		}
		for i := 0; i < 3*detectLines; i++ {
			var r event.Raw
			if err := a.Parse([]byte(line), &r); err != nil {
				t.Fatalf("%s line %d: %v", want, i, err)
			}
			if r.ClientIP != ip1 {
				t.Fatalf("%s: client %v", want, r.ClientIP)
			}
		}
		if len(got) != 1 || got[0] != want || a.Format() != want {
			t.Errorf("detected %v (Format %q), want [%s]", got, a.Format(), want)
		}
	}

	// Fallback per line: a combined source with a JSON line in it.
	a := NewAuto(nil)
	for range detectLines {
		var r event.Raw
		if err := a.Parse([]byte(combined), &r); err != nil {
			t.Fatal(err)
		}
	}
	var r event.Raw
	if err := a.Parse([]byte(lines[FormatNginxJSON]), &r); err != nil || r.Status != 200 {
		t.Errorf("fallback line: %v %+v", err, r)
	}
	if err := a.Parse([]byte("garbage line"), &r); ReasonOf(err) != ReasonBadIP {
		t.Errorf("garbage: %v, want combined's bad_ip", err)
	}
	if err := NewAuto(nil).Parse([]byte(`{"x":1}`), &r); ReasonOf(err) != ReasonBadIP {
		t.Errorf("JSON garbage: %v, want nginx_json's bad_ip", err)
	}
}

// TestAutoSecRepo detects the format of the real Apache log and parses all
// of it.
func TestAutoSecRepo(t *testing.T) {
	f, err := os.Open(secrepo)
	if err != nil {
		t.Skipf("test data: %v", err)
	}
	defer f.Close()
	var detected string
	a := NewAuto(func(s string) { detected = s })
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var r event.Raw
		if err := a.Parse(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		n++
	}
	if n != 644 || detected != FormatCombined {
		t.Errorf("%d lines, detected %q", n, detected)
	}
}

func TestParseSecondsList(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0.005": 5 * time.Millisecond, "12": 12 * time.Second, "0.010, 0.020": 30 * time.Millisecond,
		"0.010, 0.020 : 0.005": 35 * time.Millisecond, "-": event.Unknown, "-, 0.002": 2 * time.Millisecond,
		"1.0000009": time.Second, "": event.Unknown,
	} {
		got, ok := event.ParseSeconds([]byte(in))
		if !ok || got != want {
			t.Errorf("ParseSeconds(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"x", "0.1,", "-1", "1..2", "0.1 0.2", ".5", "1e999"} {
		if _, ok := event.ParseSeconds([]byte(in)); ok {
			t.Errorf("ParseSeconds(%q) accepted", in)
		}
	}
}

func BenchmarkFormats(b *testing.B) {
	const combined = `51.222.253.14 - - [22/Oct/2021:02:28:56 -0700] "GET /Datasets%20Description/Network/ftp.html HTTP/1.1" 200 1486 "https://www.google.com/" "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"`
	cases := []struct{ name, format, line string }{
		{"combined", "combined", combined},
		{"auto_combined", "auto", combined},
		{"main", "main", combined + ` "-"`},
		{"custom", `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time`,
			combined + ` 0.120 0.010, 0.020`},
		{"nginx_json", "nginx_json", `{"time_local":"22/Oct/2021:02:28:56 -0700","remote_addr":"51.222.253.14","request":"GET /Datasets%20Description/Network/ftp.html HTTP/1.1","status":200,"body_bytes_sent":1486,"http_referer":"https://www.google.com/","http_user_agent":"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)","request_time":0.120,"upstream_response_time":"0.010"}`},
		{"caddy", "caddy", `{"level":"info","ts":1634894936.5,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"51.222.253.14","remote_port":"41342","client_ip":"51.222.253.14","proto":"HTTP/1.1","method":"GET","host":"example.org","uri":"/Datasets%20Description/Network/ftp.html","headers":{"User-Agent":["Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"],"Accept":["*/*"]}},"bytes_read":0,"user_id":"","duration":0.0012345,"size":1486,"status":200,"resp_headers":{"Server":["Caddy"]}}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := mustNew(b, c.format)
			line := []byte(c.line)
			var r event.Raw
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Parse(line, &r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkNginxJSONStdlib decodes the nginx_json benchmark line with
// encoding/json into a struct, for comparison with the jsonscan-based
// parser (BenchmarkFormats/nginx_json): the hand scan is what ingest uses.
func BenchmarkNginxJSONStdlib(b *testing.B) {
	line := []byte(`{"time_local":"22/Oct/2021:02:28:56 -0700","remote_addr":"51.222.253.14","request":"GET /Datasets%20Description/Network/ftp.html HTTP/1.1","status":200,"body_bytes_sent":1486,"http_referer":"https://www.google.com/","http_user_agent":"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)","request_time":0.120,"upstream_response_time":"0.010"}`)
	var v struct {
		TimeLocal     string      `json:"time_local"`
		RemoteAddr    string      `json:"remote_addr"`
		Request       string      `json:"request"`
		Status        json.Number `json:"status"`
		BodyBytesSent json.Number `json:"body_bytes_sent"`
		Referer       string      `json:"http_referer"`
		UserAgent     string      `json:"http_user_agent"`
		RequestTime   json.Number `json:"request_time"`
		Upstream      string      `json:"upstream_response_time"`
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := json.Unmarshal(line, &v); err != nil {
			b.Fatal(err)
		}
		if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", v.TimeLocal); err != nil {
			b.Fatal(err)
		}
		if _, err := netip.ParseAddr(v.RemoteAddr); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
