package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPseudonymizeProblems(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		keys   []string
	}{
		{"valid", func(c *Config) {
			c.Pseudonymize.Sites = map[string]PseudonymizeSite{"shop.example": {QueryPolicy: "keep", Hosts: []string{"www.shop.example"}}, "blog": {}}
			c.Pseudonymize.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.10", "2001:db8::/32"}
		}, nil},
		{"site policy", func(c *Config) {
			c.Pseudonymize.Sites = map[string]PseudonymizeSite{"shop.example": {QueryPolicy: "hash"}}
		}, []string{"pseudonymize.sites.shop.example.query_policy"}},
		{"site hosts", func(c *Config) {
			c.Pseudonymize.Sites = map[string]PseudonymizeSite{"b": {Hosts: []string{"https://b.example/"}}}
		}, []string{"pseudonymize.sites.b.hosts"}},
		{"proxies", func(c *Config) {
			c.Pseudonymize.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33", "proxy.local"}
		}, []string{"pseudonymize.trusted_proxies", "pseudonymize.trusted_proxies"}},
		{"geoip reload", func(c *Config) { c.Pseudonymize.GeoIP.Reload = 0 }, []string{"pseudonymize.geoip.reload"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mutate(&c)
			ps := c.Problems()
			if len(ps) != len(tc.keys) {
				t.Fatalf("problems %v, want keys %v", ps, tc.keys)
			}
			for i, p := range ps {
				if p.Key != tc.keys[i] || p.Fix == "" {
					t.Errorf("problem %v, want key %s with a fix", p, tc.keys[i])
				}
			}
		})
	}
}

func TestPseudonymizeKeysLoad(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte(`pseudonymize:
  sites:
    shop.example: {query_policy: keep, hosts: [www.shop.example]}
  trusted_proxies: [10.0.0.0/8]
  geoip: {country_db: /geo/c.mmdb, asn_db: /geo/a.mmdb, reload: 30s}
`), 0o600)
	c, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pseudonymize
	if p.Sites["shop.example"].QueryPolicy != "keep" || p.Sites["shop.example"].Hosts[0] != "www.shop.example" ||
		p.TrustedProxies[0] != "10.0.0.0/8" || p.GeoIP.CountryDB != "/geo/c.mmdb" || p.GeoIP.ASNDB != "/geo/a.mmdb" ||
		p.GeoIP.Reload != 30*time.Second || p.QueryPolicy != "redact" {
		t.Fatalf("loaded %+v", p)
	}
}
