package ingest

import (
	"bytes"
	"unicode/utf8"
)

// Masks that replace what looks like personal data in quarantine samples.
const (
	maskIPv4  = "x.x.x.x"
	maskIPv6  = "x:x::x"
	maskDash  = "x-x-x-x"
	maskEmail = "x@x"
)

// maskLine returns line with anything IP-like and every e-mail address
// masked. It is deliberately greedy: a version number such as 1.2.3 is
// masked too, because a cut-off address looks just like it.
//
//   - IPv4: any run of digits and dots with three or more digit groups
//     ("192.0.2.1", "10.0.0", "1.2.3.4.in-addr"), also with dots written as
//     %2E.
//   - IPv6: any run of hex digits, colons and dots (colons also as %3A)
//     holding "::" or two or more colons, unless it reads as a time of day
//     ("2021:13:55:36", "13:55:36.123"), which no IPv6 address does.
//   - Addresses written with dashes or underscores, as in host names like
//     ip-10-0-0-1: four or more groups of one to three digits.
//   - E-mail addresses: local@domain.tld, also with @ written as %40.
func maskLine(line []byte) []byte {
	out := maskEmails(line)
	out = maskAddrRuns(out)
	return maskDashRuns(out)
}

// hexVal reports whether c is a hex digit.
func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

// encodedAt returns the character a %XX escape at b[i:] stands for, for the
// escapes the masker decodes ('.', ':', '@'), or 0.
func encodedAt(b []byte, i int) byte {
	if i+2 >= len(b) || b[i] != '%' {
		return 0
	}
	switch {
	case b[i+1] == '2' && (b[i+2]|0x20) == 'e':
		return '.'
	case b[i+1] == '3' && (b[i+2]|0x20) == 'a':
		return ':'
	case b[i+1] == '4' && b[i+2] == '0':
		return '@'
	}
	return 0
}

// maskAddrRuns masks IPv4 and IPv6 lookalikes. It scans maximal runs of
// hex digits, dots and colons (dots and colons possibly %-encoded).
func maskAddrRuns(b []byte) []byte {
	var out []byte
	copied := 0 // b[:copied] is in out
	var norm []byte
	var spans []int // start offset in b of each byte of norm, plus the end
	for i := 0; i < len(b); {
		c := b[i]
		if !isHex(c) && c != '.' && c != ':' {
			if e := encodedAt(b, i); e != '.' && e != ':' {
				i++
				continue
			}
		}
		// A run starts at i.
		norm, spans = norm[:0], spans[:0]
		j := i
		for j < len(b) {
			c := b[j]
			if isHex(c) || c == '.' || c == ':' {
				norm, spans = append(norm, c), append(spans, j)
				j++
				continue
			}
			if e := encodedAt(b, j); e == '.' || e == ':' {
				norm, spans = append(norm, e), append(spans, j)
				j += 3
				continue
			}
			break
		}
		spans = append(spans, j)
		if colons := bytes.Count(norm, []byte(":")); colons >= 2 && (bytes.Contains(norm, []byte("::")) || !timeLike(norm, colons)) {
			out = append(out, b[copied:i]...)
			out = append(out, maskIPv6...)
			copied = j
		} else {
			// IPv4 lookalikes: sub-runs of digits and dots.
			for k := 0; k < len(norm); {
				if !(norm[k]-'0' < 10 || norm[k] == '.') {
					k++
					continue
				}
				m, groups, inGroup := k, 0, false
				for ; m < len(norm) && (norm[m]-'0' < 10 || norm[m] == '.'); m++ {
					digit := norm[m] != '.'
					if digit && !inGroup {
						groups++
					}
					inGroup = digit
				}
				if groups >= 3 {
					out = append(out, b[copied:spans[k]]...)
					out = append(out, maskIPv4...)
					copied = spans[m]
				}
				k = m
			}
		}
		i = j
	}
	if out == nil {
		return b
	}
	return append(out, b[copied:]...)
}

// timeLike reports whether a run with the given number of colons (and no
// "::") reads as a time of day, optionally after a year: "13:55:36",
// "2021:13:55:36", "13:55:36.123". No IPv6 address has this shape: it
// needs "::" or at least six colons.
func timeLike(run []byte, colons int) bool {
	if colons > 3 {
		return false
	}
	groups := bytes.Split(run, []byte(":"))
	if n := len(groups[0]); n == 0 || n > 4 || !allDigits(groups[0]) {
		return false
	}
	for k, g := range groups[1:] {
		if k == len(groups)-2 {
			if dot := bytes.IndexByte(g, '.'); dot >= 0 {
				if frac := g[dot+1:]; len(frac) == 0 || len(frac) > 9 || !allDigits(frac) {
					return false
				}
				g = g[:dot]
			}
		}
		if len(g) != 2 || !allDigits(g) || g[0] > '5' {
			return false
		}
	}
	return true
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c-'0' >= 10 {
			return false
		}
	}
	return true
}

// maskDashRuns masks four or more groups of one to three digits joined by
// '-' or '_' (host names like ip-10-0-0-1 or 10_0_0_1.example).
func maskDashRuns(b []byte) []byte {
	var out []byte
	copied := 0
	for i := 0; i < len(b); {
		if b[i]-'0' >= 10 {
			i++
			continue
		}
		// Groups of digits separated by single dashes or underscores.
		j, groups, short := i, 0, true
		for {
			k := j
			for k < len(b) && b[k]-'0' < 10 {
				k++
			}
			groups++
			if k-j > 3 {
				short = false
			}
			j = k
			if j+1 < len(b) && (b[j] == '-' || b[j] == '_') && b[j+1]-'0' < 10 {
				j++
				continue
			}
			break
		}
		if groups >= 4 && short {
			out = append(out, b[copied:i]...)
			out = append(out, maskDash...)
			copied = j
		}
		i = j
	}
	if out == nil {
		return b
	}
	return append(out, b[copied:]...)
}

func isLocalChar(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 26 || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainChar(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 26 || c == '.' || c == '-'
}

// maskEmails masks local@domain with a dot in the domain; '@' may be
// written as %40.
func maskEmails(b []byte) []byte {
	var out []byte
	copied := 0
	for i := 0; i < len(b); i++ {
		at := 0
		switch {
		case b[i] == '@':
			at = 1
		case encodedAt(b, i) == '@':
			at = 3
		default:
			continue
		}
		l := i
		for l > copied && isLocalChar(b[l-1]) {
			l--
		}
		r := i + at
		dots := 0
		for r < len(b) && isDomainChar(b[r]) {
			if b[r] == '.' {
				dots++
			}
			r++
		}
		if l == i || dots == 0 || r-(i+at) < 3 {
			continue
		}
		out = append(out, b[copied:l]...)
		out = append(out, maskEmail...)
		copied = r
		i = r - 1
	}
	if out == nil {
		return b
	}
	return append(out, b[copied:]...)
}

// printable makes a masked line safe to show: at most max bytes, valid
// UTF-8, with control characters and invalid bytes as \xNN. It reports
// whether it cut the line short.
func printable(b []byte, max int) (string, bool) {
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, min(len(b), max)+8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		var next []byte
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20 && r != '\t', r == 0x7f:
			next = []byte{'\\', 'x', hexdigits[b[i]>>4], hexdigits[b[i]&15]}
			size = 1
		default:
			next = b[i : i+size]
		}
		if len(out)+len(next) > max {
			return string(out), true
		}
		out = append(out, next...)
		i += size
	}
	return string(out), false
}
