package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/logformat"
)

func TestMaskLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{`192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1`, `x.x.x.x - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1`},
		{`2001:db8::1 - -`, `x:x::x - -`},
		{`[2001:db8:0:0:1:0:0:1]:443`, `[x:x::x]:443`},
		{`fe80::1%eth0`, `x:x::x%eth0`},
		{`::ffff:192.0.2.1`, `x:x::x`},
		{`::`, `x:x::x`},
		{`2001:db8:85a3:8d3`, `x:x::x`}, // a /64 prefix
		{`00:1a:2b:3c:4d:5e`, `x:x::x`},
		{`xff=203.0.113.9,198.51.100.7`, `xff=x.x.x.x,x.x.x.x`},
		{`q=1%2E2%2E3%2E4&r=2001%3Adb8%3A%3A1`, `q=x.x.x.x&r=x:x::x`},
		{`host ip-10-0-0-1.ec2.internal`, `host ip-x-x-x-x.ec2.internal`},
		{`10_1_2_3`, `x-x-x-x`},
		{`10.0.0`, `x.x.x.x`}, // cut short
		{`a1.2.3.4b`, `ax.x.x.xb`},
		{`mail alice.b+tag@mail.example.org now`, `mail x@x now`},
		{`to=bob%40example.com&x`, `to=x@x&x`},
		{`user@192.0.2.1`, `x@x`},
		// Kept: times, dates, versions with one dot, ports, plain numbers.
		{`2021:13:55:36 13:55:36.123 2024-01-15 HTTP/1.1 :8080 12345678`, `2021:13:55:36 13:55:36.123 2024-01-15 HTTP/1.1 :8080 12345678`},
		{`@ a@b x@y.z`, `@ a@b x@x`},
	}
	for _, tt := range tests {
		if got := string(maskLine([]byte(tt.in))); got != tt.want {
			t.Errorf("maskLine(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	got, cut := printable([]byte("a\x00b\xffc\té\x1b"), 100)
	if got != `a\x00b\xffc`+"\t"+`é\x1b` || cut {
		t.Fatalf("%q %v", got, cut)
	}
	got, cut = printable([]byte(strings.Repeat("é", 10)), 5)
	if got != "éé" || !cut {
		t.Fatalf("%q %v", got, cut)
	}
}

// parsableIP returns an IP address (other than the unspecified one, which
// the IPv6 mask itself contains) found anywhere in s, also after decoding
// the %-escapes the masker knows.
func parsableIP(s string) (string, bool) {
	for _, v := range []string{s, decodeEscapes(s)} {
		for i := range len(v) {
			for j := i + 2; j <= len(v) && j <= i+64; j++ {
				if a, err := netip.ParseAddr(v[i:j]); err == nil && !a.IsUnspecified() {
					return v[i:j], true
				}
			}
		}
	}
	return "", false
}

func decodeEscapes(s string) string {
	r := strings.NewReplacer("%2E", ".", "%2e", ".", "%3A", ":", "%3a", ":", "%40", "@")
	return r.Replace(s)
}

// FuzzMaskLine: whatever the input, no IP address survives masking, and
// the printable sample is valid UTF-8 within its limit.
func FuzzMaskLine(f *testing.F) {
	for _, s := range []string{
		`192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /?ip=198.51.100.2 HTTP/1.1" 200 1 "-" "-"`,
		`2001:db8::1 x ::ffff:10.1.2.3 fe80::a%en0 1:2:3:4:5:6:7:8`,
		`1%2E2%2E3%2E4 2001%3adb8%3a%3a1 a%40b.example`,
		"\x00\xff1.2.3.4\n::1",
		`01.02.03.04 1.2.3.4.5 ::1.2.3.4 1::`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		out := maskLine(line)
		if ip, ok := parsableIP(string(out)); ok {
			t.Fatalf("IP %q survives in %q (from %q)", ip, out, line)
		}
		s, _ := printable(out, QuarantineSampleBytes)
		if !utf8.ValidString(s) || len(s) > QuarantineSampleBytes {
			t.Fatalf("sample %q", s)
		}
		if ip, ok := parsableIP(s); ok {
			t.Fatalf("IP %q in sample %q", ip, s)
		}
	})
}

// FuzzMaskEmbeddedIP puts a real address, in its usual text forms, into
// arbitrary surroundings: it never comes out.
func FuzzMaskEmbeddedIP(f *testing.F) {
	f.Add([]byte("GET /?a="), []byte{192, 0, 2, 1}, []byte(" HTTP/1.1"), uint8(0))
	f.Add([]byte("x"), []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, []byte("y"), uint8(1))
	f.Add([]byte("abc"), []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd}, []byte(":80"), uint8(2))
	f.Fuzz(func(t *testing.T, before, raw, after []byte, form uint8) {
		var ip netip.Addr
		switch len(raw) {
		case 4:
			ip = netip.AddrFrom4([4]byte(raw))
		case 16:
			ip = netip.AddrFrom16([16]byte(raw))
		default:
			return
		}
		texts := []string{ip.String()}
		if ip.Is6() {
			texts = append(texts, ip.StringExpanded())
		}
		text := texts[int(form)%len(texts)]
		if form&4 != 0 {
			text = strings.ReplaceAll(strings.ReplaceAll(text, ".", "%2E"), ":", "%3A")
		}
		line := append(append(append([]byte{}, before...), text...), after...)
		out := decodeEscapes(string(maskLine(line)))
		for _, t2 := range texts {
			if strings.Contains(out, t2) && !ip.IsUnspecified() {
				t.Fatalf("%s survives in %q", t2, out)
			}
		}
	})
}

