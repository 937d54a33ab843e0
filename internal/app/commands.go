package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/analyze/rules/signatures"
	"github.com/vakt-dev/vakt/enforce"
	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/progress"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject"
)

// The commands' way to the engines: each opens what its package's command
// needs, as the NATS user that may, once the request is known to be valid.

// withEngines runs f on the engines need names, opened as the command
// name, and closes them.
func withEngines(ctx context.Context, cfg config.Config, need Need, name string, log *slog.Logger, f func(*Engines) error) error {
	eng, err := OpenEngines(ctx, cfg, need, name, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	return f(eng)
}

// SubjectCommand is `vakt subject` (subject.ConfiguredCommand) as
// vakt_subject, which may read the salt bucket; records needs no store.
func SubjectCommand(ctx context.Context, cfg config.Config, action string, o subject.CommandOptions, log *slog.Logger, stdout io.Writer) error {
	ip, err := subject.ParseRequest(action, o)
	if err != nil {
		return err
	}
	need := Need{NATS: true, ClickHouse: action != "records", Stage: bus.StageSubject}
	return withEngines(ctx, cfg, need, "subject", log, func(eng *Engines) error {
		return subject.ConfiguredCommand(ctx, cfg, eng.JS, eng.CH, action, ip, o, log, stdout)
	})
}

// WithDecisions runs f on the decisions bucket as vakt_enforce (which may
// read the salts, for --ip): `vakt decisions` (enforce's commands).
func WithDecisions(ctx context.Context, cfg config.Config, log *slog.Logger, f func(enforce.CommandEnv) error) error {
	return withEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageEnforce}, "decisions", log, func(eng *Engines) error {
		ds, err := enforce.OpenDecisions(ctx, eng.JS, cfg.Streams.Replicas)
		if err != nil {
			return err
		}
		return f(enforce.CommandEnv{JS: eng.JS, Pseudonymize: cfg.Pseudonymize, Decisions: ds})
	})
}

// SaltsStatus is `vakt salts status`, on a running vakt's NATS or the
// embedded one.
func SaltsStatus(ctx context.Context, cfg config.Config, format string, log *slog.Logger, out io.Writer) error {
	return withSaltBucket(ctx, cfg, format, log, func(eng *Engines) error {
		return pseudonymize.SaltsStatus(ctx, eng.JS, cfg.Pseudonymize, format, log, out)
	})
}

// SaltsRotate is `vakt salts rotate`.
func SaltsRotate(ctx context.Context, cfg config.Config, destroyNow bool, format string, log *slog.Logger, out io.Writer) error {
	return withSaltBucket(ctx, cfg, format, log, func(eng *Engines) error {
		return pseudonymize.SaltsRotate(ctx, eng.JS, cfg.Pseudonymize, destroyNow, format, log, out)
	})
}

// withSaltBucket connects as the user that may touch the salt bucket, once
// the format is known to be one `vakt salts` writes.
func withSaltBucket(ctx context.Context, cfg config.Config, format string, log *slog.Logger, run func(*Engines) error) error {
	if err := pseudonymize.CheckSaltsFormat(format); err != nil {
		return err
	}
	return withEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageSalts}, "salts", log, run)
}

// Quarantine is `vakt quarantine`, as the user that may read the
// quarantine stream.
func Quarantine(ctx context.Context, cfg config.Config, f ingest.QuarantineFilter, format string, log *slog.Logger, out io.Writer) error {
	if err := ingest.CheckQuarantineFormat(format); err != nil {
		return err
	}
	return withEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageQuarantine}, "quarantine", log, func(eng *Engines) error {
		return ingest.PrintQuarantine(ctx, eng.JS, f, format, out)
	})
}

// NATSSetup is `vakt nats setup`: it looks up the pipeline's streams,
// durable consumers and buckets, creates what is missing and updates what
// differs from the configuration, and prints what it found and did. Run it
// as the NATS administrator when each stage has its own user
// (configs/nats-accounts.conf), who may not create these. The salt bucket is
// left to the pseudonymiser's user, the only one that may touch it.
func NATSSetup(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	return withEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageNone}, "nats setup", log, func(eng *Engines) error {
		return bus.Setup(ctx, eng.JS, cfg.Streams, out)
	})
}

