package logformat

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
)

const fuzzCustom = `$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" $request_time $upstream_response_time $msec`

// errorFields are the Error.Field values a parser may report: its own
// field names, the nginx variables of fuzzCustom and the JSON fields.
var errorFields = append(slices.Clone(fields),
	fieldForwardedFor, fieldVhost, fieldJSON, fieldLiteral, "time",
	"host", "remote_addr", "remote_user", "time_local", "request", "status", "body_bytes_sent",
	"http_referer", "http_user_agent", "http_x_forwarded_for", "request_time", "upstream_response_time", "msec",
	"client_ip", "ts", "method", "target", "protocol", "bytes", "upstream_time", "x_forwarded_for", "user", "site",
	"message", "record", "size", "duration", "user_id")

// checkParse is what every parser's fuzz target asserts: no panic (by
// running at all), errors that are *Error with a known reason, a position
// inside the line and a message with no line content, and records with a
// valid client address, a UTC time and the caller's site.
func checkParse(t *testing.T, p Parser, line []byte) {
	t.Helper()
	r := event.Raw{Site: "site"}
	err := p.Parse(line, &r)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v is not *Error", err, err)
		}
		if !slices.Contains(Reasons(), e.Reason) || ReasonOf(err) != e.Reason {
			t.Fatalf("unknown reason %q", e.Reason)
		}
		if !slices.Contains(errorFields, e.Field) || e.Pos < 0 || e.Pos > len(line) {
			t.Fatalf("bad field %q or position %d", e.Field, e.Pos)
		}
		want := "logformat: " + string(e.Reason) + ": field " + e.Field + " at byte " + strconv.Itoa(e.Pos)
		if err.Error() != want {
			t.Fatalf("message %q, want %q", err.Error(), want)
		}
		return
	}
	if !r.ClientIP.IsValid() || r.ClientIP.Zone() != "" || r.Time.Location() != time.UTC || r.Site != "site" {
		t.Fatalf("bad record %+v", r)
	}
	if r.RequestTime < event.Unknown || r.UpstreamTime < event.Unknown {
		t.Fatalf("negative durations %+v", r)
	}
	// The wire format must carry what was parsed (except the Unix epoch
	// itself, which it encodes as absent).
	if r.Time.UnixMicro() == 0 {
		return
	}
	var back event.Raw
	if err := event.RangeRaw(event.AppendRaw(nil, &r), func(d *event.Raw) error { back = *d; return nil }); err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(r.Time.Truncate(time.Microsecond)) || back.ClientIP != r.ClientIP || back.Target != r.Target {
		t.Fatalf("wire round trip: %+v != %+v", back, r)
	}
}

func seedLines(f *testing.F, lines ...string) {
	for _, l := range lines {
		f.Add([]byte(l))
	}
}

const seedCombined = `203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512 "-" "UA/1.0"`

func FuzzMain(f *testing.F) {
	seedLines(f, seedCombined+` "198.51.100.1, 10.0.0.1"`, seedCombined+` "-" 0.1`, seedCombined)
	p := mustNew(f, FormatMain)
	f.Fuzz(func(t *testing.T, line []byte) { checkParse(t, p, line) })
}

func FuzzVhostCombined(f *testing.F) {
	seedLines(f, "example.org:443 "+seedCombined, "[::1]:80 ::1 - - [22/Oct/2021:02:28:56 -0700] \"-\" 408 0", ":80 x")
	p := mustNew(f, FormatVhostCombined)
	f.Fuzz(func(t *testing.T, line []byte) { checkParse(t, p, line) })
}

