package logformat

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
)

var fields = []string{fieldLine, fieldClient, fieldIdent, fieldUser, fieldTimestamp, fieldRequest,
	fieldStatus, fieldBytes, fieldReferrer, fieldUserAgent}

// FuzzParseCombined checks that ParseCombined never panics, that every
// error is a *Error with a known reason whose message is built only from
// the reason, the field name and a position (no line content), and that a
// parsed line formatted again with AppendCombined parses to the same record.
func FuzzParseCombined(f *testing.F) {
	if data, err := os.ReadFile(secrepo); err == nil {
		for _, l := range bytes.Split(data, []byte("\n"))[:50] {
			f.Add(l)
		}
	}
	for _, s := range []string{
		`1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "-" 408 0 "-" "-"`,
		`::ffff:1.2.3.4 - u s [22/Oct/2021:02:28:56 +1400] "GET /?a=\"b\\" HTTP/1.1" 200 - "r\"" "u\\"`,
		`2a00:1450::1 - - [29/Feb/2024:23:59:59 -0000] "\x16\x03\x01\x00" 400 157`,
		`1.2.3.4 - - [22/Oct/2021:02:28:56 -0700] "GET /" 200 1 "a" "b" "c" 0.1`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var r event.Raw
		err := ParseCombined(line, &r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if !slices.Contains(Reasons(), e.Reason) || ReasonOf(err) != e.Reason {
				t.Fatalf("unknown reason %q", e.Reason)
			}
			if !slices.Contains(fields, e.Field) || e.Pos < 0 || e.Pos > len(line) {
				t.Fatalf("bad field %q or position %d", e.Field, e.Pos)
			}
			want := "logformat: " + string(e.Reason) + ": field " + e.Field + " at byte " + strconv.Itoa(e.Pos)
			if err.Error() != want {
				t.Fatalf("message %q, want %q", err.Error(), want)
			}
			return
		}
		if !r.ClientIP.IsValid() || r.ClientIP.Zone() != "" || r.Time.Location() != time.UTC ||
			r.RequestTime != event.Unknown || r.UpstreamTime != event.Unknown {
			t.Fatalf("bad record %+v", r)
		}
		if r.Method == "" && r.Protocol != "" {
			t.Fatalf("protocol %q without method", r.Protocol)
		}
		out := AppendCombined(nil, &r)
		var r2 event.Raw
		if err := ParseCombined(out, &r2); err != nil {
			t.Fatalf("reformatted line %q: %v", out, err)
		}
		if r2 != r {
			t.Fatalf("round trip of %q via %q:\n%+v\n%+v", line, out, r, r2)
		}
		if !strings.Contains(string(out), r.Target) {
			t.Fatalf("target lost")
		}
	})
}
