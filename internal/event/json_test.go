package event

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var jsonTS = time.Date(2021, 10, 22, 9, 28, 56, 0, time.UTC)

func TestDecodeJSONContract(t *testing.T) {
	ip := netip.MustParseAddr("203.0.113.7")
	tests := []struct {
		name, in string
		want     Raw
	}{
		{"contract names",
			`{"ts":"2021-10-22T09:28:56Z","client_ip":"203.0.113.7","method":"GET","target":"/a?b=1","protocol":"HTTP/1.1","status":200,"bytes":512,"referrer":"https://r/","user_agent":"UA","request_time":0.25,"upstream_time":"0.1, 0.05","host":"example.org","x_forwarded_for":"198.51.100.1","user":"bob","site":"shop"}`,
			Raw{Time: jsonTS, ClientIP: ip, Method: "GET", Target: "/a?b=1", Protocol: "HTTP/1.1", Status: 200, Bytes: 512,
				Referrer: "https://r/", UserAgent: "UA", RequestTime: 250 * time.Millisecond, UpstreamTime: 150 * time.Millisecond,
				Host: "example.org", ForwardedFor: "198.51.100.1", User: "bob", Site: "shop"}},
		{"nginx names, request line, unix ms",
			`{"msec":1634894936000,"remote_addr":"203.0.113.7","request":"POST /x HTTP/2.0","status":"201","body_bytes_sent":"7","http_referer":"-","http_user_agent":"","server_name":"s","host":"h"}`,
			Raw{Time: jsonTS, ClientIP: ip, Method: "POST", Target: "/x", Protocol: "HTTP/2.0", Status: 201, Bytes: 7,
				Host: "h", RequestTime: Unknown, UpstreamTime: Unknown}},
		{"minimal with time_local",
			`{"time_local":"22/Oct/2021:02:28:56 -0700","ip":"203.0.113.7"}`,
			Raw{Time: jsonTS, ClientIP: ip, RequestTime: Unknown, UpstreamTime: Unknown}},
		{"request that is not a request line",
			`{"ts":1634894936,"client_ip":"203.0.113.7","request":"\\x16\\x03"}`,
			Raw{Time: jsonTS, ClientIP: ip, Target: `\x16\x03`, RequestTime: Unknown, UpstreamTime: Unknown}},
	}
	for _, tt := range tests {
		var r Raw
		if err := DecodeJSON([]byte(tt.in), nil, &r); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if r != tt.want {
			t.Errorf("%s:\ngot  %+v\nwant %+v", tt.name, r, tt.want)
		}
	}
}

func TestDecodeJSONRejects(t *testing.T) {
	for in, reason := range map[string]string{
		`{"ts":1}`:                                         ReasonBadIP,
		`{"ts":1,"client_ip":"1.2.3.4%eth0"}`:              ReasonBadIP,
		`{"ts":1,"client_ip":42}`:                          ReasonBadIP,
		`{"client_ip":"1.2.3.4"}`:                          ReasonBadTimestamp,
		`{"ts":"yesterday","client_ip":"1.2.3.4"}`:         ReasonBadTimestamp,
		`{"ts":-5,"client_ip":"1.2.3.4"}`:                  ReasonBadTimestamp,
		`{"ts":1,"client_ip":"1.2.3.4","status":1000}`:     ReasonBadStatus,
		`{"ts":1,"client_ip":"1.2.3.4","status":2.5}`:      ReasonBadStatus,
		`{"ts":1,"client_ip":"1.2.3.4","bytes":"many"}`:    ReasonBadBytes,
		`{"ts":1,"client_ip":"1.2.3.4","request_time":{}}`: ReasonBadDuration,
		`{"ts":1,"client_ip":"1.2.3.4","method":[]}`:       ReasonBadFormat,
		`{"message":"a line"}`:                             ReasonBadFormat,
		`{"ts":1,`:                                         ReasonBadJSON,
	} {
		var r Raw
		err := DecodeJSON([]byte(in), nil, &r)
		var re *RecordError
		if !errors.As(err, &re) || re.Reason != reason {
			t.Errorf("%s: %v, want %s", in, err, reason)
		}
		if err != nil && strings.Contains(err.Error(), "1.2.3.4") {
			t.Errorf("error leaks content: %v", err)
		}
	}
}

