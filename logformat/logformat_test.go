package logformat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
)

const secrepo = "/work/shared/testdata/secrepo-access-2021-10-22.log"

func TestParseCombined(t *testing.T) {
	ts := time.Date(2021, 10, 22, 9, 28, 56, 0, time.UTC) // 02:28:56 -0700
	tests := []struct {
		name string
		line string
		want event.Raw
	}{
		{
			name: "combined",
			line: `51.222.253.14 - - [22/Oct/2021:02:28:56 -0700] "GET /a%20b.html?x=1 HTTP/1.1" 200 1486 "-" "Mozilla/5.0 (compatible; AhrefsBot/7.0)" `,
			want: event.Raw{ClientIP: netip.MustParseAddr("51.222.253.14"), Method: "GET", Target: "/a%20b.html?x=1",
				Protocol: "HTTP/1.1", Status: 200, Bytes: 1486, UserAgent: "Mozilla/5.0 (compatible; AhrefsBot/7.0)"},
		},
		{
			name: "common",
			line: `10.1.2.3 - frank [22/Oct/2021:02:28:56 -0700] "POST /login HTTP/1.0" 302 -`,
			want: event.Raw{ClientIP: netip.MustParseAddr("10.1.2.3"), User: "frank", Method: "POST", Target: "/login",
				Protocol: "HTTP/1.0", Status: 302},
		},
		{
			name: "ipv6 and crlf",
			line: "2001:db8::1 - - [22/Oct/2021:02:28:56 -0700] \"GET / HTTP/2.0\" 304 0 \"https://example.com/\" \"curl/8.0\"\r",
			want: event.Raw{ClientIP: netip.MustParseAddr("2001:db8::1"), Method: "GET", Target: "/", Protocol: "HTTP/2.0",
				Status: 304, Referrer: "https://example.com/", UserAgent: "curl/8.0"},
		},
		{
			name: "ipv4-mapped stays mapped",
			line: `::ffff:192.0.2.7 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 5`,
			want: event.Raw{ClientIP: netip.MustParseAddr("::ffff:192.0.2.7"), Method: "GET", Target: "/", Protocol: "HTTP/1.1",
				Status: 200, Bytes: 5},
		},
		{
			name: "escaped quotes and backslashes",
			line: `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET /?q=\"x\" HTTP/1.1" 200 1 "a\\" "b \"c\" \x22d\\\""`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Method: "GET", Target: `/?q=\"x\"`, Protocol: "HTTP/1.1",
				Status: 200, Bytes: 1, Referrer: `a\\`, UserAgent: `b \"c\" \x22d\\\"`},
		},
		{
			name: "user with spaces",
			line: `1.2.3.4 - a b [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 401 0`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), User: "a b", Method: "GET", Target: "/",
				Protocol: "HTTP/1.1", Status: 401},
		},
		{
			name: "nginx main format: extra fields ignored",
			line: `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 9 "-" "ua" "203.0.113.9"`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Method: "GET", Target: "/", Protocol: "HTTP/1.1",
				Status: 200, Bytes: 9, UserAgent: "ua"},
		},
		{
			name: "empty request",
			line: `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "-" 408 0 "-" "-"`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Status: 408},
		},
		{
			name: "TLS handshake on plain port",
			line: `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "\x16\x03\x01\x00\xCA\x01\x00\x00\xC6\x03\x03" 400 157 "-" "-"`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Target: `\x16\x03\x01\x00\xCA\x01\x00\x00\xC6\x03\x03`,
				Status: 400, Bytes: 157},
		},
		{
			name: "HTTP/0.9",
			line: `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET /" 200 3`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Method: "GET", Target: "/", Status: 200, Bytes: 3},
		},
		{
			name: "single word request",
			line: `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET" 400 3`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Target: "GET", Status: 400, Bytes: 3},
		},
		{
			name: "unusual method and protocol",
			line: `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "PROPFIND /dav HTTP/1.2" 405 3`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Method: "PROPFIND", Target: "/dav", Protocol: "HTTP/1.2",
				Status: 405, Bytes: 3},
		},
		{
			name: "target with spaces",
			line: `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET /a b HTTP/1.1" 400 3`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Method: "GET", Target: "/a b", Protocol: "HTTP/1.1",
				Status: 400, Bytes: 3},
		},
		{
			name: "positive offset",
			line: `1.2.3.4 - - [22/Oct/2021:18:58:56 +0930] "GET / HTTP/1.1" 200 18446744073709551615`,
			want: event.Raw{ClientIP: netip.MustParseAddr("1.2.3.4"), Method: "GET", Target: "/", Protocol: "HTTP/1.1",
				Status: 200, Bytes: 1<<64 - 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := event.Raw{Site: "keep", Host: "keep"}
			if err := ParseCombined([]byte(tt.line), &got); err != nil {
				t.Fatalf("ParseCombined: %v", err)
			}
			want := tt.want
			want.Time = ts
			want.Site, want.Host = "keep", "keep"
			want.RequestTime, want.UpstreamTime = event.Unknown, event.Unknown
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if got.Time.Location() != time.UTC {
				t.Errorf("time not in UTC: %v", got.Time.Location())
			}
		})
	}
}

