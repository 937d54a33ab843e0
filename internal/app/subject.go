package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject"
)

// SubjectOptions are the flags of `vakt subject`.
type SubjectOptions struct {
	IP     string
	Format string // find: table or json; export: json or csv
	Out    string // export: a file instead of stdout
	Ref    string // free-text reference for the request record
}

// SubjectCommand is `vakt subject find|export|erase|restrict|unrestrict`.
// It needs the salt bucket (to compute the address's ids) and the store.
func SubjectCommand(ctx context.Context, cfg config.Config, action string, o SubjectOptions, log *slog.Logger, stdout io.Writer) error {
	ip, err := subject.ParseAddr(o.IP)
	if err != nil {
		return err
	}
	if err := subject.CheckFormat(action, o.Format); err != nil {
		return err
	}
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, ClickHouse: true, Stage: bus.StageSalts}, "subject", log)
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
	switch action {
	case "find":
		f, err := subject.Find(ctx, d, t)
		if err != nil {
			return err
		}
		if err := f.Write(o.Format, stdout); err != nil {
			return err
		}
		return subject.Outcome(f.Held(), t)
	case "export":
		return subjectExport(ctx, cfg, d, t, o, eng, stdout)
	case "erase":
		r, err := subject.Erase(ctx, d, t, subject.EraseOptions{JS: eng.JS, Replicas: cfg.Streams.Replicas,
			EventsMaxAge: cfg.Streams.EventsMaxAge, Log: log})
		if err != nil {
			return err
		}
		if err := r.Write(o.Format, stdout); err != nil {
			return err
		}
		return subject.Outcome(r.Requests+r.ClientRollups > 0, t)
	case "restrict", "unrestrict":
		ro := subject.RestrictOptions{JS: eng.JS, Replicas: cfg.Streams.Replicas,
			RowsTTL: max(cfg.Retention.Requests.D(), cfg.Retention.ClientRollups.D(), store.DefaultRequestsTTL)}
		do := subject.Restrict
		if action == "unrestrict" {
			do = subject.Unrestrict
		}
		r, err := do(ctx, t, ro)
		if err != nil {
			return err
		}
		if err := r.Write(o.Format, stdout); err != nil {
			return err
		}
		return subject.Outcome(len(r.Epochs) > 0, t)
	}
	return fmt.Errorf("unknown subject command %q", action)
}

func subjectExport(ctx context.Context, cfg config.Config, d subject.Deps, t *subject.Target, o SubjectOptions, eng *Engines, stdout io.Writer) error {
	policy := ReadRetentionWith(ctx, cfg, eng)
	x, err := subject.Collect(ctx, d, t, subject.NewInformation(policy), time.Now())
	if err != nil {
		return err
	}
	out := stdout
	if o.Out != "" {
		f, err := os.OpenFile(o.Out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer f.Close()
		out = f
	}
	if err := x.Write(o.Format, out); err != nil {
		return err
	}
	if o.Out != "" {
		fmt.Fprintf(stdout, "exported %d request rows and %d client-activity rows to %s\n", len(x.Requests), len(x.Activity), o.Out)
		if x.Unlinkable != nil {
			fmt.Fprintln(stdout, x.Unlinkable.Statement)
		}
	}
	return subject.Outcome(len(x.Requests)+len(x.Activity) > 0, t)
}
