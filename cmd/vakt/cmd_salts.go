package main

import (
	"context"
	"fmt"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/output"
)

func init() {
	var destroyNow bool
	register(&command{
		name: "salts", args: "status|rotate [--format F]", summary: "list salt epochs (never a salt), or start a new epoch now",
		subcommand: true,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.format, "format", output.Table, "output: table or json")
			fs.BoolVar(&destroyNow, "destroy-now", false, "rotate: destroy the replaced salt at once instead of at its scheduled time")
		},
		run: func(ctx context.Context, e *env) error {
			if len(e.args) != 1 {
				return fmt.Errorf("%w: vakt salts needs one of: status, rotate", errUsage)
			}
			switch e.args[0] {
			case "status":
				if destroyNow {
					return fmt.Errorf("%w: --destroy-now belongs to vakt salts rotate", errUsage)
				}
				return app.SaltsStatus(ctx, e.cfg, e.opts.format, e.log, e.stdout)
			case "rotate":
				return app.SaltsRotate(ctx, e.cfg, destroyNow, e.opts.format, e.log, e.stdout)
			}
			return fmt.Errorf("%w: unknown salts command %q: use status or rotate", errUsage, e.args[0])
		},
	})
}
