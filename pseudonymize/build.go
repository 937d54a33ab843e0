package pseudonymize

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/vakt-dev/vakt/internal/event"
)

// Enricher adds what can only be learned from the raw IP (country, ASN) to
// an event before the IP is dropped. Implementations must not keep the IP.
type Enricher interface {
	Enrich(ip netip.Addr, e *event.Event)
}

// errInvalidIP rejects a record without a usable client address: it cannot
// be given an id, and storing it without one would break per-client counts.
var errInvalidIP = errors.New("invalid client ip")

// redactedKey replaces a query parameter name that does not look like a
// name, because a bare "?jane@example.com" is a value in the key's place.
const redactedKey = "~"

// maxQueryKeyLen bounds a kept parameter name; longer ones are tokens.
const maxQueryKeyLen = 64

// builder turns raw records into events.
type builder struct {
	policy   QueryPolicy
	enricher Enricher
}

// build fills e from r under keys. Flags are computed from the raw target
// before it is scrubbed. The user name, X-Forwarded-For and the IP itself are
// dropped.
func (b *builder) build(keys *Keys, r *event.Raw, e *event.Event) error {
	if !r.ClientIP.IsValid() {
		return errInvalidIP
	}
	ip := r.ClientIP.Unmap()
	path, query, _ := strings.Cut(r.Target, "?")
	*e = event.Event{
		Time:         r.Time,
		Site:         r.Site,
		ClientID:     keys.ClientID(ip),
		NetworkID:    keys.NetworkID(ip),
		IPVersion:    6,
		Epoch:        keys.Epoch(),
		Method:       r.Method,
		Path:         path,
		Query:        ScrubQuery(query, b.policy),
		Protocol:     r.Protocol,
		Status:       r.Status,
		Bytes:        r.Bytes,
		Referrer:     ScrubReferrer(r.Referrer),
		UserAgent:    r.UserAgent,
		Host:         r.Host,
		RequestTime:  r.RequestTime,
		UpstreamTime: r.UpstreamTime,
		Flags:        Flags(r.Target, r.UserAgent),
	}
	if ip.Is4() {
		e.IPVersion = 4
	}
	if b.enricher != nil {
		b.enricher.Enrich(ip, e)
	}
	return nil
}

// ScrubQuery applies policy to a query string (without the '?'). Under
// QueryRedact every value is dropped and names are kept in order:
// "a=1&b=x" becomes "a=&b=". A fragment, which clients should never send,
// is dropped under every policy but keep.
func ScrubQuery(query string, policy QueryPolicy) string {
	switch policy {
	case QueryKeep:
		return query
	case QueryDrop:
		return ""
	}
	query, _, _ = strings.Cut(query, "#")
	if query == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(query))
	first := true
	for part := range strings.SplitSeq(query, "&") {
		if !first {
			b.WriteByte('&')
		}
		first = false
		key, _, hasValue := strings.Cut(part, "=")
		if !safeQueryKey(key) {
			key = redactedKey
		}
		b.WriteString(key)
		if hasValue {
			b.WriteByte('=')
		}
	}
	return b.String()
}

// safeQueryKey accepts names made of letters, digits, "_.-" and brackets
// (plain or percent-encoded, as in filter%5Bname%5D). Anything else, such as
// '@' or other escapes, may be a value in disguise.
func safeQueryKey(k string) bool {
	if len(k) > maxQueryKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '_', c == '.', c == '-', c == '[', c == ']':
		case c == '%' && i+2 < len(k) && (k[i+1:i+3] == "5B" || k[i+1:i+3] == "5D" || k[i+1:i+3] == "5b" || k[i+1:i+3] == "5d"):
			i += 2
		default:
			return false
		}
	}
	return true
}

// ScrubReferrer keeps a referrer's scheme, host (with port) and path, and
// drops user info, query and fragment, which carry search terms, tokens and
// session ids of other sites. A referrer without scheme and host is dropped:
// it is not a URL and could be anything.
func ScrubReferrer(ref string) string {
	scheme, rest, ok := strings.Cut(ref, "://")
	if !ok || !validScheme(scheme) {
		return ""
	}
	end := strings.IndexAny(rest, "?#")
	if end >= 0 {
		rest = rest[:end]
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, `/\`); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:] // user:password@
	}
	if authority == "" {
		return ""
	}
	return strings.ToLower(scheme) + "://" + authority + path
}

// validScheme follows RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func validScheme(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !alpha && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}
