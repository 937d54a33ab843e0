package enforce

import (
	"context"
	"fmt"
	"net"

	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// Listening is an endpoint with its listener: a stage of `vakt run`.
type Listening struct {
	ep *Endpoint
	ln net.Listener
}

// Run serves until ctx ends (Endpoint.Run).
func (s Listening) Run(ctx context.Context) error { return s.ep.Run(ctx, s.ln) }

// Start builds the endpoint of a running vakt on the data dir dataDir and
// opens its listener. It fills in what d leaves out: the shared key
// (enforce.auth: key, generated under dataDir) and the GeoIP databases of
// d.Pseudonymize. It returns what to print about the endpoint: where it
// listens, and how to send the key.
func Start(ctx context.Context, cfg Config, dataDir string, d Deps) (Listening, string, error) {
	ec := cfg.WithDefaults()
	var hint string
	if ec.Auth == "key" && d.Key == "" {
		var err error
		if d.Key, err = secrets.Ensure(dataDir, KeyName); err != nil {
			return Listening{}, "", fmt.Errorf("enforce: shared key: %w", err)
		}
		hint = fmt.Sprintf(" (send %s: <%s>)", HeaderKey, secrets.Path(dataDir, KeyName))
	}
	if gc := d.Pseudonymize.GeoIP; d.GeoIP == nil && gc.ASNDB != "" {
		var err error
		if d.GeoIP, err = pseudonymize.NewGeoIP(gc, d.Log); err != nil {
			return Listening{}, "", fmt.Errorf("enforce: %w", err)
		}
	}
	ep, err := New(ctx, ec, d)
	if err != nil {
		return Listening{}, "", err
	}
	ln, err := ep.Listen()
	if err != nil {
		return Listening{}, "", err
	}
	addr := ec.Listen
	if ln.Addr().Network() == "tcp" {
		addr = "http://" + ln.Addr().String()
	}
	return Listening{ep, ln}, addr + hint, nil
}
