package app

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// geoIPProblems checks the configured GeoIP databases as the pseudonymiser
// will load them, for `vakt check`.
func geoIPProblems(cfg config.Config, add func(key, problem, fix string)) {
	g := cfg.Pseudonymize.GeoIP
	for _, db := range []struct{ key, path string }{
		{"pseudonymize.geoip.country_db", g.CountryDB},
		{"pseudonymize.geoip.asn_db", g.ASNDB},
	} {
		if db.path == "" {
			continue
		}
		if _, err := os.Stat(db.path); errors.Is(err, os.ErrNotExist) {
			add(db.key, fmt.Sprintf("%s does not exist", db.path),
				"download it (e.g. with geoipupdate) or clear the key; until it appears that enrichment is off")
			continue
		}
		c := pseudonymize.GeoIPConfig{}
		if db.key == "pseudonymize.geoip.country_db" {
			c.CountryDB = db.path
		} else {
			c.ASNDB = db.path
		}
		if _, err := pseudonymize.NewGeoIP(c, nil); err != nil {
			problem, fix, ok := strings.Cut(strings.TrimPrefix(err.Error(), db.key+": "), "; ")
			if !ok {
				fix = "point it at a MaxMind-format (.mmdb) database of that kind"
			}
			add(db.key, problem, fix)
		}
	}
}
