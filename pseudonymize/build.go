package pseudonymize

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/vakt-dev/vakt/analyze/rules/signatures"
	"github.com/vakt-dev/vakt/internal/bus"
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
	sites    map[string]sitePolicy // by site label
	proxies  TrustedProxies
	enricher Enricher
	// signatures matches exploit, probe and allow signatures; nil: the
	// built-in ones.
	signatures *Matcher
	siteNames  *siteNames // nil: nothing remembered
}

// siteNames remembers the last record site found not to be an address:
// a batch's records carry the same few, and parsing each as an address
// (bus.AddressLike) was 0.67 of 45.8 CPU-s of `vakt bench`. A site that is
// an address is never remembered: no raw IP outlives its record.
type siteNames struct{ last atomic.Pointer[string] }

// usable says whether site may label the record's event: set, and not a
// network address.
func (n *siteNames) usable(site string) bool {
	if n != nil {
		if p := n.last.Load(); p != nil && *p == site {
			return true
		}
	}
	if site == "" || bus.AddressLike(site) {
		return false
	}
	if n != nil {
		n.last.Store(&site)
	}
	return true
}

func (b *builder) matcher() *Matcher {
	if b.signatures == nil {
		return BuiltinMatcher()
	}
	return b.signatures
}

// sitePolicy is a SitePolicy ready for use.
type sitePolicy struct {
	query QueryPolicy // "" means the default
	hosts []string    // host names in hostKey form
}

// newBuilder prepares cfg's scrubbing rules; cfg must be valid.
func newBuilder(cfg Config, enricher Enricher) (builder, error) {
	proxies, err := ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return builder{}, err
	}
	b := builder{policy: cfg.WithDefaults().QueryPolicy, proxies: proxies, enricher: enricher, siteNames: &siteNames{}}
	if len(cfg.SignatureDirs) > 0 {
		set, err := signatures.Load(cfg.SignatureDirs...)
		if err != nil {
			return builder{}, err
		}
		if b.signatures, err = NewMatcher(set); err != nil {
			return builder{}, err
		}
	}
	if len(cfg.Sites) > 0 {
		b.sites = make(map[string]sitePolicy, len(cfg.Sites))
		for site, sp := range cfg.Sites {
			p := sitePolicy{query: sp.QueryPolicy}
			for _, h := range sp.Hosts {
				p.hosts = append(p.hosts, hostKey(h))
			}
			b.sites[site] = p
		}
	}
	return b, nil
}

// build fills e from r under keys; site labels records that carry none.
// The client is r.ClientIP, or for a trusted proxy the address it forwarded
// for. Flags are computed from the raw target before it is scrubbed. The
// user name, X-Forwarded-For and the IP itself are dropped, and addresses in
// the path, query, referrer and user agent become pseudonyms (freetext.go).
func (b *builder) build(keys *Keys, r *event.Raw, site string, e *event.Event) error {
	if !r.ClientIP.IsValid() {
		return errInvalidIP
	}
	ip := b.proxies.ClientIP(r.ClientIP, r.ForwardedFor)
	if b.siteNames.usable(r.Site) {
		site = r.Site
	}
	policy, sp := b.policy, b.sites[site]
	if sp.query != "" {
		policy = sp.query
	}
	internal := func(host string) bool {
		return sameHost(host, site) || sameHost(host, r.Host) || slices.ContainsFunc(sp.hosts, func(h string) bool { return sameHost(host, h) })
	}
	path, query, _ := strings.Cut(r.Target, "?")
	*e = event.Event{
		Time:         r.Time,
		Site:         site,
		ClientID:     keys.ClientID(ip),
		NetworkID:    keys.NetworkID(ip),
		IPVersion:    6,
		Epoch:        keys.Epoch(),
		Method:       r.Method,
		Path:         keys.RedactAddrs(path),
		Query:        keys.RedactAddrs(ScrubQuery(query, policy)),
		Protocol:     r.Protocol,
		Status:       r.Status,
		Bytes:        r.Bytes,
		Referrer:     keys.RedactAddrs(scrubReferrer(r.Referrer, internal, policy)),
		UserAgent:    keys.RedactAddrs(r.UserAgent),
		Host:         r.Host,
		RequestTime:  r.RequestTime,
		UpstreamTime: r.UpstreamTime,
	}
	e.Flags, e.Signature = b.matcher().Classify(r.Target, r.Referrer, r.UserAgent)
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

// ScrubReferrer scrubs an external referrer: it keeps the scheme, host (with
// port) and path, and drops user info, query and fragment, which carry
// search terms, tokens and session ids of other sites. A referrer without
// scheme and host is dropped: it is not a URL and could be anything.
func ScrubReferrer(ref string) string { return scrubReferrer(ref, nil, QueryDrop) }

// scrubReferrer scrubs ref as ScrubReferrer does, except that a referrer
// whose host internal accepts (a page of the same site) also keeps its query
// string under the site's policy, as the site's own requests do: its
// parameter names are the site's, and its values are redacted alike.
func scrubReferrer(ref string, internal func(host string) bool, policy QueryPolicy) string {
	scheme, rest, ok := strings.Cut(ref, "://")
	if !ok || !validScheme(scheme) {
		return ""
	}
	query := ""
	if end := strings.IndexAny(rest, "?#"); end >= 0 {
		if rest[end] == '?' {
			query, _, _ = strings.Cut(rest[end+1:], "#")
		}
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
	out := strings.ToLower(scheme) + "://" + authority + path
	if query != "" && internal != nil && internal(authority) {
		if q := ScrubQuery(query, policy); q != "" {
			out += "?" + q
		}
	}
	return out
}

// sameHost compares host names as a site sees them: case-insensitively,
// without port, trailing dot or a leading "www.".
func sameHost(a, b string) bool {
	a, b = hostKey(a), hostKey(b)
	return a != "" && strings.EqualFold(a, b)
}

// hostKey is host without port, trailing dot and leading "www.".
func hostKey(h string) string {
	if strings.HasPrefix(h, "[") { // [2001:db8::1]:8443
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[:i], ':') < 0 {
		h = h[:i] // host:port; a bare IPv6 address has more colons
	}
	h = strings.TrimSuffix(h, ".")
	if len(h) > 4 && strings.EqualFold(h[:4], "www.") {
		h = h[4:]
	}
	return h
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
