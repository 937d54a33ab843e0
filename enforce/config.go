package enforce

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/internal/configkit"
)

// Defaults.
const (
	// DefaultSlowAnswer is the timeout of the web server snippets in
	// configs/: an answer slower than that was not waited for (the web
	// server let the request through), and is counted as such.
	DefaultSlowAnswer = 200 * time.Millisecond
	// DefaultMaxConnections bounds the endpoint's connections; web
	// servers keep a few alive per worker.
	DefaultMaxConnections = 1024
	// KeyName is the generated shared secret in <data_dir>/credentials/.
	KeyName = "enforce.key"
	// unixPrefix marks a unix socket listen address.
	unixPrefix = "unix:"
)

// Config is the `enforce` section: the decision endpoint. Each yaml tag is
// the key.
type Config struct {
	// Listen is where the endpoint listens: host:port (loopback unless
	// AllowRemote) or unix:/path/to.sock; empty: no endpoint.
	Listen string `yaml:"listen"`
	// Auth is "key" (the default: web servers send the shared secret of
	// <data_dir>/credentials/enforce.key as X-Vakt-Key) or "none" (only on
	// a unix socket, whose file permissions are the check).
	Auth string `yaml:"auth"`
	// Allow lists CIDRs or addresses never denied (monitoring, the
	// office): checked before any decision.
	Allow []string `yaml:"allow"`
	// AllowedHosts are Host names the endpoint answers to besides loopback
	// names and its listen address.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowRemote lets Listen be a non-loopback address: any caller that
	// has the key can ask about any address, so keep it on loopback.
	AllowRemote bool `yaml:"allow_remote"`
	// SlowAnswer is the web servers' timeout for an answer: slower answers
	// are counted in vakt_enforce_slow_answers_total (the web server
	// failed open on them).
	SlowAnswer time.Duration `yaml:"slow_answer"`
	// MaxConnections bounds open connections.
	MaxConnections int `yaml:"max_connections"`
}

// Defaults returns the documented defaults: the one place they are set.
func Defaults() Config {
	return Config{Auth: "key", Allow: []string{}, AllowedHosts: []string{}, SlowAnswer: DefaultSlowAnswer, MaxConnections: DefaultMaxConnections}
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	configkit.FillZero(&c, Defaults())
	return c
}

// Enabled reports whether an endpoint is configured.
func (c Config) Enabled() bool { return c.Listen != "" }

// unixPath returns the socket path of a unix:PATH listen address.
func (c Config) unixPath() (string, bool) { return strings.CutPrefix(c.Listen, unixPrefix) }

// Problems lists every invalid key of the enforce section, as written.
func (c Config) Problems() configkit.Problems {
	var ps configkit.Problems
	if c.Listen != "" {
		if path, ok := c.unixPath(); ok {
			if !strings.HasPrefix(path, "/") {
				ps.Add("enforce.listen", fmt.Sprintf("%q is not an absolute socket path", c.Listen), "use e.g. unix:/run/vakt/enforce.sock")
			}
		} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			ps.Add("enforce.listen", fmt.Sprintf("%q is not host:port or unix:/path", c.Listen), "use e.g. 127.0.0.1:9465 or unix:/run/vakt/enforce.sock")
		} else if !configkit.LoopbackAddr(c.Listen) && !c.AllowRemote {
			ps.Add("enforce.listen", fmt.Sprintf("%q is not a loopback address: anyone who reaches it with the key can ask whether any address is banned", c.Listen),
				"listen on 127.0.0.1 or a unix socket on the web server's host, or set enforce.allow_remote: true behind a private network")
		}
	}
	switch c.Auth {
	case "key":
	case "none":
		if _, unix := c.unixPath(); c.Listen != "" && !unix {
			ps.Add("enforce.auth", "is none on a TCP listener: any local process could query it", "use enforce.auth: key (the default), or listen on a unix socket")
		}
	default:
		ps.Add("enforce.auth", fmt.Sprintf("%q is not an authentication mode", c.Auth), "use key (the default) or none (unix sockets only)")
	}
	if _, err := ParseAllow(c.Allow); err != nil {
		ps.Add("enforce.allow", err.Error(), "list CIDRs or addresses, e.g. [192.0.2.0/24, 2001:db8::1]")
	}
	for _, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			ps.Add("enforce.allowed_hosts", fmt.Sprintf("%q is not a host name or address", h), "list bare host names, e.g. vakt.internal")
		}
	}
	if c.SlowAnswer <= 0 {
		ps.Add("enforce.slow_answer", fmt.Sprintf("%s must be positive", c.SlowAnswer), "use the web server snippet's timeout, e.g. 200ms (the default)")
	}
	if c.MaxConnections < 1 {
		ps.Add("enforce.max_connections", fmt.Sprintf("%d connections", c.MaxConnections), fmt.Sprintf("use a positive number (default %d)", DefaultMaxConnections))
	}
	return ps
}

// ParseAllow parses the allow list: CIDRs and single addresses.
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		return nil, fmt.Errorf("%q is not a CIDR or an address", s)
	}
	return out, nil
}
