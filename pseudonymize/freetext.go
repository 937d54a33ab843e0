package pseudonymize

import (
	"net/netip"
	"strings"
)

// Addresses in free text. A user agent "curl/8 from 203.0.113.99", a
// referrer "http://198.51.100.7:8080/x" or a path "/whois/2001:db8::1"
// carries an address as written; stored so, it would break "no raw IP at
// rest". RedactAddrs replaces each IPv4 and IPv6 literal with the address's
// pseudonym of the epoch, "ip-" and the client id as 16 lower-case hex
// digits: the same function as the client_id column, so an analyst can
// group the address in a user agent with the same client's requests
// (docs/privacy.md). IPv4-mapped IPv6 addresses get their IPv4 pseudonym.
//
// What is an address:
//   - IPv4: four dot-separated decimal numbers of at most three digits, each
//     at most 255 (leading zeros allowed), not part of a longer dotted number
//     ("1.2.3.4.5" is a version or an OID) and not next to another digit.
//     Version strings that are valid addresses ("Version/1.2.3.4") are
//     replaced: privacy wins. One exception: a number right after '/' whose
//     last two parts are 0 ("Chrome/120.0.0.0", the reduced user agent of
//     every Chromium browser) is kept; it is the network address of a /16,
//     which is not a client's.
//   - IPv6: a whole token of letters, digits, ':' and '.' (so "LWP::Simple"
//     and "12:30:00" are not addresses) with at least two ':' that
//     netip.ParseAddr accepts, after dropping trailing dots; failing that, the
//     longest run of whole ':'-separated fields of hex digits in it that is
//     one ("client:2001:db8::1"). A zone ("%eth0") is left in place.
//
// The unspecified address "::" (a separator in titles: "Shop :: Cart") is no
// client's and is left alone; so is 0.0.0.0, for the same reason.
//
// Not covered: percent-encoded addresses ("2001%3Adb8%3A%3A1"), and
// addresses in the Host field (the server's own name or address).
//
// Cost: text without three dots or two colons is returned at once (two
// vectorised byte counts); other text is scanned once and copied only when
// it holds an address.

// pseudonymPrefix starts the pseudonym of an address in free text.
const pseudonymPrefix = "ip-"

// RedactAddrs returns s with every IP literal replaced by its pseudonym
// under k. Text without an address is returned as is, without allocating.
func (k *Keys) RedactAddrs(s string) string {
	dots, colons := strings.Count(s, "."), strings.Count(s, ":")
	if dots < 3 && colons < 2 || len(s) < 2 {
		return s // no address fits
	}
	if colons < 2 {
		return k.redactV4(s)
	}
	var out []byte // nil until the first replacement
	last := 0      // s[last:] is not yet copied to out
	for i := 0; i < len(s); {
		if !isTokenByte(s[i]) {
			i++
			continue
		}
		j, colons, dots := i, 0, 0 // of this token
		for ; j < len(s) && isTokenByte(s[j]); j++ {
			switch s[j] {
			case ':':
				colons++
			case '.':
				dots++
			}
		}
		if colons >= 2 {
			v6Spans(s, i, j, func(a netip.Addr, start, end int) {
				out = grow(out, len(s))
				out = append(out, s[last:start]...)
				out = k.appendPseudonym(out, a)
				last = end
			})
		}
		if dots >= 3 {
			out, last = k.redactV4Run(out, s, last, max(i, last), j)
		}
		i = j
	}
	if out == nil {
		return s
	}
	return string(append(out, s[last:]...))
}

// grow gives the output buffer room for the whole text at the first
// replacement (a pseudonym is at most 4 bytes longer than an IPv4 literal).
func grow(out []byte, n int) []byte {
	if out == nil {
		return make([]byte, 0, n+32)
	}
	return out
}

// redactV4 is RedactAddrs for text that can hold no IPv6 literal: it visits
// only the dots, so a user agent costs a few byte searches.
func (k *Keys) redactV4(s string) string {
	var out []byte
	last := 0
	for i := 0; ; {
		d := strings.IndexByte(s[i:], '.')
		if d < 0 {
			break
		}
		d += i
		if d == 0 || !isDigit(s[d-1]) || d+1 >= len(s) || !isDigit(s[d+1]) {
			i = d + 1
			continue
		}
		// The run of digits and dots around it.
		from, to := d, d
		for from > last && (isDigit(s[from-1]) || s[from-1] == '.') {
			from--
		}
		for to < len(s) && (isDigit(s[to]) || s[to] == '.') {
			to++
		}
		out, last = k.redactV4Run(out, s, last, from, to)
		i = to
	}
	if out == nil {
		return s
	}
	return string(append(out, s[last:]...))
}