// ReportCommand is `vakt report NAME`: it checks the request (a broken
// rule file fails before any engine starts), then computes the report over
// the store of cfg, without the restricted clients, and writes it to out.
func ReportCommand(ctx context.Context, cfg config.Config, name string, o analyze.ReportOptions, log *slog.Logger, out io.Writer) error {
	req, err := analyze.NewReportRequest(name, o, cfg.Rules.Dir, time.Now())
	if err != nil {
		return err
	}
	return withEngines(ctx, cfg, Need{NATS: true, ClickHouse: true, Stage: bus.StageReport}, "report", log, func(eng *Engines) error {
		ctx, err := analyze.LoadRestricted(ctx, eng.JS)
		if err != nil {
			return err
		}
		return req.Write(ctx, eng.CH, cfg.ClickHouse.Database, log, out)
	})
}

// RetentionCommand is `vakt retention`: read from the tables when
// ClickHouse is reachable and they exist, from the configuration otherwise.
func RetentionCommand(ctx context.Context, cfg config.Config, format string, log *slog.Logger, out io.Writer) error {
	eng, err := OpenEngines(ctx, cfg, Need{ClickHouse: true}, "retention", log)
	if err != nil {
		return analyze.RetentionOf(ctx, nil, err, cfg).Write(format, out)
	}
	defer eng.Close()
	return analyze.RetentionOf(ctx, eng.CH, nil, cfg).Write(format, out)
}

// MigrateCommand is `vakt migrate` (store.MigrateCommand) on the
// configured or the embedded engine. With a progress writer (see
// progress.Writer), a step that copies rows draws a bar there.
func MigrateCommand(ctx context.Context, cfg config.Config, opts store.MigrateOptions, progressW io.Writer, log *slog.Logger, out io.Writer) error {
	if opts.PrintSQL {
		return store.PrintSQL(out, cfg.Schema(), opts.Roles)
	}
	return withEngines(ctx, cfg, Need{ClickHouse: true}, "migrate", log, func(eng *Engines) error {
		if progressW != nil {
			bars := progress.NewSteps(progressW)
			defer bars.Finish()
			ctx = store.WithMigrateProgress(ctx, bars.Update)
		}
		return store.MigrateCommand(ctx, eng.CH, eng.CHAddr, cfg.Schema(), opts.Roles, cfg.EmbeddedClickHouse(), out)
	})
}

// SQLCommand is `vakt sql`: it connects (or starts the embedded engine) and
// runs one statement.
func SQLCommand(ctx context.Context, cfg config.Config, query, format string, log *slog.Logger, out io.Writer) error {
	return withEngines(ctx, cfg, Need{ClickHouse: true}, "sql", log, func(eng *Engines) error {
		if eng.Owner {
			// Nothing else has set the data dir up yet: make the tables exist.
			if err := store.Migrate(ctx, eng.CH, cfg.Schema()); err != nil {
				return err // store names the schema in its errors
			}
		}
		return analyze.SQL(ctx, eng.CH, eng.CHConfig, query, format, out)
	})
}

// Check is `vakt check`: the configuration's problems (config.Check, with
// the rule files loaded as the alerter loads them), and with connect,
// once there are none, a connection to the engines.
func Check(ctx context.Context, cfg config.Config, loadErr error, connect bool, log *slog.Logger) []config.Problem {
	ps := config.Check(cfg, loadErr, func(dir string) error {
		_, err := analyze.LoadRules(dir)
		if dir != "" {
			_, sigErr := signatures.Load(filepath.Join(dir, "signatures"))
			err = errors.Join(err, sigErr)
		}
		return err
	})
	if connect && len(ps) == 0 {
		if err := withEngines(ctx, cfg, Need{NATS: true, ClickHouse: true}, "check", log, func(*Engines) error { return nil }); err != nil {
			ps = append(ps, config.Problem{Key: "(connect)", Problem: err.Error(), Fix: "check the addresses, credentials and that the servers run"})
		}
	}
	return ps
}
