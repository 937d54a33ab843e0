package main

import (
	"context"
	"fmt"

	flag "github.com/spf13/pflag"

	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/pseudonymize/geodata"
)

func init() {
	var countryPkg, asnPkg, dir string
	register(&command{
		name: "geoip", args: "status [--format text|json] | build --country-package D --asn-package D [--dir D]",
		summary:    "which GeoIP databases are in use, their dates and licences; build the open ones",
		subcommand: true,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.format, "format", "text", "status: text or json")
			fs.StringVar(&countryPkg, "country-package", "", "build: the extracted package/ directory of @ip-location-db/geo-whois-asn-country-mmdb")
			fs.StringVar(&asnPkg, "asn-package", "", "build: the extracted package/ directory of @ip-location-db/asn")
			fs.StringVar(&dir, "dir", "", "build: where to write the databases (default pseudonymize.geoip.open_data_dir, else ~/.cache/vakt/geoip)")
		},
		run: func(ctx context.Context, e *env) error {
			if len(e.args) != 1 {
				return fmt.Errorf("%w: vakt geoip needs one of: status, build", errUsage)
			}
			switch e.args[0] {
			case "status":
				return pseudonymize.GeoIPStatusCommand(e.cfg.Pseudonymize.GeoIP, e.opts.format, e.stdout)
			case "build":
				if dir == "" {
					dir = e.cfg.Pseudonymize.GeoIP.OpenDataDir
				}
				return geodata.BuildCommand(countryPkg, asnPkg, dir, e.log, e.stdout)
			}
			return fmt.Errorf("%w: unknown geoip command %q: use status or build", errUsage, e.args[0])
		},
	})
}
