package testenv

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/vakt-dev/vakt/pseudonymize/geodata"
)

// GeoRecord is what a test GeoIP database says about one network.
type GeoRecord struct {
	Country string // ISO 3166 code
	ASN     uint32
	ASOrg   string
}

// WriteGeoIPDBs writes a GeoLite2-Country and a GeoLite2-ASN database in
// MaxMind's format, built with mmdbwriter, that know exactly nets, and
// returns their paths. Each file is written beside its final name and
// renamed into place, as geoipupdate does.
func WriteGeoIPDBs(tb testing.TB, dir, prefix string, nets map[netip.Prefix]GeoRecord) (countryDB, asnDB string) {
	tb.Helper()
	country := map[netip.Prefix]mmdbtype.Map{}
	asn := map[netip.Prefix]mmdbtype.Map{}
	for p, r := range nets {
		country[p] = mmdbtype.Map{
			"country": mmdbtype.Map{
				"iso_code": mmdbtype.String(r.Country),
				"names":    mmdbtype.Map{"en": mmdbtype.String("Test " + r.Country)},
			},
		}
		asn[p] = mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(r.ASN),
			"autonomous_system_organization": mmdbtype.String(r.ASOrg),
		}
	}
	countryDB = filepath.Join(dir, prefix+"GeoLite2-Country.mmdb")
	asnDB = filepath.Join(dir, prefix+"GeoLite2-ASN.mmdb")
	WriteMMDB(tb, countryDB, "GeoLite2-Country", country)
	WriteMMDB(tb, asnDB, "GeoLite2-ASN", asn)
	return countryDB, asnDB
}

// WriteMMDB writes a MaxMind-format database of type dbType with records.
func WriteMMDB(tb testing.TB, path, dbType string, records map[netip.Prefix]mmdbtype.Map) {
	tb.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType, RecordSize: 28, IncludeReservedNetworks: true,
		Languages: []string{"en"}, Description: map[string]string{"en": "vakt test database"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	for p, rec := range records {
		p = p.Masked()
		// mmdbwriter puts IPv4 networks at ::a.b.c.d/96+bits, where readers
		// (and the IPv4-mapped alias) find them.
		n := &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if err := w.Insert(n, rec); err != nil {
			tb.Fatalf("mmdb insert %s: %v", p, err)
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

// OpenGeoIPDir returns the directory of the open GeoIP databases `make
// geoip` builds ($VAKT_GEOIP_CACHE, else the default cache). Without them
// the test fails in CI and is skipped elsewhere, saying how to get them.
func OpenGeoIPDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("VAKT_GEOIP_CACHE")
	if dir == "" {
		dir = geodata.DefaultDir()
	}
	if _, err := geodata.ReadManifest(dir); err != nil {
		msg := "open GeoIP databases not built in " + dir + " (run `make geoip`): " + err.Error()
		if CI() {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return dir
}
