package subject

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/httpguard"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
)

// The data subjects' requests on a configuration file's settings, over
// connections made as vakt_subject (bus.StageSubject), the NATS user that
// may read the salt bucket.

// ParseRequest checks a request of `vakt subject` before any engine starts:
// its format, and but for records its address (returned) and reference.
func ParseRequest(action string, o CommandOptions) (netip.Addr, error) {
	if err := CheckFormat(action, o.Format); err != nil || action == "records" {
		return netip.Addr{}, err
	}
	ip, err := ParseAddr(o.IP)
	if err != nil {
		return netip.Addr{}, err
	}
	return ip, CheckReference(o.Ref)
}

// ConfiguredCommand is `vakt subject find|export|erase|restrict|unrestrict`
// (Command) and `vakt subject records` on the configuration cfg, over js
// and ch (nil for records). Every request handled leaves a record without
// the address or an id.
func ConfiguredCommand(ctx context.Context, cfg config.Config, js jetstream.JetStream, ch driver.Conn, action string, ip netip.Addr, o CommandOptions, log *slog.Logger, stdout io.Writer) error {
	if action == "records" {
		recs, err := Records(ctx, js)
		if err != nil {
			return err
		}
		return WriteRecords(recs, o.Format, stdout)
	}
	d, err := configuredDeps(ctx, cfg, js, ch, log)
	if err != nil {
		return err
	}
	rules, err := analyze.LoadRules(cfg.Rules.Dir)
	if err != nil {
		return err
	}
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.Name
	}
	return Command(ctx, CommandEnv{
		Deps: d, JS: js, Replicas: cfg.Streams.Replicas, EventsMaxAge: cfg.Streams.EventsMaxAge, AlertRules: names, Log: log,
		RowsTTL:     max(cfg.Retention.Requests.D(), cfg.Retention.ClientRollups.D(), store.DefaultRequestsTTL),
		Information: configuredInformation(cfg, ch),
	}, action, ip, o, stdout)
}

// configuredDeps are the salts (read from js's bucket) and the tables of cfg.
func configuredDeps(ctx context.Context, cfg config.Config, js jetstream.JetStream, ch driver.Conn, log *slog.Logger) (Deps, error) {
	salts, err := pseudonymize.NewSaltStore(ctx, js, cfg.Pseudonymize, log)
	if err != nil {
		return Deps{}, err
	}
	return Deps{Salts: salts, CH: ch, DB: cfg.ClickHouse.Database, Cluster: cfg.ClickHouse.Cluster}, nil
}

// configuredInformation is the information the policy owes, with the
// retention as `vakt retention` states it.
func configuredInformation(cfg config.Config, ch driver.Conn) func(context.Context) Information {
	return func(ctx context.Context) Information {
		return NewInformation(analyze.RetentionOf(ctx, ch, nil, cfg))
	}
}

// SelfServiceStage serves the visitors' page until ctx ends: a stage of
// `vakt run`.
type SelfServiceStage struct {
	ln net.Listener
	h  *SelfService
}

// Run serves the page. httpguard.Serve bounds connections, times and
// headers, and logs no connection error (they name the peer's address).
func (s SelfServiceStage) Run(ctx context.Context) error {
	stop := httpguard.Serve(s.ln, s.h.Handler(s.ln.Addr().String()), httpguard.Options{})
	<-ctx.Done()
	stop()
	return ctx.Err()
}

// StartSelfService builds the self-service page of `vakt run`
// (subject.listen set) over js and ch, and opens its listener. It returns
// the stage and the page's URL.
func StartSelfService(ctx context.Context, cfg config.Config, js jetstream.JetStream, ch driver.Conn, log *slog.Logger) (SelfServiceStage, string, error) {
	sc := cfg.Subject.WithDefaults()
	proxies, err := pseudonymize.ParseTrustedProxies(cfg.Pseudonymize.TrustedProxies)
	if err != nil {
		return SelfServiceStage{}, "", err
	}
	d, err := configuredDeps(ctx, cfg, js, ch, log)
	if err != nil {
		return SelfServiceStage{}, "", fmt.Errorf("subject.listen: %w", err)
	}
	ln, err := net.Listen("tcp", sc.Listen)
	if err != nil {
		return SelfServiceStage{}, "", fmt.Errorf("subject.listen %s: %w", sc.Listen, err)
	}
	h := NewSelfService(d, sc, proxies, configuredInformation(cfg, ch), log)
	log.Info("self-service page listening", "listen", sc.Listen)
	return SelfServiceStage{ln: ln, h: h}, "http://" + ln.Addr().String() + "/", nil
}
