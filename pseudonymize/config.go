package pseudonymize

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/internal/configkit"
)

// QueryPolicy says what happens to a request's query string before storage.
type QueryPolicy string

// Query policies.
const (
	// QueryRedact keeps parameter names in order and drops every value:
	// "a=1&b=x" becomes "a=&b=". Names tell ops and security which endpoint
	// variant was hit; values carry e-mail addresses, tokens and search terms.
	QueryRedact QueryPolicy = "redact"
	// QueryKeep stores the query string as logged.
	QueryKeep QueryPolicy = "keep"
	// QueryDrop stores no query string at all.
	QueryDrop QueryPolicy = "drop"
)

// Defaults documented in DESIGN.md.
const (
	DefaultEpochLength = 24 * time.Hour
	DefaultGrace       = 48 * time.Hour
	DefaultWorkers     = 2
	DefaultFetchBatch  = 16
	DefaultQueryPolicy = QueryRedact
)

// Limits that Validate enforces.
const (
	maxWorkers = 256
	// maxFetchBatch matches the MaxAckPending bus.Ensure gives the shared
	// consumer: a larger fetch could never be filled.
	maxFetchBatch = 1024
)

// Config configures the pseudonymise stage: it is the `pseudonymize`
// section of the configuration file, and each yaml tag is the key.
type Config struct {
	// EpochLength is how long one salt is used. Epoch k covers
	// [k·EpochLength, (k+1)·EpochLength) of Unix time, so 24h epochs start at
	// UTC midnight. Every replica must use the same value.
	EpochLength time.Duration `yaml:"epoch"`
	// Grace is how long a salt outlives its epoch before it is destroyed.
	// While it lives, data-subject requests can still find an IP's rows.
	Grace time.Duration `yaml:"grace"`
	// Workers is the number of messages processed concurrently.
	Workers int `yaml:"workers"`
	// FetchBatch is how many raw messages a worker pulls per request.
	FetchBatch int `yaml:"fetch_batch"`
	// QueryPolicy is "redact" (default), "keep" or "drop".
	QueryPolicy QueryPolicy `yaml:"query_policy"`
	// Sites overrides the query policy per site label and names each site's
	// other host names, whose referrers count as the site's own.
	Sites map[string]SitePolicy `yaml:"sites"`
	// TrustedProxies are CIDRs or addresses of reverse proxies and load
	// balancers whose X-Forwarded-For is believed (TrustedProxies.ClientIP).
	// Empty: the connecting address is always the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// GeoIP configures country and ASN enrichment; used when Enricher is nil.
	GeoIP GeoIPConfig `yaml:"geoip"`
	// Enricher adds country and ASN from the raw IP, replacing GeoIP.
	Enricher Enricher `yaml:"-"`
	// SignatureDirs replace and add to the built-in signature files
	// (analyze/rules/signatures): the "signatures" directory of rules.dir,
	// set by the composition root. Empty: the built-in signatures.
	SignatureDirs []string `yaml:"-"`
}

// SitePolicy is the scrubbing of one site.
type SitePolicy struct {
	// QueryPolicy overrides Config.QueryPolicy for the site; empty keeps it.
	QueryPolicy QueryPolicy `yaml:"query_policy"`
	// Hosts are the site's host names besides its label and the request's
	// Host header, e.g. www.shop.example and shop.example: a referrer from
	// any of them is internal and keeps its query string under the site's
	// policy. Other referrers keep only scheme, host and path.
	Hosts []string `yaml:"hosts"`
}

