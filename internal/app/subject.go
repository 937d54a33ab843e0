package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject"
)

// SubjectOptions are the flags of `vakt subject`.
type SubjectOptions struct {
	IP     string
	Format string // export: json or csv; the others: table or json
	Out    string // export: a file instead of stdout
	Ref    string // free-text reference for the request record
}

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
	t, err := subject.Resolve(ctx, d, ip)
	if err != nil {
		return err
	}
	rec := subject.Record{At: time.Now().UTC(), Action: action, Reference: o.Ref, Epochs: t.Living()}
	held, err := subjectAction(ctx, cfg, d, t, action, o, eng, &rec, log, stdout)
	if err != nil {
		return err
	}
	outcome := subject.Outcome(held, t)
	rec.Outcome = "answered"
	switch {
	case outcome != nil:
		rec.Outcome = "not identifiable (Art. 11(2))"
	case !held:
		rec.Outcome = "nothing held"
	}
	if err := subject.AddRecord(ctx, eng.JS, cfg.Streams.Replicas, rec); err != nil {
		return err
	}
	return outcome
}

// subjectAction answers one request and fills in its record's counts; it
// reports whether anything was held.
func subjectAction(ctx context.Context, cfg config.Config, d subject.Deps, t *subject.Target, action string, o SubjectOptions,
	eng *Engines, rec *subject.Record, log *slog.Logger, stdout io.Writer) (bool, error) {
	switch action {
	case "find":
		f, err := subject.Find(ctx, d, t)
		if err != nil {
			return false, err
		}
		rec.Requests, rec.ClientRollups = f.Requests, f.ClientRollups
		return f.Held(), f.Write(o.Format, stdout)
	case "export":
		x, err := subjectExport(ctx, cfg, d, t, o, eng, stdout)
		if err != nil {
			return false, err
		}
		rec.Requests, rec.ClientRollups = uint64(len(x.Requests)), uint64(len(x.Activity))
		return len(x.Requests)+len(x.Activity) > 0, nil
	case "erase":
		rules, err := analyze.LoadRules(cfg.Rules.Dir)
		if err != nil {
			return false, err
		}
		names := make([]string, len(rules))
		for i, r := range rules {
			names[i] = r.Name
		}
		r, err := subject.Erase(ctx, d, t, subject.EraseOptions{JS: eng.JS, Replicas: cfg.Streams.Replicas,
			EventsMaxAge: cfg.Streams.EventsMaxAge, AlertRules: names, Log: log})
		if err != nil {
			return false, err
		}
		rec.Requests, rec.ClientRollups = r.Requests, r.ClientRollups
		return r.Requests+r.ClientRollups > 0, r.Write(o.Format, stdout)
	case "restrict", "unrestrict":
		ro := subject.RestrictOptions{JS: eng.JS, Replicas: cfg.Streams.Replicas,
			RowsTTL: max(cfg.Retention.Requests.D(), cfg.Retention.ClientRollups.D(), store.DefaultRequestsTTL)}
		do := subject.Restrict
		if action == "unrestrict" {
			do = subject.Unrestrict
		}
		r, err := do(ctx, t, ro)
		if err != nil {
			return false, err
		}
		return len(r.Epochs) > 0, r.Write(o.Format, stdout)
	}
	return false, errors.New("unknown subject command " + action)
}

func subjectExport(ctx context.Context, cfg config.Config, d subject.Deps, t *subject.Target, o SubjectOptions, eng *Engines, stdout io.Writer) (*subject.Export, error) {
	policy := ReadRetentionWith(ctx, cfg, eng)
	x, err := subject.Collect(ctx, d, t, subject.NewInformation(policy), time.Now())
	if err != nil {
		return nil, err
	}
	out := stdout
	if o.Out != "" {
		f, err := os.OpenFile(o.Out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		defer f.Close()
		out = f
	}
	if err := x.Write(o.Format, out); err != nil {
		return nil, err
	}
	if o.Out != "" {
		fmt.Fprintf(stdout, "exported %d request rows and %d client-activity rows to %s\n", len(x.Requests), len(x.Activity), o.Out)
		if x.Unlinkable != nil {
			fmt.Fprintln(stdout, x.Unlinkable.Statement)
		}
	}
	return x, nil
}
