package main

import (
	"context"
	"fmt"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/enforce"
	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/output"
)

func init() {
	var req enforce.AddRequest
	var client, network string
	var epoch uint
	var asn uint
	register(&command{
		name: "decisions", args: "list|add|delete [--ip A | --client ID --epoch N | --network ID --epoch N | --asn N] [--duration D] [KEY...]",
		summary:    "list, add or delete the bans the decision endpoint enforces (pseudonymous ids, never an address)",
		subcommand: true,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.format, "format", output.Table, "list, add: table, json, csv or tsv")
			fs.StringVar(&req.IP, "ip", "", "add: ban this address's client id (--scope network: its /24 or /48) under the current salt; the address is not stored")
			fs.StringVar(&req.Scope, "scope", "client", "add --ip: client or network")
			fs.StringVar(&client, "client", "", "add: ban this client id from a report (with --epoch)")
			fs.StringVar(&network, "network", "", "add: ban this network id from a report (with --epoch)")
			fs.UintVar(&epoch, "epoch", 0, "add: the salt epoch of --client or --network (a report's epoch column)")
			fs.UintVar(&asn, "asn", 0, "add: ban this autonomous system")
			fs.DurationVar(&req.Duration, "duration", time.Hour, "add: how long the ban lasts (at most 720h)")
			fs.IntVar(&req.Status, "status", 403, "add: 403, or 429 (too many requests)")
			fs.StringVar(&req.Site, "site", "", "add: only for this site; empty: every site")
		},
		run: func(ctx context.Context, e *env) error {
			if len(e.args) == 0 {
				return fmt.Errorf("%w: vakt decisions needs one of: list, add, delete", errUsage)
			}
			sub, rest := e.args[0], e.args[1:]
			switch sub {
			case "list":
				if len(rest) != 0 {
					return fmt.Errorf("%w: vakt decisions list takes no arguments", errUsage)
				}
				return app.WithDecisions(ctx, e.cfg, e.log, func(d enforce.CommandEnv) error { return enforce.ListCommand(ctx, d, e.opts.format, e.stdout) })
			case "add":
				if len(rest) != 0 {
					return fmt.Errorf("%w: vakt decisions add takes flags only (--ip, --client, --network or --asn)", errUsage)
				}
				if client != "" && network != "" {
					return fmt.Errorf("%w: give --client or --network, not both", errUsage)
				}
				switch {
				case client != "":
					req.ID, req.Scope = client, enforce.ScopeClient
				case network != "":
					req.ID, req.Scope = network, enforce.ScopeNetwork
				}
				if epoch > 1<<32-1 || asn > 1<<32-1 {
					return fmt.Errorf("%w: --epoch and --asn are 32-bit numbers", errUsage)
				}
				req.Epoch, req.ASN = uint32(epoch), uint32(asn)
				return app.WithDecisions(ctx, e.cfg, e.log, func(d enforce.CommandEnv) error { return enforce.AddCommand(ctx, d, req, e.opts.format, e.stdout) })
			case "delete":
				if len(rest) == 0 {
					return fmt.Errorf("%w: vakt decisions delete KEY... (the key column of vakt decisions list)", errUsage)
				}
				return app.WithDecisions(ctx, e.cfg, e.log, func(d enforce.CommandEnv) error { return enforce.DeleteCommand(ctx, d, rest, e.stdout) })
			}
			return fmt.Errorf("%w: unknown decisions command %q: use list, add or delete", errUsage, sub)
		},
	})
}