// redactV4Run replaces the IPv4 literals in s[from:to] (a run that may hold
// several), copying what precedes each into out from s[last:]; it returns
// out and the new last.
func (k *Keys) redactV4Run(out []byte, s string, last, from, to int) ([]byte, int) {
	for p := from; p < to; {
		a, start, end, ok := nextV4(s, p, to)
		if !ok {
			break
		}
		out = grow(out, len(s))
		out = append(out, s[last:start]...)
		out = k.appendPseudonym(out, a)
		last, p = end, end
	}
	return out, last
}

// appendPseudonym appends "ip-" and the client id of a in 16 hex digits.
func (k *Keys) appendPseudonym(b []byte, a netip.Addr) []byte {
	const hexDigits = "0123456789abcdef"
	id := k.ClientID(a)
	b = append(b, pseudonymPrefix...)
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[id>>uint(shift)&0xf])
	}
	return b
}

// isTokenByte reports the bytes of a token that may be an IPv6 literal.
func isTokenByte(c byte) bool {
	return tokenBytes[c]
}

var tokenBytes = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	t['.'], t[':'] = true, true
	return t
}()

// maxV6Fields bounds the ':'-separated fields of an IPv6 literal
// ("1:2:3:4:5:6:7::" has nine), so that a long token costs linear time.
const maxV6Fields = 9

// v6Spans calls fn for each IPv6 literal in the token s[from:to], in order:
// the whole token if it is one, else each longest run of whole
// ':'-separated fields, starting earliest, made of hex digits and dots
// ("client:2001:db8::1"). Trailing dots are dropped. Linear in the token.
func v6Spans(s string, from, to int, fn func(a netip.Addr, start, end int)) {
	if a, end, ok := parseV6(s, from, to); ok {
		fn(a, from, end)
		return
	}
	// Field i is s[starts[i]:starts[i+1]-1]; hexRun[i] counts the hex
	// fields from i on.
	starts := make([]int, 0, 16)
	for f := from; ; {
		starts = append(starts, f)
		e := strings.IndexByte(s[f:to], ':')
		if e < 0 {
			break
		}
		f += e + 1
	}
	n := len(starts)
	starts = append(starts, to+1)
	hexRun := make([]int, n+1)
	for i := n - 1; i >= 0; i-- {
		if isHexField(s[starts[i] : starts[i+1]-1]) {
			hexRun[i] = hexRun[i+1] + 1
		}
	}
	for a := 0; a < n; a++ {
		for b := a + min(hexRun[a], maxV6Fields) - 1; b >= a+2; b-- {
			if ip, end, ok := parseV6(s, starts[a], starts[b+1]-1); ok {
				fn(ip, starts[a], end)
				a = b // go on after it
				break
			}
		}
	}
}

func isHexField(f string) bool {
	for i := 0; i < len(f); i++ {
		if !isHexOrDot(f[i]) {
			return false
		}
	}
	return true
}

// parseV6 parses s[from:to], less trailing dots, as an IPv6 address with at
// least two colons and returns where it ends.
func parseV6(s string, from, to int) (netip.Addr, int, bool) {
	for to > from && s[to-1] == '.' {
		to--
	}
	if strings.Count(s[from:to], ":") < 2 {
		return netip.Addr{}, 0, false
	}
	a, err := netip.ParseAddr(s[from:to])
	if err != nil || !a.Is6() || a.IsUnspecified() {
		return netip.Addr{}, 0, false
	}
	return a, to, true
}

func isHexOrDot(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// nextV4 finds the first IPv4 literal in s[from:to] and returns it with its
// bounds in s. Dotted numbers are read whole, so that a version such as
// "120.0.6099.109" or "1.2.3.4.5" is never cut into an address.
func nextV4(s string, from, to int) (netip.Addr, int, int, bool) {
	for i := from; i < to; {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// A dotted number: digits ('.' digits)*.
		start := i
		var parts [4]int
		n, ok := 0, true
		for {
			v, d := 0, 0
			for ; i < to && isDigit(s[i]); i++ {
				v = v*10 + int(s[i]-'0')
				d++
				if d > 3 {
					ok = false
				}
			}
			if n < 4 {
				parts[n] = v
			}
			n++
			if v > 255 {
				ok = false
			}
			if i+1 < to && s[i] == '.' && isDigit(s[i+1]) {
				i++
				continue
			}
			break
		}
		if !ok || n != 4 {
			continue
		}
		if start > 0 && s[start-1] == '/' && parts[2] == 0 && parts[3] == 0 || parts == [4]int{} {
			continue // Chrome/120.0.0.0: a version; 0.0.0.0: no one
		}
		a := netip.AddrFrom4([4]byte{byte(parts[0]), byte(parts[1]), byte(parts[2]), byte(parts[3])})
		return a, start, i, true
	}
	return netip.Addr{}, 0, 0, false
}
