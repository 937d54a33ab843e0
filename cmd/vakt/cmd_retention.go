package main

import (
	"context"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/app"
)

func init() {
	register(&command{
		name: "retention", args: "[--format text|json]", summary: "print how long each kind of data is kept, in plain words",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.format, "format", "text", "text (plain words, ready to quote in a privacy policy) or json")
		},
		run: func(ctx context.Context, e *env) error {
			return app.RetentionCommand(ctx, e.cfg, e.opts.format, e.log, e.stdout)
		},
	})
}