func TestParseCombinedErrors(t *testing.T) {
	const ok = `1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 1 "-" "ua"`
	tests := []struct {
		line   string
		reason Reason
		field  string
	}{
		{"", ReasonEmpty, "line"},
		{" \t\r", ReasonEmpty, "line"},
		{strings.Repeat("a", MaxLineBytes+1), ReasonTooLong, "line"},
		{strings.Replace(ok, "GET /", "GET /\xff", 1), ReasonInvalidUTF8, "line"},
		{"1.2.3.4", ReasonBadFormat, "ident"},
		{"1.2.3.4 -", ReasonBadFormat, "user"},
		{"1.2.3.4 - - 22/Oct/2021", ReasonBadFormat, "timestamp"},
		{strings.Replace(ok, "1.2.3.4", "example.com", 1), ReasonBadIP, "client"},
		{strings.Replace(ok, "1.2.3.4", "1.2.3.256", 1), ReasonBadIP, "client"},
		{strings.Replace(ok, "1.2.3.4", "01.2.3.4", 1), ReasonBadIP, "client"},
		{strings.Replace(ok, "1.2.3.4", "1.2.3", 1), ReasonBadIP, "client"},
		{strings.Replace(ok, "1.2.3.4", "fe80::1%eth0", 1), ReasonBadIP, "client"},
		{strings.Replace(ok, "1.2.3.4", "-", 1), ReasonBadIP, "client"},
		{strings.Replace(ok, "Oct", "Okt", 1), ReasonBadTimestamp, "timestamp"},
		{strings.Replace(ok, "22/Oct", "32/Oct", 1), ReasonBadTimestamp, "timestamp"},
		{strings.Replace(ok, "22/Oct/2021", "29/Feb/2021", 1), ReasonBadTimestamp, "timestamp"},
		{strings.Replace(ok, "02:28:56", "24:28:56", 1), ReasonBadTimestamp, "timestamp"},
		{strings.Replace(ok, "02:28:56", "02:28:5x", 1), ReasonBadTimestamp, "timestamp"},
		{strings.Replace(ok, "-0700", "0700", 1), ReasonBadTimestamp, "timestamp"},
		{strings.Replace(ok, " -0700]", "]", 1), ReasonBadTimestamp, "timestamp"},
		{strings.Replace(ok, `] "GET`, `]"GET`, 1), ReasonBadFormat, "request"},
		{`1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1`, ReasonBadFormat, "request"},
		{strings.Replace(ok, "GET / HTTP/1.1", "\x01\x02 /", 1), ReasonBadRequest, "request"},
		{strings.Replace(ok, " 200 ", " 20 ", 1), ReasonBadStatus, "status"},
		{strings.Replace(ok, " 200 ", " 2000 ", 1), ReasonBadStatus, "status"},
		{strings.Replace(ok, " 200 ", " OK ", 1), ReasonBadStatus, "status"},
		{`1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200`, ReasonBadFormat, "bytes"},
		{strings.Replace(ok, " 1 ", " 1k ", 1), ReasonBadBytes, "bytes"},
		{strings.Replace(ok, " 1 ", " 18446744073709551616 ", 1), ReasonBadBytes, "bytes"},
		{strings.Replace(ok, ` "-" "ua"`, ` - "ua"`, 1), ReasonBadFormat, "referrer"},
		{strings.Replace(ok, ` "-" "ua"`, ` "-`, 1), ReasonBadFormat, "referrer"},
		{strings.Replace(ok, ` "-" "ua"`, ` "-"`, 1), ReasonBadFormat, "user_agent"},
		{strings.Replace(ok, ` "-" "ua"`, ` "-" "ua`, 1), ReasonBadFormat, "user_agent"},
		{ok + "x", ReasonBadFormat, "user_agent"},
	}
	for _, tt := range tests {
		name := tt.line
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			var r event.Raw
			err := ParseCombined([]byte(tt.line), &r)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if e.Reason != tt.reason || e.Field != tt.field {
				t.Errorf("got reason %q field %q, want %q %q", e.Reason, e.Field, tt.reason, tt.field)
			}
			if ReasonOf(fmt.Errorf("wrapped: %w", err)) != tt.reason {
				t.Errorf("ReasonOf(wrapped) = %q", ReasonOf(err))
			}
			if msg := err.Error(); strings.Contains(msg, "1.2.3") || strings.Contains(msg, "GET") {
				t.Errorf("error message leaks line content: %s", msg)
			}
		})
	}
	if ReasonOf(nil) != "" || ReasonOf(errors.New("x")) != ReasonOther {
		t.Error("ReasonOf of nil or foreign error")
	}
}

