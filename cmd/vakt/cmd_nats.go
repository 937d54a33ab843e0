package main

import (
	"context"
	"fmt"

	"github.com/vakt-dev/vakt/internal/app"
)

func init() {
	register(&command{
		name: "nats", args: "setup", summary: "create or update the JetStream streams, consumers and buckets (as the NATS administrator)",
		subcommand: true,
		run: func(ctx context.Context, e *env) error {
			if len(e.args) != 1 || e.args[0] != "setup" {
				return fmt.Errorf("%w: vakt nats needs: setup", errUsage)
			}
			return app.NATSSetup(ctx, e.cfg, e.log, e.stdout)
		},
	})
}
