package main

import (
	"context"
	"fmt"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/output"
)

func init() {
	register(&command{
		name: "sql", args: `[--format F] "SQL"`, summary: "run SQL on the store",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.format, "format", output.Table, "output: table, json (one object per line), csv or tsv (TabSeparated, no header)")
		},
		run: func(ctx context.Context, e *env) error {
			if len(e.args) != 1 {
				return fmt.Errorf("%w: vakt sql needs exactly one SQL argument (quote it)", errUsage)
			}
			return app.SQLCommand(ctx, e.cfg, e.args[0], e.opts.format, e.log, e.stdout)
		},
	})
}
