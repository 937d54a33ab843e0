package httpguard

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

var (
	urlRE   = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>()]+`)
	tokenRE = regexp.MustCompile(`[\[\]0-9A-Za-z:._%-]+`)
)

// maxStateLen bounds one state in the answer.
const maxStateLen = 300

// NoAddresses replaces what may be an address in an error message (the
// endpoint that failed, an IP ClickHouse quotes from a value) by
// "<address>", and shortens it: an open endpoint (/readyz) answers anyone who can connect.
func NoAddresses(msg string) string {
	msg = urlRE.ReplaceAllString(msg, "<address>") // URLs, with any credentials in them
	msg = tokenRE.ReplaceAllStringFunc(msg, func(tok string) string {
		t := strings.TrimRight(tok, ".:-")
		if _, err := netip.ParseAddr(strings.Trim(t, "[]")); err == nil {
			return "<address>" + tok[len(t):]
		}
		if host, port, err := net.SplitHostPort(t); err == nil && host != "" {
			if _, err := strconv.Atoi(port); err == nil {
				return "<address>" + tok[len(t):]
			}
		}
		return tok
	})
	if len(msg) > maxStateLen {
		msg = strings.ToValidUTF8(msg[:maxStateLen], "") + "…"
	}
	return msg
}
