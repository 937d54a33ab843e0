package pseudonymize

import (
	"time"
)

// GeoIPDatabase is what `vakt geoip status` says about one database.
type GeoIPDatabase struct {
	Kind string `json:"kind"` // "country" or "asn"
	// Origin is the configuration key of a MaxMind-format file, or
	// "open data" for the databases built by `make geoip`.
	Origin string `json:"origin"`
	Path   string `json:"path"`
	Loaded bool   `json:"loaded"`
	Type   string `json:"type,omitempty"`  // the file's database type
	Built  string `json:"built,omitempty"` // the file's build date
	// DataDate is the open data's source date; Source its package and
	// version.
	DataDate    string `json:"data_date,omitempty"`
	Source      string `json:"source,omitempty"`
	Licence     string `json:"licence"`
	Attribution string `json:"attribution,omitempty"`
}

// maxMindLicence is what vakt can say of a configured file's terms: they
// are its provider's.
const maxMindLicence = "the provider's (GeoLite2: MaxMind GeoLite2 EULA, attribution required; DB-IP Lite: CC BY 4.0)"

// Databases describes the databases in use, country first; a kind with
// none is absent.
func (g *GeoIP) Databases() []GeoIPDatabase {
	var out []GeoIPDatabase
	for _, db := range g.dbs() {
		d := GeoIPDatabase{Kind: db.kind, Origin: db.key, Path: db.path, Licence: maxMindLicence}
		if db.open != nil {
			d.Origin = "open data"
			d.DataDate = db.open.DataDate
			d.Source = db.open.Package + " " + db.open.Version
			d.Licence = db.open.Licence
			d.Attribution = db.open.Attribution
		}
		if r := db.r.Load(); r != nil {
			md := r.Metadata()
			d.Loaded = true
			d.Type = md.DatabaseType
			d.Built = time.Unix(int64(md.BuildEpoch), 0).UTC().Format(time.DateOnly)
		}
		out = append(out, d)
	}
	return out
}
