package main

import (
	"context"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/app"
)

func init() {
	var opts app.MigrateOptions
	register(&command{
		name: "migrate", args: "[--roles] [--print-sql]", summary: "apply schema migrations and the configured retention; print what changed",
		flags: func(fs *flag.FlagSet, _ *options) {
			fs.BoolVar(&opts.Roles, "roles", false, "also create the roles vakt_writer, vakt_security and vakt_ops (a ClickHouse server only)")
			fs.BoolVar(&opts.PrintSQL, "print-sql", false, "print the SQL of a fresh installation (with --roles, the roles' too) instead of connecting")
		},
		run: func(ctx context.Context, e *env) error {
			return app.MigrateCommand(ctx, e.cfg, opts, e.log, e.stdout)
		},
	})
}
