package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// pseudonymizeProblems checks the scrubbing, proxy and GeoIP keys.
func (c *Config) pseudonymizeProblems() []Problem {
	var ps []Problem
	add := func(key, problem, fix string) { ps = append(ps, Problem{key, problem, fix}) }
	p := c.Pseudonymize
	for _, site := range slices.Sorted(func(yield func(string) bool) {
		for s := range p.Sites {
			if !yield(s) {
				return
			}
		}
	}) {
		sp := p.Sites[site]
		key := "pseudonymize.sites." + site
		switch sp.QueryPolicy {
		case "", "redact", "keep", "drop":
		default:
			add(key+".query_policy", fmt.Sprintf("%q is not a policy", sp.QueryPolicy), "use redact, keep or drop, or leave it out for pseudonymize.query_policy")
		}
		for _, h := range sp.Hosts {
			if h == "" || strings.ContainsAny(h, "/?#@ ") {
				add(key+".hosts", fmt.Sprintf("%q is not a host name", h), "list bare host names, e.g. [www.shop.example]")
			}
		}
	}
	for _, s := range p.TrustedProxies {
		s = strings.TrimSpace(s)
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			continue
		}
		add("pseudonymize.trusted_proxies", fmt.Sprintf("%q is not a CIDR or an address", s), "use e.g. [10.0.0.0/8, 192.0.2.10, 2001:db8::/32]")
	}
	if r := p.GeoIP.Reload.D(); r < 10*time.Millisecond {
		add("pseudonymize.geoip.reload", "must be positive", "use e.g. 1m: how often the database files are checked for a new version")
	}
	return ps
}
