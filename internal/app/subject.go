package app

import (
	"context"
	"io"
	"log/slog"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject"
)

// SubjectOptions are the flags of `vakt subject`.
type SubjectOptions = subject.CommandOptions

// SubjectCommand is `vakt subject find|export|erase|restrict|unrestrict`
// and `vakt subject records`. It needs the salt bucket (to compute the
// address's ids) and the store. Every request handled leaves a record
// without the address or an id.
func SubjectCommand(ctx context.Context, cfg config.Config, action string, o SubjectOptions, log *slog.Logger, stdout io.Writer) error {
	if err := subject.CheckFormat(action, o.Format); err != nil {
		return err
	}
	if action == "records" {
		eng, err := OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageSubject}, "subject", log)
		if err != nil {
			return err
		}
		defer eng.Close()
		recs, err := subject.Records(ctx, eng.JS)
		if err != nil {
			return err
		}
		return subject.WriteRecords(recs, o.Format, stdout)
	}
	ip, err := subject.ParseAddr(o.IP)
	if err != nil {
		return err
	}
	if err := subject.CheckReference(o.Ref); err != nil {
		return err
	}
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, ClickHouse: true, Stage: bus.StageSubject}, "subject", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	salts, err := pseudonymize.NewSaltStore(ctx, eng.JS, cfg.Pseudonymize, log)
	if err != nil {
		return err
	}
	d := subject.Deps{Salts: salts, CH: eng.CH, DB: cfg.ClickHouse.Database, Cluster: cfg.ClickHouse.Cluster}
	rules, err := analyze.LoadRules(cfg.Rules.Dir)
	if err != nil {
		return err
	}
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.Name
	}
	return subject.Command(ctx, subject.CommandEnv{
		Deps: d, JS: eng.JS, Replicas: cfg.Streams.Replicas, EventsMaxAge: cfg.Streams.EventsMaxAge, AlertRules: names, Log: log,
		RowsTTL: max(cfg.Retention.Requests.D(), cfg.Retention.ClientRollups.D(), store.DefaultRequestsTTL),
		Information: func(ctx context.Context) subject.Information {
			return subject.NewInformation(ReadRetentionWith(ctx, cfg, eng))
		},
	}, action, ip, o, stdout)
}
