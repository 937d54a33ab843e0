package event

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vakt-dev/vakt/internal/jsonscan"
)

// The values of a JSON record: strings, numbers, times, durations and the
// request line, parsed without allocating where they can be.

// isAbsent reports whether a JSON string value (with quotes) is "" or "-".
func isAbsent(v []byte) bool {
	return len(v) == 2 || (len(v) == 3 && v[1] == '-')
}

// str decodes a string value; numbers and booleans are taken as written.
func str(v jsonVal) (string, error) {
	switch v.kind {
	case jsonscan.String:
		if bytes.IndexByte(v.v, '\\') < 0 && bytes.IndexByte(v.v, 0x7f) < 0 && utf8.Valid(v.v) {
			return internCommon(v.v[1 : len(v.v)-1]), nil
		}
		b, err := jsonscan.AppendUnquoteLog(nil, v.v)
		return string(b), err
	case jsonscan.Number, jsonscan.True, jsonscan.False:
		return string(v.v), nil
	}
	return "", errors.New("not a string")
}

// internCommon returns constants for frequent short values.
func internCommon(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	case "HTTP/2.0":
		return "HTTP/2.0"
	}
	return string(b)
}

// uintValue reads a non-negative integer written as a number or a string.
func uintValue(v jsonVal) (uint64, bool) {
	b := v.v
	if v.kind == jsonscan.String {
		b = b[1 : len(b)-1]
	} else if v.kind != jsonscan.Number {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	return n, err == nil
}

// jsonTime reads a time: a number of Unix seconds (milli-, micro- or
// nanoseconds when too large to be seconds), or a string holding such a
// number, RFC 3339 / ISO 8601 ($time_iso8601, Vector's timestamp) or
// $time_local ("02/Jan/2006:15:04:05 -0700").
func jsonTime(v jsonVal) (time.Time, error) {
	if v.kind == jsonscan.Number {
		return numberTime(v.v)
	}
	if v.kind != jsonscan.String {
		return time.Time{}, recErr(ReasonBadTimestamp, fieldNames[fTime])
	}
	s := v.v[1 : len(v.v)-1]
	if len(s) > 0 && (s[0] >= '0' && s[0] <= '9') && !bytes.ContainsAny(s, "-/:") {
		return numberTime(s)
	}
	if t, ok := ParseTime(s); ok {
		return t, nil
	}
	return time.Time{}, recErr(ReasonBadTimestamp, fieldNames[fTime])
}

// numberTime converts Unix seconds, or milli/micro/nanoseconds by size.
func numberTime(b []byte) (time.Time, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) {
		return time.Time{}, recErr(ReasonBadTimestamp, fieldNames[fTime])
	}
	// Seconds until the year 5138; larger values are finer units.
	switch {
	case f < 1e11:
	case f < 1e14:
		f /= 1e3
	case f < 1e17:
		f /= 1e6
	default:
		f /= 1e9
	}
	if f >= 253402300800 { // year 10000
		return time.Time{}, recErr(ReasonBadTimestamp, fieldNames[fTime])
	}
	sec, frac := math.Modf(f)
	// Microsecond precision, the precision of the wire format.
	us := math.Round(frac * 1e6)
	return time.Unix(int64(sec), int64(us)*1000).UTC(), nil
}

// ParseTime parses the textual times access logs use: RFC 3339 with or
// without fractional seconds (nginx $time_iso8601, Caddy's and shippers'
// ISO timestamps) and "02/Jan/2006:15:04:05 -0700" ($time_local, %t). The
// result is in UTC.
func ParseTime(s []byte) (time.Time, bool) {
	var (
		t   time.Time
		err error
	)
	if len(s) == 26 && s[2] == '/' {
		t, err = time.Parse("02/Jan/2006:15:04:05 -0700", string(s))
	} else {
		t, err = time.Parse(time.RFC3339Nano, string(s))
	}
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// ParseSeconds parses a duration logged in seconds, such as nginx's
// $request_time ("0.005") or Caddy's duration. nginx's
// $upstream_response_time lists one time per upstream server tried,
// separated by ", " (and " : " across internal redirects); the result is
// their sum, the total time spent waiting for upstreams. "-" entries (no
// response) count as zero; a value of only "-" or "" is Unknown with ok
// true. Resolution is a microsecond; more digits are truncated.
func ParseSeconds(b []byte) (d time.Duration, ok bool) {
	total, any := time.Duration(0), false
	for len(b) > 0 {
		// One item, then a separator.
		i := 0
		for i < len(b) && b[i] != ',' && b[i] != ':' {
			i++
		}
		item := bytes.TrimSpace(b[:i])
		switch {
		case len(item) == 1 && item[0] == '-':
		default:
			v, ok := seconds(item)
			if !ok {
				return 0, false
			}
			if total > math.MaxInt64-v {
				return 0, false
			}
			total += v
			any = true
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
		if len(bytes.TrimSpace(b)) == 0 {
			return 0, false // a trailing separator
		}
	}
	if !any {
		return Unknown, true
	}
	return total, true
}

// seconds parses "12", "0.005" or "1.5e-3" (JSON numbers) as seconds.
func seconds(b []byte) (time.Duration, bool) {
	if len(b) == 0 || len(b) > 32 || b[0] == '-' || b[0] == '+' {
		return 0, false
	}
	var us, frac int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		us = us*10 + int64(b[i]-'0')
		if us > 1e12 { // 30000 years
			return 0, false
		}
	}
	if i == 0 {
		return 0, false
	}
	us *= 1e6
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		scale := int64(1e5)
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			frac += int64(b[i]-'0') * scale
			scale /= 10
		}
		if i == start {
			return 0, false
		}
	}
	if i < len(b) {
		// Exponent notation: rare (JSON encoders of tiny floats); let
		// strconv do it.
		if b[i] != 'e' && b[i] != 'E' {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || f < 0 || f > 1e12 {
			return 0, false
		}
		return time.Duration(f*1e6) * time.Microsecond, true
	}
	return time.Duration(us+frac) * time.Microsecond, true
}

// SplitRequest splits a request line "METHOD target HTTP/x" (or "METHOD
// target") into its parts. Anything else is returned whole as the target,
// as logformat does for the text formats.
func SplitRequest(line string) (method, target, protocol string) {
	sp := -1
	for i := 0; i < len(line); i++ {
		if line[i] == ' ' {
			sp = i
			break
		}
	}
	if sp <= 0 || sp == len(line)-1 || !isToken(line[:sp]) {
		return "", line, ""
	}
	last := len(line) - 1
	for last > sp && line[last] != ' ' {
		last--
	}
	if last == sp {
		return internCommon([]byte(line[:sp])), line[sp+1:], ""
	}
	if len(line)-last-1 >= 5 && line[last+1:last+6] == "HTTP/" {
		return internCommon([]byte(line[:sp])), line[sp+1 : last], internCommon([]byte(line[last+1:]))
	}
	return "", line, ""
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return len(s) > 0
}