// Defaults returns the documented defaults: the one place they are set.
func Defaults() Config {
	return Config{
		EpochLength: DefaultEpochLength,
		Grace:       DefaultGrace,
		Workers:     DefaultWorkers,
		FetchBatch:  DefaultFetchBatch,
		QueryPolicy: DefaultQueryPolicy,
		Sites:       map[string]SitePolicy{},
		// An empty list, as the example file writes it.
		TrustedProxies: []string{},
		GeoIP:          GeoIPConfig{Reload: DefaultGeoIPReload, OpenData: OpenDataAuto},
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	configkit.FillZero(&c, Defaults())
	return c
}

// Validate reports every invalid field of c with its defaults applied,
// naming the configuration key and the fix: zero values mean the default.
func (c Config) Validate() error {
	return c.WithDefaults().Problems().Err("")
}

// Problems lists every invalid key of the pseudonymize section, as
// written (a zero is not replaced by its default here).
func (c Config) Problems() configkit.Problems {
	var ps configkit.Problems
	switch {
	case c.EpochLength <= 0:
		ps.Add("pseudonymize.epoch", fmt.Sprintf("%s must be positive", c.EpochLength), fmt.Sprintf("use e.g. 24h, or leave it unset for %s", DefaultEpochLength))
	case c.EpochLength < time.Second || c.EpochLength%time.Second != 0:
		ps.Add("pseudonymize.epoch", fmt.Sprintf("%s is not a whole number of seconds", c.EpochLength), fmt.Sprintf("use a whole number of seconds, at least 1s (default %s)", DefaultEpochLength))
	}
	if c.Grace <= 0 {
		ps.Add("pseudonymize.grace", fmt.Sprintf("%s must be positive", c.Grace), fmt.Sprintf("use e.g. 48h, or leave it unset for %s", DefaultGrace))
	} else if c.Grace < time.Second {
		// Grace must cover clock skew between replicas: a replica whose
		// clock lags could otherwise still be using a salt another one has
		// destroyed.
		ps.Add("pseudonymize.grace", fmt.Sprintf("%s is too short", c.Grace), fmt.Sprintf("use at least 1s, and more than the clock skew between replicas (default %s)", DefaultGrace))
	}
	if c.Workers < 1 || c.Workers > maxWorkers {
		ps.Add("pseudonymize.workers", fmt.Sprintf("%d workers", c.Workers), fmt.Sprintf("use 1 to %d (default %d)", maxWorkers, DefaultWorkers))
	}
	if c.FetchBatch < 1 || c.FetchBatch > maxFetchBatch {
		ps.Add("pseudonymize.fetch_batch", fmt.Sprintf("%d messages", c.FetchBatch), fmt.Sprintf("use 1 to %d (the consumer's max ack pending; default %d)", maxFetchBatch, DefaultFetchBatch))
	}
	if !c.QueryPolicy.valid() {
		ps.Add("pseudonymize.query_policy", fmt.Sprintf("%q is not a policy", c.QueryPolicy), fmt.Sprintf("use %q, %q or %q (redact keeps parameter names, drops values)", QueryRedact, QueryKeep, QueryDrop))
	}
	ps = append(ps, c.siteProblems()...)
	for _, s := range c.TrustedProxies {
		if _, err := ParseTrustedProxies([]string{s}); err != nil {
			ps.Add("pseudonymize.trusted_proxies", fmt.Sprintf("%q is not a CIDR or an address", strings.TrimSpace(s)), "use e.g. [10.0.0.0/8, 192.0.2.10, 2001:db8::/32]")
		}
	}
	if c.GeoIP.Reload < 10*time.Millisecond {
		ps.Add("pseudonymize.geoip.reload", fmt.Sprintf("%s must be positive", c.GeoIP.Reload), "use e.g. 1m (the default): how often the database files are checked for a new version")
	}
	if c.GeoIP.OpenData != OpenDataAuto && c.GeoIP.OpenData != OpenDataOff {
		ps.Add("pseudonymize.geoip.open_data", fmt.Sprintf("%q is not a choice", c.GeoIP.OpenData), fmt.Sprintf("use %q (the open databases of `make geoip` for a kind with no file configured) or %q", OpenDataAuto, OpenDataOff))
	}
	return ps
}

func (p QueryPolicy) valid() bool { return p == QueryRedact || p == QueryKeep || p == QueryDrop }

// siteProblems checks the per-site overrides, in site order.
func (c Config) siteProblems() configkit.Problems {
	var ps configkit.Problems
	for _, site := range slices.Sorted(maps.Keys(c.Sites)) {
		sp, key := c.Sites[site], "pseudonymize.sites."+site
		if sp.QueryPolicy != "" && !sp.QueryPolicy.valid() {
			ps.Add(key+".query_policy", fmt.Sprintf("%q is not a policy", sp.QueryPolicy), fmt.Sprintf("use %q, %q or %q, or leave it out for pseudonymize.query_policy", QueryRedact, QueryKeep, QueryDrop))
		}
		for _, h := range sp.Hosts {
			if h == "" || strings.ContainsAny(h, "/?#@ ") {
				ps.Add(key+".hosts", fmt.Sprintf("%q is not a host name", h), "list bare host names, e.g. [www.shop.example]")
			}
		}
	}
	return ps
}
