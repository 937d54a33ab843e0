package main

import (
	"context"
	"errors"
	"fmt"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/app"
)

// errProblems makes `vakt check` exit 1 after printing its problems.
var errProblems = errors.New("configuration has problems")

func init() {
	var connect bool
	register(&command{
		name: "check", args: "[--connect]", summary: "validate the configuration: every problem with its key and fix",
		flags: func(fs *flag.FlagSet, _ *options) {
			fs.BoolVar(&connect, "connect", false, "also connect to NATS and ClickHouse")
		},
		reportsConfig: true,
		run: func(ctx context.Context, e *env) error {
			ps := app.Check(ctx, e.cfg, e.loadErr, connect, e.log)
			if len(ps) == 0 {
				fmt.Fprintln(e.stdout, "configuration ok")
				return nil
			}
			for _, p := range ps {
				fmt.Fprintln(e.stdout, p.String())
			}
			return fmt.Errorf("%w: %d", errProblems, len(ps))
		},
	})
}
