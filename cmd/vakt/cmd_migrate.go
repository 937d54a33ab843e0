package main

import (
	"context"
	"fmt"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/progress"
	"github.com/vakt-dev/vakt/store"
)

func init() {
	var opts store.MigrateOptions
	register(&command{
		name: "migrate", args: "[--roles] [--print-sql] [--progress auto|always|never]", summary: "apply schema migrations and the configured retention; print what changed",
		flags: func(fs *flag.FlagSet, o *options) {
			progressFlag(fs, o)
			fs.BoolVar(&opts.Roles, "roles", false, "also create the roles vakt_writer, vakt_security and vakt_ops (a ClickHouse server only)")
			fs.BoolVar(&opts.PrintSQL, "print-sql", false, "print the SQL of a fresh installation (with --roles, the roles' too) instead of connecting")
		},
		run: func(ctx context.Context, e *env) error {
			bar, err := progress.Writer(e.opts.progress, e.stderr)
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			return app.MigrateCommand(ctx, e.cfg, opts, bar, e.log, e.stdout)
		},
	})
}
