package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/enforce"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// enforceStage is the decision endpoint with its listener.
type enforceStage struct {
	ep *enforce.Endpoint
	ln net.Listener
}

func (s enforceStage) Run(ctx context.Context) error { return s.ep.Run(ctx, s.ln) }

// startEnforce builds the decision endpoint of `vakt run` (enforce.listen
// set): as vakt_enforce, which may read the salts, not raw events. It
// returns what to print about it.
func startEnforce(ctx context.Context, cfg config.Config, eng *Engines, log *slog.Logger, m *metrics.Pipeline) (Stage, string, error) {
	js, err := eng.StageJS(bus.StageEnforce)
	if err != nil {
		return nil, "", err
	}
	ec := cfg.Enforce.WithDefaults()
	var key, hint string
	if ec.Auth == "key" {
		if key, err = secrets.Ensure(cfg.DataDir, enforce.KeyName); err != nil {
			return nil, "", fmt.Errorf("enforce: shared key: %w", err)
		}
		hint = fmt.Sprintf(" (send %s: <%s>)", enforce.HeaderKey, secrets.Path(cfg.DataDir, enforce.KeyName))
	}
	var geo *pseudonymize.GeoIP
	if gc := cfg.Pseudonymize.GeoIP; gc.ASNDB != "" {
		if geo, err = pseudonymize.NewGeoIP(gc, log); err != nil {
			return nil, "", fmt.Errorf("enforce: %w", err)
		}
	}
	ep, err := enforce.New(ctx, ec, enforce.Deps{
		JS: js, Pseudonymize: cfg.Pseudonymize, GeoIP: geo, Key: key, Replicas: cfg.Streams.Replicas,
		Metrics: metrics.NewEnforce(m.Registry), Log: log,
	})
	if err != nil {
		return nil, "", err
	}
	ln, err := ep.Listen()
	if err != nil {
		return nil, "", err
	}
	addr := ec.Listen
	if ln.Addr().Network() == "tcp" {
		addr = "http://" + ln.Addr().String()
	}
	return enforceStage{ep, ln}, addr + hint, nil
}

// WithDecisions runs f on the decisions bucket as vakt_enforce (which may
// read the salts, for --ip): `vakt decisions` (enforce's commands).
func WithDecisions(ctx context.Context, cfg config.Config, log *slog.Logger, f func(enforce.CommandEnv) error) error {
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageEnforce}, "decisions", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	ds, err := enforce.OpenDecisions(ctx, eng.JS, cfg.Streams.Replicas)
	if err != nil {
		return err
	}
	return f(enforce.CommandEnv{JS: eng.JS, Pseudonymize: cfg.Pseudonymize, Decisions: ds})
}

// decisionSink turns the alert loop's bans into decisions: on every site
// (an attacker of one site is one of all), from the offender's
// pseudonymous id and epoch, or its AS.
type decisionSink struct{ ds *enforce.Decisions }

func (s decisionSink) Ban(ctx context.Context, al analyze.Alert, a analyze.Action) error {
	now := time.Now().UTC()
	d := enforce.Decision{
		Scope: al.Scope, ID: al.Offender, Epoch: al.Epoch, Rule: al.Rule, Category: al.Category,
		Status: a.Status, Origin: enforce.OriginRule, Created: now, Expires: now.Add(a.Duration),
	}
	if d.Scope == enforce.ScopeASN {
		d.Epoch = 0
	}
	_, err := s.ds.Put(ctx, d)
	return err
}
