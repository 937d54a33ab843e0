package main

import (
	"context"
	"fmt"
	"slices"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/output"
	"github.com/vakt-dev/vakt/subject"
)

// subjectHelp is the part of `vakt subject -h` that explains the rights.
const subjectHelp = `Answers a data subject's request about the address they give, in every salt
epoch whose salt still lives; rows of epochs whose salts are destroyed can no
longer be tied to any address (GDPR Art. 11(2)): the answer says so and the
command exits with status 3.

  find      what is held: per epoch and site, rows, first and last seen
  export    every row, with the information the policy owes (--format json|csv)
  erase     remove every row from every table holding the address's ids, and
            the events of it still on their way; gone from disk on return
  restrict  keep the rows stored but leave them out of every report, alert
            and dashboard answer (Art. 18), until unrestrict or expiry
  records   the record of requests handled (time, action, epochs, row counts,
            --ref): never the address or an id

Rectification: an access log records what happened; it is not corrected.
Restrict (storage only) or erase instead. An address alone does not prove
identity: see docs/privacy.md for what to ask a requester for.

Visitors can see and download what is held about the address they connect
from themselves: set subject.listen and vakt run serves that page (per-day
counts only when the address looks shared; see docs/privacy.md).
`

func init() {
	var o subject.CommandOptions
	register(&command{
		name: "subject", args: "find|export|erase|restrict|unrestrict|records --ip ADDR [--format F] [--out FILE] [--ref R]",
		summary:    "data subjects' requests: find, export, erase or restrict what is held about an address",
		subcommand: true,
		long:       subjectHelp,
		flags: func(fs *flag.FlagSet, opts *options) {
			fs.StringVar(&o.IP, "ip", "", "the address the requester gives (IPv4 or IPv6)")
			fs.StringVar(&o.Format, "format", "", "find: table or json (default table); export: json or csv (default json)")
			fs.StringVar(&o.Out, "out", "", "export: write to this file (created owner-only) instead of stdout")
			fs.StringVar(&o.Ref, "ref", "", "a reference for the request record, e.g. the ticket number")
		},
		run: func(ctx context.Context, e *env) error {
			if len(e.args) != 1 || !slices.Contains([]string{"find", "export", "erase", "restrict", "unrestrict", "records"}, e.args[0]) {
				return fmt.Errorf("%w: vakt subject needs one of: find, export, erase, restrict, unrestrict, records", errUsage)
			}
			if o.IP == "" && e.args[0] != "records" {
				return fmt.Errorf("%w: vakt subject %s needs --ip ADDR", errUsage, e.args[0])
			}
			if o.Format == "" {
				o.Format = output.Table
				if e.args[0] == "export" {
					o.Format = output.JSON
				}
			}
			return app.SubjectCommand(ctx, e.cfg, e.args[0], o, e.log, e.stdout)
		},
	})
}
