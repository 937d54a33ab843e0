package logformat

import (
	"bytes"
	"net/netip"
	"time"
	"unicode/utf8"
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isDigit(c byte) bool { return c-'0' < 10 }

func isDash(b []byte) bool { return len(b) == 1 && b[0] == '-' }

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// parseIP parses a client address. IPv4 is parsed by hand to avoid a string
// allocation per line; IPv6 goes through netip. Zoned addresses are refused:
// they are link-local, never a web client, and do not survive the binary
// encoding of event.Raw.
func parseIP(b []byte) (netip.Addr, bool) {
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	if bytes.IndexByte(b, ':') < 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// parseIPv4 accepts dotted decimal with no leading zeros, like netip.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	i := 0
	for k := range 4 {
		if k > 0 {
			if i >= len(b) || b[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		start := i
		v := 0
		for i < len(b) && isDigit(b[i]) && i-start < 3 {
			v = v*10 + int(b[i]-'0')
			i++
		}
		n := i - start
		if n == 0 || v > 255 || (n > 1 && b[start] == '0') {
			return netip.Addr{}, false
		}
		ip[k] = byte(v)
	}
	if i != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// tsLen is the length of "02/Jan/2006:15:04:05 -0700".
const tsLen = 26

// parseTime parses Apache's and nginx's %t / $time_local layout by hand.
// time.Parse would do, but it interprets the layout on every call and costs
// several times the rest of the line; this is a fixed-offset scan.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) != tsLen || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' ||
		b[17] != ':' || b[20] != ' ' || (b[21] != '+' && b[21] != '-') {
		return time.Time{}, false
	}
	day, ok1 := num(b[0:2])
	year, ok2 := num(b[7:11])
	hour, ok3 := num(b[12:14])
	minute, ok4 := num(b[15:17])
	sec, ok5 := num(b[18:20])
	oh, ok6 := num(b[22:24])
	om, ok7 := num(b[24:26])
	month := monthOf(b[3], b[4], b[5])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || month == 0 ||
		day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 ||
		oh > 23 || om > 59 {
		return time.Time{}, false
	}
	offset := int64(oh*3600 + om*60)
	if b[21] == '-' {
		offset = -offset
	}
	unix := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - offset
	return time.Unix(unix, 0).UTC(), true
}

func num(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func monthOf(a, b, c byte) int {
	switch uint32(a)<<16 | uint32(b)<<8 | uint32(c) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9
	case 'O'<<16 | 'c'<<8 | 't':
		return 10
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm). year is 0..9999 here.
func daysFromCivil(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := int64((month + 9) % 12)
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseSize parses %b: "-" or a decimal that fits in 64 bits.
func parseSize(b []byte) (uint64, bool) {
	if isDash(b) {
		return 0, true
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// closingQuote returns the index of the '"' that ends the quoted field
// starting at from, skipping quotes escaped with a backslash (an odd run of
// backslashes before the quote), or -1.
func closingQuote(line []byte, from int) int {
	for i := from; ; {
		j := bytes.IndexByte(line[i:], '"')
		if j < 0 {
			return -1
		}
		k := i + j
		n := 0
		for m := k - 1; m >= from && line[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return k
		}
		i = k + 1
	}
}

// reqParts are the bounds of method, target and protocol within a request
// line; empty ranges for absent parts.
type reqParts struct{ m0, m1, t0, t1, p0, p1 int }

// splitRequest splits "METHOD target HTTP/x" (or "METHOD target"). Any other
// request text is kept whole as the target with no method, unless it holds
// control characters; see ParseCombined.
func splitRequest(req []byte) (reqParts, bool) {
	if len(req) == 0 || isDash(req) {
		return reqParts{}, true
	}
	if sp := bytes.IndexByte(req, ' '); sp > 0 && sp < len(req)-1 && isToken(req[:sp]) {
		rest := sp + 1
		last := bytes.LastIndexByte(req, ' ')
		if last < rest {
			// HTTP/0.9: no protocol.
			return reqParts{m1: sp, t0: rest, t1: len(req), p0: len(req), p1: len(req)}, true
		}
		if bytes.HasPrefix(req[last+1:], []byte("HTTP/")) {
			return reqParts{m1: sp, t0: rest, t1: last, p0: last + 1, p1: len(req)}, true
		}
	}
	for _, c := range req {
		if c < 0x20 || c == 0x7f {
			return reqParts{}, false
		}
	}
	return reqParts{t1: len(req), p0: len(req), p1: len(req)}, true
}

// isToken reports whether b is an RFC 9110 token, the syntax of a method.
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tchar[c] {
			return false
		}
	}
	return len(b) > 0
}

var tchar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// internMethod and internProtocol return constants for the common values so
// that batches of records share them; s is the fallback copy.
func internMethod(b []byte, s string) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	case "PATCH":
		return "PATCH"
	case "":
		return ""
	}
	return s
}

func internProtocol(b []byte, s string) string {
	switch string(b) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	case "HTTP/2.0":
		return "HTTP/2.0"
	case "HTTP/2":
		return "HTTP/2"
	case "HTTP/3":
		return "HTTP/3"
	case "":
		return ""
	}
	return s
}