// TestRangeJSONShapes decodes each message shape the contract allows,
// including exactly what Vector's and Fluent Bit's NATS outputs send.
func TestRangeJSONShapes(t *testing.T) {
	line := func(b []byte, r *Raw) error {
		if len(b) > 0 && b[0] == '{' {
			*r = Raw{Time: jsonTS, ClientIP: netip.MustParseAddr("203.0.113.7"), Target: "/whole-object",
				RequestTime: Unknown, UpstreamTime: Unknown}
			return nil
		}
		if string(b) != "203.0.113.7 GET /from-line" {
			return errors.New("unexpected line")
		}
		*r = Raw{Time: jsonTS, ClientIP: netip.MustParseAddr("203.0.113.7"), Method: "GET", Target: "/from-line",
			RequestTime: Unknown, UpstreamTime: Unknown}
		return nil
	}
	opt := &JSONOptions{ParseLine: line, DefaultTime: jsonTS.Add(time.Hour)}
	obj := `{"ts":1634894936,"client_ip":"203.0.113.7","target":"/%d"}`
	tests := []struct {
		name, msg string
		targets   []string
		times     []time.Time
	}{
		{"one object", `{"ts":1634894936,"client_ip":"203.0.113.7","target":"/1"}`, []string{"/1"}, nil},
		{"ndjson", strings.ReplaceAll(obj, "%d", "1") + "\n" + strings.ReplaceAll(obj, "%d", "2") + "\n", []string{"/1", "/2"}, nil},
		{"array", "[" + strings.ReplaceAll(obj, "%d", "1") + "," + strings.ReplaceAll(obj, "%d", "2") + "]", []string{"/1", "/2"}, nil},
		// Vector: file source event (message, host, file, timestamp...) encoded with codec json.
		{"vector raw line", `{"file":"/var/log/nginx/access.log","host":"web-1","message":"203.0.113.7 GET /from-line","offset":1234,"source_type":"file","timestamp":"2024-05-01T10:00:00.123456789Z","site":"shop"}`,
			[]string{"/from-line"}, []time.Time{jsonTS}},
		// Fluent Bit's out_nats: [[time, {"tag": ..., record...}], ...], time a float.
		{"fluent bit", `[[1634894936.5,{"tag":"vakt.raw.shop","log":"203.0.113.7 GET /from-line"}],[1634894936.5,{"tag":"vakt.raw.shop","remote":"203.0.113.7","path":"/fb","code":"200"}]]`,
			[]string{"/from-line", "/fb"}, []time.Time{jsonTS, jsonTS.Add(500 * time.Millisecond)}},
		{"default time", `{"client_ip":"203.0.113.7","target":"/d"}`, []string{"/d"}, []time.Time{jsonTS.Add(time.Hour)}},
		// A Caddy log entry shipped as parsed JSON goes to ParseLine whole.
		{"caddy entry", `{"ts":1,"request":{"remote_ip":"203.0.113.7","uri":"/x"},"msg":"handled request"}`,
			[]string{"/whole-object"}, nil},
	}
	for _, tt := range tests {
		var targets []string
		var times []time.Time
		err := RangeJSON([]byte(tt.msg), opt, func(r *Raw, err error) error {
			if err != nil {
				t.Errorf("%s: record: %v", tt.name, err)
				return nil
			}
			targets = append(targets, r.Target)
			times = append(times, r.Time)
			return nil
		})
		if err != nil || !slices.Equal(targets, tt.targets) {
			t.Errorf("%s: %v %q, want %q", tt.name, err, targets, tt.targets)
		}
		if tt.times != nil && !slices.EqualFunc(times, tt.times, time.Time.Equal) {
			t.Errorf("%s: times %v, want %v", tt.name, times, tt.times)
		}
	}
	if !IsJSON([]byte(" \r{")) || !IsJSON([]byte("[")) || IsJSON([]byte{0x0a, 0x02}) || IsJSON(nil) || IsJSON([]byte("\n{")) {
		t.Error("IsJSON")
	}
	// A protobuf batch whose first record is 123 or 91 bytes long starts
	// with 0x0a '{' or 0x0a '[': still a batch.
	for _, n := range []int{91, 123} {
		r := Raw{Time: jsonTS, ClientIP: netip.MustParseAddr("203.0.113.7")}
		for len(AppendRaw(nil, &r)) < n+2 {
			r.Target += "x"
		}
		b := AppendRaw(nil, &r)
		if b[0] != 0x0a || int(b[1]) != n || IsJSON(b) {
			t.Errorf("batch % x... taken for JSON", b[:2])
		}
	}
	// Invalid JSON: no record is seen, the error wraps ErrJSON.
	for _, msg := range []string{`{"ts":1}` + "\n" + `{"ts":`, `[{"ts":1},`, `{"ts":1} 5`, `[1] [2]`, ``, `  `} {
		seen := 0
		err := RangeJSON([]byte(msg), nil, func(*Raw, error) error { seen++; return nil })
		if !errors.Is(err, ErrJSON) || seen != 0 {
			t.Errorf("%q: %v after %d records", msg, err, seen)
		}
	}
	// Records of other kinds inside an array are rejected one by one.
	var reasons []string
	if err := RangeJSON([]byte(`[1,[2],{"ts":1,"client_ip":"::1"}]`), nil, func(r *Raw, err error) error {
		var re *RecordError
		if errors.As(err, &re) {
			reasons = append(reasons, re.Reason)
		} else {
			reasons = append(reasons, "ok")
		}
		return nil
	}); err != nil || strings.Join(reasons, ",") != "bad_json,bad_json,ok" {
		t.Errorf("%v %v", err, reasons)
	}
}