// TestQuarantineSamples imports bad lines of every kind: they are counted
// by reason, nothing stalls, and the quarantine keeps at most
// QuarantinePerHour masked samples per reason, with no IP or e-mail
// address in them.
func TestQuarantineSamples(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	now := time.Now()
	stamp := string(logformat.AppendTime(nil, now))
	var file bytes.Buffer
	var ips []string
	want := map[string]int64{}
	add := func(reason, line string) {
		file.WriteString(line)
		file.WriteByte('\n')
		if reason != "" {
			want[reason]++
		}
	}
	for k := range 25 {
		ip := fmt.Sprintf("198.51.%d.%d", k, 200-k)
		ips = append(ips, ip)
		add("bad_format", ip+" mail=user"+fmt.Sprint(k)+"@example.org broken line")
		v6 := fmt.Sprintf("2001:db8:%x::%x", k, k+1)
		ips = append(ips, v6)
		add("invalid_utf8", v6+" - - ["+stamp+"] \"GET /\xff\xfe HTTP/1.1\" 200 1 \"-\" \"-\"")
		add("bad_timestamp", ip+" - - [32/Foo/2021:99:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"")
		add("", ip+" - - ["+stamp+"] \"GET /ok HTTP/1.1\" 200 1 \"-\" \"-\"")
	}
	// Binary garbage with no newline for a long stretch, and lines too long.
	garbage := make([]byte, 64<<10)
	for k := range garbage {
		garbage[k] = byte(k*7+k>>8) | 0x80
	}
	for k := range garbage {
		if garbage[k] == '\n' {
			garbage[k] = 0
		}
	}
	file.Write(garbage)
	file.WriteByte('\n')
	want["invalid_utf8"]++
	for range 3 {
		add("too_long", "203.0.113.1 "+strings.Repeat("y", logformat.MaxLineBytes+1))
	}
	path := filepath.Join(t.TempDir(), "bad.log")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ing := run(t, Config{Files: []string{path}, Site: "q.example"}, js, nil)
	st := ing.Stats()
	if st.Published != 25 || fmt.Sprint(st.Rejected) != fmt.Sprint(want) {
		t.Fatalf("stats %+v, want rejected %v", st, want)
	}

	// Samples are published without waiting; give them a moment.
	var samples []QuarantineSample
	testenv.WaitFor(t, 10*time.Second, "samples", func() bool {
		var err error
		samples, err = ReadQuarantine(context.Background(), js, QuarantineFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(samples) >= 10+10+10+3
	})
	byReason := map[string]int{}
	for _, s := range samples {
		byReason[s.Reason]++
		if s.Site != "q.example" || s.Source != path || s.Time.IsZero() {
			t.Errorf("sample %+v", s)
		}
		for _, ip := range ips {
			if strings.Contains(s.Sample, ip) {
				t.Fatalf("sample holds IP %s: %q", ip, s.Sample)
			}
		}
		if ip, ok := parsableIP(s.Sample); ok {
			t.Fatalf("sample holds IP %s: %q", ip, s.Sample)
		}
		if strings.Contains(s.Sample, "example.org") || len(s.Sample) > QuarantineSampleBytes || !utf8.ValidString(s.Sample) {
			t.Fatalf("sample %q", s.Sample)
		}
	}
	if byReason["bad_format"] != QuarantinePerHour || byReason["bad_timestamp"] != QuarantinePerHour ||
		byReason["invalid_utf8"] != QuarantinePerHour || byReason["too_long"] != 3 {
		t.Fatalf("samples by reason %v", byReason)
	}
	for _, s := range samples {
		if s.Reason == "bad_format" {
			if !strings.HasPrefix(s.Sample, "x.x.x.x mail=x@x broken line") {
				t.Errorf("bad_format sample %q", s.Sample)
			}
			break
		}
	}
	// Filters.
	got, err := ReadQuarantine(context.Background(), js, QuarantineFilter{Site: "q.example", Reason: "too_long", Limit: 2})
	if err != nil || len(got) != 2 || got[0].Reason != "too_long" || got[0].Length != 0 {
		t.Fatalf("filtered: %v %+v", err, got)
	}
	if got, err := ReadQuarantine(context.Background(), js, QuarantineFilter{Site: "other"}); err != nil || len(got) != 0 {
		t.Fatalf("other site: %v %d", err, len(got))
	}
}

func TestQuarantineRateLimit(t *testing.T) {
	q := newQuarantine(nil)
	clock := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	q.now = func() time.Time { return clock }
	n := 0
	for range 100 {
		if q.take("bad_format") {
			n++
		}
	}
	if n != QuarantinePerHour || !q.take("empty") {
		t.Fatalf("%d samples in one hour", n)
	}
	clock = clock.Add(time.Hour)
	if !q.take("bad_format") {
		t.Fatal("no sample in the next hour")
	}
}
