package main

import (
	"context"
	"fmt"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/progress"
)

func sourceFlags(fs *flag.FlagSet, o *options) {
	fs.Var(&o.files, "file", "log file or glob to follow (repeatable)")
	fs.StringVar(&o.site, "site", "", "site label for the files' events")
	fs.BoolVar(&o.demo, "demo", false, "feed generated demo traffic")
}

// progressFlag is --progress of the commands that draw a bar on stderr.
func progressFlag(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.progress, "progress", progress.Auto, "progress bar on stderr: auto (when stderr is a terminal), always or never")
}

func init() {
	register(&command{
		name: "run", args: "[--demo] [--file GLOB]...", summary: "run every stage (embedded NATS and ClickHouse by default)",
		flags: sourceFlags,
		run:   func(ctx context.Context, e *env) error { return app.Run(ctx, e.cfg, e.log, e.stdout) },
	})
	register(&command{
		name: "import", args: "[--site S] [--progress auto|always|never] FILE...", summary: "push whole log files through the pipeline, then exit",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.site, "site", "", "site label for the files' events")
			progressFlag(fs, o)
		},
		run: func(ctx context.Context, e *env) error {
			if len(e.args) == 0 {
				return fmt.Errorf("%w: vakt import needs at least one FILE", errUsage)
			}
			bar, err := progress.Writer(e.opts.progress, e.stderr)
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			sum, err := app.Import(ctx, e.cfg, e.args, e.log, bar)
			sum.Print(e.stdout)
			return err
		},
	})
	for _, stage := range []struct{ name, args, summary string }{
		{"ingest", "[--file GLOB]...", "run the ingest stage alone"},
		{"pseudonymize", "", "run the pseudonymise stage alone"},
		{"store", "", "run the store stage alone"},
	} {
		c := &command{name: stage.name, args: stage.args, summary: stage.summary,
			run: func(ctx context.Context, e *env) error { return app.RunStage(ctx, e.cfg, stage.name, e.log) }}
		if stage.name == "ingest" {
			c.flags = sourceFlags
		}
		register(c)
	}
	register(&command{
		name: "version", summary: "print the version",
		run: func(_ context.Context, e *env) error { fmt.Fprintln(e.stdout, "vakt", version); return nil },
	})
}
