package pseudonymize

import (
	"errors"
	"fmt"
	"strings"
	"time"
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

// Config configures the pseudonymise stage. Zero values take the defaults.
type Config struct {
	// EpochLength is how long one salt is used. Epoch k covers
	// [k·EpochLength, (k+1)·EpochLength) of Unix time, so 24h epochs start at
	// UTC midnight. Every replica must use the same value.
	EpochLength time.Duration `yaml:"epoch_length"`
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

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.EpochLength == 0 {
		c.EpochLength = DefaultEpochLength
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.FetchBatch == 0 {
		c.FetchBatch = DefaultFetchBatch
	}
	if c.QueryPolicy == "" {
		c.QueryPolicy = DefaultQueryPolicy
	}
	if c.GeoIP.Reload == 0 {
		c.GeoIP.Reload = DefaultGeoIPReload
	}
	return c
}

// Validate reports every invalid field, naming the configuration key and the
// fix. Zero values are valid: they mean the default.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	switch {
	case c.EpochLength < 0:
		bad("pseudonymize.epoch_length is %s: it must be positive; leave it unset for %s", c.EpochLength, DefaultEpochLength)
	case c.EpochLength == 0:
	case c.EpochLength < time.Second || c.EpochLength%time.Second != 0:
		bad("pseudonymize.epoch_length is %s: use a whole number of seconds, at least 1s (default %s)", c.EpochLength, DefaultEpochLength)
	}
	if c.Grace < 0 {
		bad("pseudonymize.grace is %s: it must be positive; leave it unset for %s", c.Grace, DefaultGrace)
	} else if c.Grace != 0 && c.Grace < time.Second {
		// Grace must cover clock skew between replicas: a replica whose
		// clock lags could otherwise still be using a salt another one has
		// destroyed.
		bad("pseudonymize.grace is %s: use at least 1s, and more than the clock skew between replicas (default %s)", c.Grace, DefaultGrace)
	}
	if c.Workers < 0 || c.Workers > maxWorkers {
		bad("pseudonymize.workers is %d: use 1 to %d, or leave it unset for %d", c.Workers, maxWorkers, DefaultWorkers)
	}
	if c.FetchBatch < 0 || c.FetchBatch > maxFetchBatch {
		bad("pseudonymize.fetch_batch is %d: use 1 to %d (the consumer's max ack pending), or leave it unset for %d", c.FetchBatch, maxFetchBatch, DefaultFetchBatch)
	}
	switch c.QueryPolicy {
	case "", QueryRedact, QueryKeep, QueryDrop:
	default:
		bad("pseudonymize.query_policy is %q: use %q, %q or %q", c.QueryPolicy, QueryRedact, QueryKeep, QueryDrop)
	}
	for site, sp := range c.Sites {
		switch sp.QueryPolicy {
		case "", QueryRedact, QueryKeep, QueryDrop:
		default:
			bad("pseudonymize.sites.%s.query_policy is %q: use %q, %q or %q, or leave it out for pseudonymize.query_policy",
				site, sp.QueryPolicy, QueryRedact, QueryKeep, QueryDrop)
		}
		for _, h := range sp.Hosts {
			if h == "" || strings.ContainsAny(h, "/?#@ ") {
				bad("pseudonymize.sites.%s.hosts has %q: list bare host names, e.g. www.shop.example", site, h)
			}
		}
	}
	if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if c.GeoIP.Reload < 0 || (c.GeoIP.Reload > 0 && c.GeoIP.Reload < 10*time.Millisecond) {
		bad("pseudonymize.geoip.reload is %s: use a positive interval such as 1m (the default)", c.GeoIP.Reload)
	}
	return errors.Join(errs...)
}
