// Package selfserve holds what the self-service page of `vakt run`
// (subject.listen) needs below the subject package: its configuration
// section and its per-client rate limit. It depends on nothing of vakt's
// stages, so that internal/config can compose it.
package selfserve

import (
	"fmt"
	"net"
	"strings"

	"github.com/vakt-dev/vakt/internal/configkit"
)

// Defaults.
const (
	// DefaultSharedAgents: an id seen with more distinct user agents than
	// this in an epoch looks shared (NAT, carrier-grade NAT), and its page
	// shows per-day counts only.
	DefaultSharedAgents = 3
	// DefaultRatePerMinute is how many page views and downloads one
	// client may make per minute.
	DefaultRatePerMinute = 10
)

// Config is the `subject` section. Each yaml tag is the key.
type Config struct {
	// Listen is where the self-service page listens (host:port); empty:
	// no page (the default). Put it behind the site's reverse proxy and
	// list that proxy in pseudonymize.trusted_proxies.
	Listen string `yaml:"listen"`
	// SharedAgents is the shared-address threshold (see DefaultSharedAgents).
	SharedAgents int `yaml:"shared_agents"`
	// RatePerMinute bounds each client's requests per minute (429 beyond).
	RatePerMinute int `yaml:"rate_per_minute"`
	// AllowedHosts are Host names the page answers to besides loopback
	// names and its listen address: the site's public name.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowPlaintextRemote lets Listen be a non-loopback address: the page
	// has no TLS of its own, and shows a visitor's browsing.
	AllowPlaintextRemote bool `yaml:"allow_plaintext_remote"`
}

// Defaults returns the documented defaults: the one place they are set.
func Defaults() Config {
	return Config{SharedAgents: DefaultSharedAgents, RatePerMinute: DefaultRatePerMinute, AllowedHosts: []string{}}
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	configkit.FillZero(&c, Defaults())
	return c
}

// Enabled reports whether the page is configured.
func (c Config) Enabled() bool { return c.Listen != "" }

// Problems lists every invalid key of the subject section, as written.
func (c Config) Problems() configkit.Problems {
	var ps configkit.Problems
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			ps.Add("subject.listen", fmt.Sprintf("%q is not host:port", c.Listen), "use e.g. 127.0.0.1:9466 behind the site's reverse proxy, or leave it empty (off)")
		} else if !configkit.LoopbackAddr(c.Listen) && !c.AllowPlaintextRemote {
			ps.Add("subject.listen", fmt.Sprintf("%q is not a loopback address: the page has no TLS and shows visitors their browsing", c.Listen),
				"listen on 127.0.0.1 behind the site's TLS reverse proxy, or set subject.allow_plaintext_remote: true when a TLS proxy on another host forwards to it")
		}
	}
	if c.SharedAgents < 1 {
		ps.Add("subject.shared_agents", fmt.Sprintf("%d user agents", c.SharedAgents), fmt.Sprintf("use a positive number (default %d)", DefaultSharedAgents))
	}
	if c.RatePerMinute < 1 {
		ps.Add("subject.rate_per_minute", fmt.Sprintf("%d requests", c.RatePerMinute), fmt.Sprintf("use a positive number (default %d)", DefaultRatePerMinute))
	}
	for _, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			ps.Add("subject.allowed_hosts", fmt.Sprintf("%q is not a host name or address", h), "list bare host names, e.g. www.example.org")
		}
	}
	return ps
}
