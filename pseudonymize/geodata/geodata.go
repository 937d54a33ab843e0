// Package geodata turns the open GeoIP data vakt uses when no MaxMind
// database is configured into MaxMind-layout files that geoip2-golang reads,
// and describes them (source package, data date, licence, attribution).
//
// The sources are two npm packages of the ip-location-db project, fetched
// by `make geoip` with `npm pack` at a pinned version into the cache (as
// libchdb is), then built here once:
//
//   - @ip-location-db/geo-whois-asn-country-mmdb (CC0-1.0): country codes,
//     in an MMDB whose records are {country_code}, rewritten into the
//     GeoLite2-Country layout;
//   - @ip-location-db/asn (CC-BY-4.0: RouteViews, DB-IP, NRO): AS numbers
//     and names as CSV ranges, written in the GeoLite2-ASN layout.
package geodata

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// File names inside the open-data directory.
const (
	CountryFile  = "open-country.mmdb"
	ASNFile      = "open-asn.mmdb"
	ManifestFile = "open-geoip.json"
)

// Source describes one built database: where its data came from, how old
// it is and under which terms it may be used.
type Source struct {
	Kind    string `json:"kind"`    // "country" or "asn"
	File    string `json:"file"`    // file name in the directory
	Package string `json:"package"` // npm package the data came from
	Version string `json:"version"` // its version
	// DataDate is when the source data was built (UTC day).
	DataDate string `json:"data_date"`
	// Licence is the SPDX identifier (or the package's wording).
	Licence string `json:"licence"`
	// Attribution is the credit the licences require, in plain text;
	// AttributionLinks are the pages to link to where results are shown.
	Attribution      string   `json:"attribution"`
	AttributionLinks []string `json:"attribution_links,omitempty"`
	// LicenceText is the package's licence files, verbatim.
	LicenceText string    `json:"licence_text"`
	BuiltAt     time.Time `json:"built_at"`
	Networks    int       `json:"networks"`
}

// Manifest is what the directory holds.
type Manifest struct {
	Sources []Source `json:"sources"`
}

// DefaultDir is where `make geoip` puts the built files and where vakt
// looks for them when pseudonymize.geoip.open_data_dir is empty:
// $XDG_CACHE_HOME/vakt/geoip, else ~/.cache/vakt/geoip.
func DefaultDir() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "vakt", "geoip")
}

// ReadManifest reads dir's manifest. A directory that was never built
// gives an error wrapping os.ErrNotExist.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, fmt.Errorf("open GeoIP data: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("open GeoIP data: %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

// Source returns the manifest's entry of kind, if any.
func (m Manifest) Source(kind string) (Source, bool) {
	for _, s := range m.Sources {
		if s.Kind == kind {
			return s, true
		}
	}
	return Source{}, false
}

// Path returns the built file of kind ("country" or "asn") in dir when it
// and the manifest exist, else "".
func Path(dir, kind string) string {
	if dir == "" {
		return ""
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return ""
	}
	s, ok := m.Source(kind)
	if !ok {
		return ""
	}
	p := filepath.Join(dir, s.File)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// writeManifest writes m atomically beside the databases.
func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, ManifestFile), func(f *os.File) error {
		_, err := f.Write(append(b, '\n'))
		return err
	})
}

// writeAtomic writes path through a temporary file renamed into place, so
// a running vakt never reads half a file.
func writeAtomic(path string, write func(*os.File) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ErrNotBuilt says the open data was never fetched and built.
var ErrNotBuilt = errors.New("open GeoIP data not built: run `make geoip` (fetches two npm packages, about 27 MB) or `vakt geoip build`")
