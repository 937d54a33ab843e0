package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/pseudonymize/geodata"
)

// GeoIPStatus is `vakt geoip status`: the databases the pseudonymiser
// would use with cfg, their dates and licences. It opens them as the
// pseudonymiser does, and needs no engine.
func GeoIPStatus(cfg config.Config, format string, out io.Writer) error {
	if format != "text" && format != FormatJSON {
		return fmt.Errorf("--format %q: use text or json", format)
	}
	g, err := pseudonymize.NewGeoIP(cfg.Pseudonymize.GeoIP, nil)
	dbs := g.Databases()
	if format == FormatJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if dbs == nil {
			dbs = []pseudonymize.GeoIPDatabase{}
		}
		if e := enc.Encode(map[string]any{"databases": dbs, "summary": g.Describe()}); e != nil {
			return e
		}
		return err
	}
	fmt.Fprintln(out, g.Describe())
	for _, d := range dbs {
		fmt.Fprintf(out, "\n%s: %s (%s)\n", d.Kind, d.Path, d.Origin)
		if !d.Loaded {
			fmt.Fprintln(out, "  not loaded: missing or not a database of this kind (vakt check says why)")
		} else {
			fmt.Fprintf(out, "  type %s, built %s\n", d.Type, d.Built)
		}
		if d.Source != "" {
			fmt.Fprintf(out, "  source: %s, data of %s\n", d.Source, d.DataDate)
		}
		fmt.Fprintf(out, "  licence: %s\n", d.Licence)
		if d.Attribution != "" {
			fmt.Fprintf(out, "  attribution: %s\n", d.Attribution)
		}
	}
	return err
}

// GeoIPBuild is `vakt geoip build`: turns the npm packages `make geoip`
// fetched into the MaxMind-layout databases vakt reads by default.
func GeoIPBuild(countryPkg, asnPkg, dir string, log *slog.Logger, out io.Writer) error {
	if dir == "" {
		dir = geodata.DefaultDir()
	}
	if countryPkg == "" || asnPkg == "" {
		return fmt.Errorf("geoip build needs --country-package and --asn-package: the package/ directories of %s and %s (as `make geoip` extracts them)", geodata.CountryPackage, geodata.ASNPackage)
	}
	log.Info("building the open GeoIP databases (about 20 s)", "dir", dir)
	m, err := geodata.Build(countryPkg, asnPkg, dir)
	if err != nil {
		return err
	}
	for _, s := range m.Sources {
		fmt.Fprintf(out, "%s: %s/%s from %s %s (data of %s, %d networks, %s)\n",
			s.Kind, strings.TrimRight(dir, "/"), s.File, s.Package, s.Version, s.DataDate, s.Networks, s.Licence)
	}
	return nil
}
