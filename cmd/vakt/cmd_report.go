package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/output"
)

func init() {
	var o analyze.ReportOptions
	register(&command{
		name: "report", args: "health|threats|top|client [--epoch E] ID [--since D] [--until T] [--site S] [--format F]",
		summary:    "site health, threat detections, top lists or one client's investigation from the store",
		subcommand: true,
		flags: func(fs *flag.FlagSet, opts *options) {
			fs.StringVar(&o.Since, "since", "24h", "start: a duration back from now (24h, 7d) or an RFC 3339 time")
			fs.StringVar(&o.Until, "until", "", "end: a duration back from now or an RFC 3339 time (default now)")
			fs.StringVar(&o.Site, "site", "", "only this site (default every site)")
			fs.StringVar(&o.Format, "format", output.Table, "output: table, json (one object per line, with its section), csv or tsv")
			fs.StringVar(&o.Section, "section", "", "only this section (health: totals, series, failing_paths, slowest_paths; top: clients, networks, paths, countries, asns, user_agents; client: summary, series, paths, user_agents, referrers, rules, network)")
			fs.DurationVar(&o.Bucket, "bucket", 0, "health: time bucket of the series, e.g. 1m or 1h (default chosen from the range)")
			fs.IntVar(&o.N, "n", 0, "top and client: entries per list (default 10 for top, 20 for client)")
			fs.Func("rule", "threats and client: run only this rule (repeat, or comma-separate, for several)", func(s string) error {
				for _, n := range strings.Split(s, ",") {
					if n = strings.TrimSpace(n); n != "" {
						o.Rules = append(o.Rules, n)
					}
				}
				return nil
			})
			fs.Func("epoch", "client: only this salt epoch of the id (default every epoch)", func(s string) error {
				e, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return fmt.Errorf("use an epoch number as vakt report threats or vakt salts status shows it")
				}
				o.Epoch = uint32(e)
				return nil
			})
			fs.StringVar(&o.Scope, "scope", "", "client: what the id is: client (default), network or asn")
			fs.StringVar(&o.RulesDir, "rules", "", "threats: a directory of rule files adding to or overriding the built-in rules (after rules.dir)")
		},
		run: func(ctx context.Context, e *env) error {
			name, id, err := analyze.ReportArgs(e.args)
			if err == nil && !slices.Contains(analyze.ReportNames, name) {
				err = fmt.Errorf("unknown report %q: use health, threats, top or client", name)
			}
			o.ID = id
			if err != nil {
				return fmt.Errorf("%w: vakt report: %v", errUsage, err)
			}
			if os.Getenv("GOGC") == "" {
				// A report is a short process that keeps its findings
				// until it writes them: collecting at a quarter of the
				// default rate takes ~40 ms of CPU off a 30-day threat
				// report, for ~25 MB more memory.
				debug.SetGCPercent(400)
			}
			return app.ReportCommand(ctx, e.cfg, name, o, e.log, e.stdout)
		},
	})
}
