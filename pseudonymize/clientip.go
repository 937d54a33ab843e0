package pseudonymize

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries are examined, so
// that a client cannot make each request cost more by sending a long chain.
const maxForwardedHops = 32

// TrustedProxies are the networks whose X-Forwarded-For is believed: load
// balancers and reverse proxies in front of the web server.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8", "2001:db8::/32") and
// single addresses, which mean just that address. IPv4-mapped IPv6 forms
// are taken as IPv4.
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var out TrustedProxies
	var errs []error
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			if p.Addr().Is4In6() {
				if p.Bits() < 96 {
					errs = append(errs, fmt.Errorf("pseudonymize.trusted_proxies: %q mixes IPv4-mapped and plain IPv6; write the IPv4 network", s))
					continue
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("pseudonymize.trusted_proxies: %q is not a CIDR or an address; use e.g. 10.0.0.0/8, 192.0.2.10 or 2001:db8::/32", s))
	}
	return out, errors.Join(errs...)
}

// Contains reports whether a is in one of the networks.
func (t TrustedProxies) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP picks the address a request is attributed to. The connecting
// address (remote) is the client unless it is a trusted proxy; then the
// X-Forwarded-For chain is read from the right, where each trusted proxy
// appended the address it saw, and the first address that is not itself
// trusted is the client. Entries that are not addresses ("unknown",
// obfuscated names, garbage) are skipped. When every address in the chain
// is trusted, the left-most is the client; with no usable entry at all,
// remote is. Anything left of the client is the client's own claim and is
// never believed. The result is unmapped (IPv4-mapped IPv6 becomes IPv4).
func (t TrustedProxies) ClientIP(remote netip.Addr, forwardedFor string) netip.Addr {
	remote = remote.Unmap()
	if len(t) == 0 || forwardedFor == "" || !t.Contains(remote) {
		return remote
	}
	last := netip.Addr{} // left-most usable entry so far
	rest := forwardedFor
	for hops := 0; rest != "" && hops < maxForwardedHops; hops++ {
		var entry string
		if i := strings.LastIndexByte(rest, ','); i >= 0 {
			rest, entry = rest[:i], rest[i+1:]
		} else {
			rest, entry = "", rest
		}
		a, ok := parseForwarded(entry)
		if !ok {
			continue
		}
		if !t.Contains(a) {
			return a
		}
		last = a
	}
	if last.IsValid() {
		return last
	}
	return remote
}

// parseForwarded parses one X-Forwarded-For entry: an address, optionally
// with a port ("192.0.2.1:4711", "[2001:db8::1]:4711"), quoted, or in the
// RFC 7239 "for=" form some proxies write.
func parseForwarded(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 4 && strings.EqualFold(s[:4], "for=") {
		s = s[4:]
	}
	s = strings.Trim(s, `"`)
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	var a netip.Addr
	if v, err := netip.ParseAddr(s); err == nil {
		a = v
	} else if ap, err := netip.ParseAddrPort(s); err == nil {
		a = ap.Addr()
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if v, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && v.Is6() {
			a = v
		}
	}
	// A zone names a local interface and 0.0.0.0 or :: no host at all:
	// neither can be a client.
	if !a.IsValid() || a.Zone() != "" || a.IsUnspecified() {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
