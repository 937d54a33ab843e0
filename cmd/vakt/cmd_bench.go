package main

import (
	"context"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/bench"
)

func init() {
	bc := bench.DefaultConfig()
	register(&command{
		name: "bench", args: "[--lines N] [--live-for D]", summary: "measure the pipeline end to end on fresh embedded engines",
		flags: func(fs *flag.FlagSet, _ *options) {
			fs.IntVar(&bc.Lines, "lines", bc.Lines, "lines in the generated access log")
			fs.IntVar(&bc.Clients, "clients", bc.Clients, "distinct client IPs in the generated log")
			fs.DurationVar(&bc.LiveFor, "live-for", bc.LiveFor, "how long to measure live mode")
			fs.IntVar(&bc.LiveRate, "live-rate", bc.LiveRate, "lines per second written in live mode")
			fs.StringVar(&bc.WorkDir, "work-dir", "", "directory for the log and data (default: a temporary one)")
			fs.BoolVar(&bc.Keep, "keep", false, "keep the work dir")
			fs.StringVar(&bc.CPUProfile, "cpuprofile", "", "write a CPU profile of the import to this file")
			fs.StringVar(&bc.MemProfile, "memprofile", "", "write a heap profile at the import's memory peak to this file")
		},
		run: func(ctx context.Context, e *env) error {
			res, err := bench.Run(ctx, e.cfg, bc, e.log, e.stdout)
			if err != nil {
				return err
			}
			res.Print(e.stdout)
			return nil
		},
	})
}