// FuzzRangeJSON feeds arbitrary messages to the contract decoder: it must
// not panic, must reject with a known reason and no content, and whatever
// it decodes must survive the protobuf wire format.
func FuzzRangeJSON(f *testing.F) {
	for _, s := range []string{
		`{"ts":"2021-10-22T09:28:56Z","client_ip":"203.0.113.7","method":"GET","target":"/a?b=1","status":200,"bytes":512,"request_time":0.25,"upstream_time":"0.1, 0.05"}`,
		`[[1634894936.5,{"tag":"vakt.raw.shop","log":"x"}]]`,
		`{"msec":"1634894936.123","remote_addr":"::1","request":"GET / HTTP/1.1"}` + "\n" + `{"ts":1e12,"ip":"1.2.3.4"}`,
		`[{"ts":1,"client_ip":"1.2.3.4","status":"200","bytes":"1"}, 5, []]`,
	} {
		f.Add([]byte(s))
	}
	reasons := []string{ReasonBadJSON, ReasonBadFormat, ReasonBadIP, ReasonBadTimestamp, ReasonBadStatus,
		ReasonBadBytes, ReasonBadDuration}
	f.Fuzz(func(t *testing.T, msg []byte) {
		opt := &JSONOptions{DefaultTime: jsonTS}
		err := RangeJSON(msg, opt, func(r *Raw, err error) error {
			if err != nil {
				var re *RecordError
				if !errors.As(err, &re) || !slices.Contains(reasons, re.Reason) {
					t.Fatalf("record error %v", err)
				}
				if err.Error() != "event: json record: "+re.Reason+": field "+re.Field {
					t.Fatalf("message %q", err.Error())
				}
				return nil
			}
			if !r.ClientIP.IsValid() || r.ClientIP.Zone() != "" || r.Time.Location() != time.UTC {
				t.Fatalf("bad record %+v", r)
			}
			var back Raw
			if err := RangeRaw(AppendRaw(nil, r), func(d *Raw) error { back = *d; return nil }); err != nil {
				t.Fatal(err)
			}
			if back.ClientIP != r.ClientIP || back.Target != r.Target || back.Status != r.Status {
				t.Fatalf("wire round trip %+v != %+v", back, *r)
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrJSON) {
			t.Fatalf("message error %v does not wrap ErrJSON", err)
		}
	})
}