// TestSecRepo parses a real day of Apache combined log: every line is valid.
func TestSecRepo(t *testing.T) {
	f, err := os.Open(secrepo)
	if err != nil {
		t.Skipf("test data: %v", err)
	}
	defer f.Close()
	var recs []event.Raw
	statuses := map[uint16]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, MaxLineBytes+1)
	// The day runs 22/Oct 02:28 to 23/Oct 02:31 at -0700. Not quite in
	// order: Apache stamps the request's start but writes at its end, so
	// line 364 (a slow download) is ten minutes older than line 363.
	first := time.Date(2021, 10, 22, 9, 28, 56, 0, time.UTC)
	last := time.Date(2021, 10, 23, 9, 31, 0, 0, time.UTC)
	for n := 1; sc.Scan(); n++ {
		var r event.Raw
		if err := ParseCombined(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if r.Time.Before(first) || r.Time.After(last) || !r.ClientIP.Is4() {
			t.Errorf("line %d: time %v ip v4=%v", n, r.Time, r.ClientIP.Is4())
		}
		statuses[r.Status]++
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 644 {
		t.Fatalf("parsed %d lines, want 644", len(recs))
	}
	wantStatuses := map[uint16]int{200: 489, 206: 4, 301: 59, 304: 3, 404: 76, 408: 1, 418: 12}
	if fmt.Sprint(statuses) != fmt.Sprint(wantStatuses) {
		t.Errorf("statuses %v, want %v", statuses, wantStatuses)
	}

	check := func(line int, want event.Raw) {
		t.Helper()
		got := recs[line-1]
		want.RequestTime, want.UpstreamTime = event.Unknown, event.Unknown
		if got != want {
			t.Errorf("line %d:\ngot  %+v\nwant %+v", line, got, want)
		}
	}
	check(1, event.Raw{
		Time: time.Date(2021, 10, 22, 9, 28, 56, 0, time.UTC), ClientIP: netip.MustParseAddr("51.222.253.14"),
		Method: "GET", Target: "/Datasets%20Description/Network/ftp.html", Protocol: "HTTP/1.1", Status: 200, Bytes: 1486,
		UserAgent: "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	})
	check(5, event.Raw{
		Time: time.Date(2021, 10, 22, 9, 50, 49, 0, time.UTC), ClientIP: netip.MustParseAddr("116.86.203.45"),
		Method: "GET", Target: "/css/style.css", Protocol: "HTTP/1.1", Status: 404, Bytes: 305,
		Referrer:  "http://www.secrepo.com/",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.81 Safari/537.36",
	})
	check(481, event.Raw{
		Time: time.Date(2021, 10, 22, 23, 49, 29, 0, time.UTC), ClientIP: netip.MustParseAddr("27.158.48.59"),
		Method: "POST", Target: "/plug/collect/AspCms_CollectFun.asp", Protocol: "HTTP/1.1", Status: 408, Bytes: 391,
		Referrer: "http://misc.yahoo.com.cn/", UserAgent: "Mozilla/5.0+(compatible;+Baispider/2.0;++http://www.bai.com/search/spider.html)",
	})
	check(644, event.Raw{
		Time: time.Date(2021, 10, 23, 9, 31, 0, 0, time.UTC), ClientIP: netip.MustParseAddr("8.142.17.90"),
		Method: "GET", Target: "/robots.txt", Protocol: "HTTP/1.1", Status: 200, Bytes: 377,
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; WOW64; rv:48.0) Gecko/20100101 Firefox/48.0",
	})
	// Escaped quotes inside the referrer of an injection probe.
	r := recs[331-1]
	if !strings.HasPrefix(r.Referrer, `45ea207d7a2b68c49582d2d22adf953aads|a:2:{s:3:\"num\";s:297:\"*/SELECT 1,`) ||
		!strings.HasSuffix(r.Referrer, `-1' UNION/*\";}45ea207d7a2b68c49582d2d22adf953a`) ||
		r.UserAgent != "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2)" || r.Target != "/user.php?act=login" {
		t.Errorf("line 331: referrer %q ua %q target %q", r.Referrer, r.UserAgent, r.Target)
	}
	if r := recs[324-1]; !strings.HasSuffix(r.Referrer, `refiles[1]=\\%22;eval($_POST[ysy]);die();//`) {
		t.Errorf("line 324: referrer %q", r.Referrer)
	}
	if r := recs[378-1]; r.Method != "HEAD" || r.Target != "/" {
		t.Errorf("line 378: %s %s", r.Method, r.Target)
	}
}

func TestAppendCombinedRoundTrip(t *testing.T) {
	f, err := os.ReadFile(secrepo)
	if err != nil {
		t.Skipf("test data: %v", err)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(f), []byte("\n")) {
		var a, b event.Raw
		if err := ParseCombined(line, &a); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		out := AppendCombined(nil, &a)
		if err := ParseCombined(out, &b); err != nil {
			t.Fatalf("line %d reformatted: %v", i+1, err)
		}
		if a != b {
			t.Fatalf("line %d: round trip\n%+v\n%+v", i+1, a, b)
		}
	}
}

func TestAppendTime(t *testing.T) {
	loc := time.FixedZone("", -7*3600)
	tm := time.Date(2021, 10, 22, 2, 28, 56, 999, loc)
	if got, want := string(AppendTime(nil, tm)), tm.Format("02/Jan/2006:15:04:05 -0700"); got != want {
		t.Errorf("AppendTime = %q, want %q", got, want)
	}
	for _, s := range []string{"01/Jan/0001:00:00:00 +0000", "29/Feb/2000:23:59:59 +1400", "31/Dec/9999:23:59:59 -1200", "01/Mar/1969:12:00:00 +0530"} {
		want, err := time.Parse("02/Jan/2006:15:04:05 -0700", s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseTime([]byte(s))
		if !ok || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v %v, want %v", s, got, ok, want)
		}
		if back := string(AppendTime(nil, got.In(want.Location()))); back != s {
			t.Errorf("AppendTime = %q, want %q", back, s)
		}
	}
}

func TestParseTimeMatchesStdlib(t *testing.T) {
	// Every day of a leap and a common year, and every offset hour.
	for d := time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC); d.Year() < 2025; d = d.Add(24*time.Hour + 3601*time.Second) {
		for _, off := range []int{-12, -7, 0, 5, 14} {
			loc := time.FixedZone("", off*3600+off%2*1800)
			s := d.In(loc).Format("02/Jan/2006:15:04:05 -0700")
			got, ok := parseTime([]byte(s))
			if !ok || !got.Equal(d) {
				t.Fatalf("parseTime(%q) = %v, %v; want %v", s, got, ok, d)
			}
		}
	}
}

func TestParseAllocs(t *testing.T) {
	line := []byte(`51.222.253.14 - - [22/Oct/2021:02:28:56 -0700] "GET /Datasets%20Description/Network/ftp.html HTTP/1.1" 200 1486 "https://www.google.com/" "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"`)
	var r event.Raw
	n := testing.AllocsPerRun(100, func() {
		if err := ParseCombined(line, &r); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("%v allocations per line, want at most 1", n)
	}
}

func BenchmarkParseCombined(b *testing.B) {
	data, err := os.ReadFile(secrepo)
	if err != nil {
		b.Skipf("test data: %v", err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var size int
	for _, l := range lines {
		size += len(l)
	}
	var r event.Raw
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := ParseCombined(lines[i%len(lines)], &r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
