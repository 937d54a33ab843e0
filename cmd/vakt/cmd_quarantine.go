package main

import (
	"context"
	"fmt"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/output"
)

func init() {
	register(&command{
		name: "quarantine", args: "[--site S] [--reason R] [--since 1h] [--limit N]",
		summary: "show masked samples of rejected log lines",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.site, "site", "", "only this site")
			o.extra["reason"] = fs.String("reason", "", "only this reject reason, e.g. bad_format")
			o.extra["since"] = fs.Duration("since", 0, "only samples this recent, e.g. 1h (they are kept a day)")
			o.extra["limit"] = fs.Int("limit", 50, "at most this many, the newest; 0 for all")
			fs.StringVar(&o.format, "format", output.Table, "table or json (one object per line)")
		},
		run: func(ctx context.Context, e *env) error {
			if len(e.args) != 0 {
				return fmt.Errorf("%w: vakt quarantine takes no arguments", errUsage)
			}
			f := ingest.QuarantineFilter{
				Site:   e.opts.site,
				Reason: *e.opts.extra["reason"].(*string),
				Limit:  *e.opts.extra["limit"].(*int),
			}
			if d := *e.opts.extra["since"].(*time.Duration); d > 0 {
				f.Since = time.Now().Add(-d)
			}
			return app.Quarantine(ctx, e.cfg, f, e.opts.format, e.log, e.stdout)
		},
	})
}