func FuzzNginxJSON(f *testing.F) {
	seedLines(f,
		`{"time_iso8601":"2021-10-22T02:28:56-07:00","remote_addr":"203.0.113.7","request":"GET /a?b=1 HTTP/1.1","status":200,"body_bytes_sent":512,"http_referer":"","http_user_agent":"UA \"q\" \u00e9","request_time":0.005,"upstream_response_time":"0.003, 0.001","host":"h"}`,
		`{"msec":"1634894936.250","remote_addr":"2001:db8::42","request_method":"POST","request_uri":"/a","status":"404","body_bytes_sent":"0"}`,
		`{"ts":1e9,"client_ip":"::ffff:1.2.3.4","status":"2\x30\x30","user_agent":"\ud83d\ude00\ud800"}`,
		`{"remote_addr":"1.2.3.4","time_local":"22/Oct/2021:02:28:56 -0700","nested":{"a":[1,2,{"b":null}]}}`)
	p := mustNew(f, FormatNginxJSON)
	f.Fuzz(func(t *testing.T, line []byte) { checkParse(t, p, line) })
}

func FuzzCaddy(f *testing.F) {
	seedLines(f,
		`{"level":"info","ts":1634894936.5,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"10.0.0.1","remote_port":"41342","client_ip":"203.0.113.7","proto":"HTTP/1.1","method":"GET","host":"example.org","uri":"/a?b=1","headers":{"User-Agent":["UA/1.0"],"Referer":["https://r.example/"]}},"bytes_read":0,"user_id":"","duration":0.0012345,"size":512,"status":200}`,
		`{"ts":"2021-10-22T09:28:56Z","request":{"remote_ip":"2001:db8::42","method":"HEAD","uri":"/"},"duration":"1.5ms","size":0,"status":304}`)
	p := mustNew(f, FormatCaddy)
	f.Fuzz(func(t *testing.T, line []byte) { checkParse(t, p, line) })
}

func FuzzCustom(f *testing.F) {
	seedLines(f,
		`example.org 203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET /a?b=1 HTTP/1.1" 200 512 "-" "UA 1 (x)" "-" 0.120 0.010, 0.020 : 0.005 1634894936.123`,
		`- ::1 - bob [22/Oct/2021:02:28:56 +0000] "-" 400 0 "-" "-" "1.2.3.4" 0.000 - 1.0`)
	p := mustNew(f, fuzzCustom)
	f.Fuzz(func(t *testing.T, line []byte) { checkParse(t, p, line) })
}

// FuzzCompileNginx compiles random format definitions and parses a line
// with each one that compiles: neither may panic.
func FuzzCompileNginx(f *testing.F) {
	f.Add(fuzzCustom, `example.org 203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 5 "-" "-" "-" 0.1 - 1.0`)
	f.Add(`log_format x escape=json '{"t":"$time_local","ip":"$remote_addr","s":$status}';`, `{"t":"22/Oct/2021:02:28:56 -0700","ip":"1.2.3.4","s":200}`)
	f.Add(`'$remote_addr' "[$time_iso8601]" '${status}x$msec'`, `1.2.3.4[2021-10-22T02:28:56Z]200x1.5`)
	f.Fuzz(func(t *testing.T, def, line string) {
		p, err := CompileNginx(def)
		if err != nil {
			if p != nil {
				t.Fatal("parser with error")
			}
			return
		}
		r := event.Raw{Site: "site"}
		if err := p.Parse([]byte(line), &r); err == nil {
			if !r.ClientIP.IsValid() || r.Time.Location() != time.UTC || r.Site != "site" {
				t.Fatalf("bad record %+v", r)
			}
		} else if ReasonOf(err) == ReasonOther {
			t.Fatalf("error without reason: %v", err)
		}
	})
}

func FuzzAuto(f *testing.F) {
	seedLines(f, seedCombined, "example.org:443 "+seedCombined, seedCombined+` "-"`,
		`{"msec":1634894936.1,"remote_addr":"203.0.113.7","request":"GET / HTTP/1.1","status":200}`,
		`{"ts":1634894936.1,"request":{"remote_ip":"203.0.113.7","method":"GET","uri":"/"},"status":200}`)
	f.Fuzz(func(t *testing.T, line []byte) {
		a := NewAuto(nil)
		for range detectLines + 1 {
			checkParse(t, a, line)
		}
	})
}
