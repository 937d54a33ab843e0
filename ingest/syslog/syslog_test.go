package syslog

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseSyslog(t *testing.T) {
	const line = `203.0.113.7 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 5 "-" "ua"`
	tests := []struct {
		name, in, host, app, msg string
	}{
		{"nginx", "<190>Oct 22 02:28:56 web-1 mysite: " + line, "web-1", "mysite", line},
		{"nginx nohostname", "<190>Oct  2 02:28:56 mysite: " + line, "", "mysite", line},
		{"logger rfc3164", "<13>Nov 25 05:49:47 vm siteC: hello udp 3164", "vm", "siteC", "hello udp 3164"},
		{"3164 with pid", "<13>Nov 25 05:49:47 vm app[123]: body\n", "vm", "app", "body"},
		{"3164 iso time", "<13>2024-05-01T10:00:00.123Z host tag: body", "host", "tag", "body"},
		{"3164 no tag", "<13>Nov 25 05:49:47 host just a message", "host", "", "just a message"},
		{"3164 bare", "<13>hello", "", "", "hello"},
		{"logger rfc5424", `<13>1 2026-11-25T05:59:50.463422+00:00 vm siteD - - [timeQuality tzKnown="1" isSynced="0"][x@1 a="b\]c"] hello udp 5424`,
			"vm", "siteD", "hello udp 5424"},
		{"5424 nil values, BOM", "<165>1 - - - - - - \xef\xbb\xbf" + line, "", "", line},
		{"5424 no msg", "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 -", "mymachine.example.com", "evntslog", ""},
	}
	for _, tt := range tests {
		m, err := Parse([]byte(tt.in))
		if err != nil || string(m.Hostname) != tt.host || string(m.AppName) != tt.app || string(m.Msg) != tt.msg {
			t.Errorf("%s: %v host %q app %q msg %q", tt.name, err, m.Hostname, m.AppName, m.Msg)
		}
	}
	for _, in := range []string{"", "hello", "<>x", "<192>x", "<01>x", "<1234>x", "<13", "<13>1 a b", "<13>1 a b c d e [x",
		"<13>1 a b c d e x", "<13>1 a b c d e -x", "<13>1 a \x01 c d e -"} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", in, err)
		}
	}
}

func TestFrameReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	stream := "<13>a\n\n13 <13>b\nwith nl" + "<13>c\r\n" + "5 <13>d" + long + "\n" + "3 <1>" + "200 " + long + long + "<13>e"
	fr := NewFrameReader(strings.NewReader(stream), 64)
	var got []string
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrFrameTooLong) {
			got = append(got, "TOO LONG")
			continue
		}
		if err != nil {
			got = append(got, "ERR "+err.Error())
			break
		}
		got = append(got, string(f))
	}
	want := []string{"<13>a", "<13>b\nwith nl", "<13>c\r", "<13>d", "TOO LONG", "<1>", "TOO LONG", "<13>e"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("frames %q\nwant   %q", got, want)
	}
	for _, bad := range []string{"12x <13>", "0 ", "123456789 x", "01 x"} {
		if _, err := NewFrameReader(strings.NewReader(bad), 64).Next(); !errors.Is(err, ErrFraming) {
			t.Errorf("%q: %v, want ErrFraming", bad, err)
		}
	}
}

// FuzzSyslog checks that header parsing never panics and that the body and
// header fields it returns are parts of the input.
func FuzzSyslog(f *testing.F) {
	for _, s := range []string{
		"<190>Oct 22 02:28:56 web-1 mysite: 1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] \"GET / HTTP/1.1\" 200 5",
		`<13>1 2026-11-25T05:59:50.463422+00:00 vm siteD - - [timeQuality tzKnown="1"][x@1 a="b\]c"] hello`,
		"<13>vm tag[1]: x\x00\n", "<0>1 - - - - - -",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || err.Error() != ErrMalformed.Error() {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, part := range [][]byte{m.Hostname, m.AppName, m.Msg} {
			if !bytes.Contains(b, part) {
				t.Fatalf("%q is not part of the message", part)
			}
		}
		if m.Pri < 0 || m.Pri > 191 || bytes.ContainsAny(m.AppName, " ") || bytes.ContainsAny(m.Hostname, " ") {
			t.Fatalf("bad header %+v", m)
		}
	})
}

// FuzzSyslogFrames feeds a random TCP stream to the frame reader: it must
// not panic, never return a frame over the limit, and end.
func FuzzSyslogFrames(f *testing.F) {
	f.Add([]byte("13 <13>b\nwith nl<13>c\r\n5 <13>d\n"))
	f.Add([]byte("99999999 x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := NewFrameReader(bytes.NewReader(b), 32)
		for n := 0; n <= len(b); n++ {
			frame, err := fr.Next()
			if err == nil {
				if len(frame) > 32 || len(frame) == 0 {
					t.Fatalf("frame of %d bytes", len(frame))
				}
				continue
			}
			if errors.Is(err, ErrFrameTooLong) {
				continue
			}
			return // EOF, framing broken
		}
		t.Fatal("more frames than bytes")
	})
}
