package geodata

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// BuildCommand is `vakt geoip build`: turns the npm packages `make geoip`
// fetched into the MaxMind-layout databases vakt reads by default.
func BuildCommand(countryPkg, asnPkg, dir string, log *slog.Logger, out io.Writer) error {
	if dir == "" {
		dir = DefaultDir()
	}
	if countryPkg == "" || asnPkg == "" {
		return fmt.Errorf("geoip build needs --country-package and --asn-package: the package/ directories of %s and %s (as `make geoip` extracts them)", CountryPackage, ASNPackage)
	}
	log.Info("building the open GeoIP databases (about 20 s)", "dir", dir)
	m, err := Build(countryPkg, asnPkg, dir)
	if err != nil {
		return err
	}
	for _, s := range m.Sources {
		fmt.Fprintf(out, "%s: %s/%s from %s %s (data of %s, %d networks, %s)\n",
			s.Kind, strings.TrimRight(dir, "/"), s.File, s.Package, s.Version, s.DataDate, s.Networks, s.Licence)
	}
	return nil
}
