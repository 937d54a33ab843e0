package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/enforce"
	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/subject"
)

// optionalStages says what addOptionalStages started, for the banner.
type optionalStages struct {
	sources                int
	enforceAt, selfService string
}

// addOptionalStages adds to stages the log sources, the alert loop, the
// decision endpoint and the self-service page, each when configured.
func addOptionalStages(ctx context.Context, cfg config.Config, eng *Engines, log *slog.Logger, m *metrics.Pipeline, stages map[string]Stage) (optionalStages, error) {
	var x optionalStages
	if cfg.Ingest.HasSource() {
		ijs, err := eng.StageJS(bus.StageIngest)
		if err != nil {
			return x, err
		}
		in, err := ingest.New(cfg.IngestStage(true), ijs, log, m)
		if err != nil {
			return x, err
		}
		stages["ingest"] = in
		x.sources++
	}
	if cfg.Alerts.Enabled {
		al, err := analyze.New(ctx, analyze.AlertsConfig(cfg), eng.CH, eng.NC, eng.JS, log, m)
		if err != nil {
			return x, err
		}
		if ds, err := enforce.OpenDecisions(ctx, eng.JS, cfg.Streams.Replicas); err != nil {
			log.Warn("rules' ban actions disabled: no decisions bucket", "err", err)
		} else {
			al.SetActions(decisionSink{ds})
		}
		stages["alerts"] = al
	}
	if cfg.Enforce.Enabled() {
		st, at, err := startEnforce(ctx, cfg, eng, log, m)
		if err != nil {
			return x, err
		}
		stages["enforce"], x.enforceAt = st, at
	}
	if cfg.Subject.Enabled() {
		st, at, err := startSelfService(ctx, cfg, eng, log)
		if err != nil {
			return x, err
		}
		stages["subject"], x.selfService = st, at
	}
	return x, nil
}

// startEnforce builds the decision endpoint of `vakt run` (enforce.listen
// set): as vakt_enforce, which may read the salts, not raw events. It
// returns what to print about it.
func startEnforce(ctx context.Context, cfg config.Config, eng *Engines, log *slog.Logger, m *metrics.Pipeline) (Stage, string, error) {
	js, err := eng.StageJS(bus.StageEnforce)
	if err != nil {
		return nil, "", err
	}
	st, at, err := enforce.Start(ctx, cfg.Enforce, cfg.DataDir, enforce.Deps{
		JS: js, Pseudonymize: cfg.Pseudonymize, Replicas: cfg.Streams.Replicas, Metrics: metrics.NewEnforce(m.Registry), Log: log,
	})
	if err != nil {
		return nil, "", err
	}
	return st, at, nil
}

// startSelfService builds the self-service page of `vakt run`
// (subject.listen set): as vakt_subject, which may read the salts. It
// returns the stage and the page's URL.
func startSelfService(ctx context.Context, cfg config.Config, eng *Engines, log *slog.Logger) (Stage, string, error) {
	js, err := eng.StageJS(bus.StageSubject)
	if err != nil {
		return nil, "", err
	}
	st, at, err := subject.StartSelfService(ctx, cfg, js, eng.CH, log)
	if err != nil {
		return nil, "", err
	}
	return st, at, nil
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
