package geodata

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang/v2"
)

// writePackages lays out two small packages as `npm pack` extracts them:
// the country one an MMDB of {country_code} records (ip-location-db's
// layout), the AS one CSV ranges, with a private range the sources map to
// a country and a 6to4 range readers answer from the IPv4 data.
func writePackages(t *testing.T) (countryPkg, asnPkg string) {
	t.Helper()
	dir := t.TempDir()
	countryPkg, asnPkg = filepath.Join(dir, "country"), filepath.Join(dir, "asn")
	write := func(path, text string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(countryPkg, "package.json"), `{"name": "@ip-location-db/geo-whois-asn-country-mmdb", "version": "2.3.2026061719", "license": "CC0-1.0"}`)
	write(filepath.Join(countryPkg, "NRO_LICENSE"), "NRO statistics, CC BY 4.0")
	write(filepath.Join(asnPkg, "package.json"), `{"name": "@ip-location-db/asn", "version": "2.3.2026061719", "license": "SEE LICENSE IN ROUTEVIEWS-LICENSE and DBIP-LICENSE (CC-BY-4.0)"}`)
	write(filepath.Join(asnPkg, "DBIP-LICENSE"), "DB-IP, CC BY 4.0")
	write(filepath.Join(asnPkg, "ROUTEVIEWS-LICENSE"), "RouteViews, CC BY 4.0")
	write(filepath.Join(asnPkg, "asn-ipv4.csv"), "8.8.8.0,8.8.8.255,15169,Google LLC\n"+
		"1.1.1.0,1.1.1.255,13335,\"Cloudflare, Inc.\"\n192.168.0.0,192.168.255.255,64512,Private Example\n")
	write(filepath.Join(asnPkg, "asn-ipv6.csv"), "2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,15169,Google LLC\n"+
		"2002::,2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC\n")

	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "country ipvAll", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for p, cc := range map[string]string{"8.8.8.0/24": "US", "1.1.1.0/24": "AU", "192.168.0.0/16": "AU", "2001:4860::/32": "US"} {
		_, n, _ := net.ParseCIDR(p)
		if err := w.Insert(n, mmdbtype.Map{"country_code": mmdbtype.String(cc)}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(countryPkg, "geo-whois-asn-country.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return countryPkg, asnPkg
}

func TestBuildWritesGeoLite2LayoutAndManifest(t *testing.T) {
	countryPkg, asnPkg := writePackages(t)
	out := t.TempDir()
	m, err := Build(countryPkg, asnPkg, out)
	if err != nil {
		t.Fatal(err)
	}
	c, err := geoip2.Open(Path(out, "country"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := geoip2.Open(Path(out, "asn"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		ip, country string
		asn         uint
		org         string
	}{
		{"8.8.8.8", "US", 15169, "Google LLC"},
		{"1.1.1.1", "AU", 13335, "Cloudflare, Inc."},
		{"2001:4860:4860::8888", "US", 15169, "Google LLC"},
		{"2002:808:808::1", "US", 15169, "Google LLC"}, // 6to4: the IPv4 data, not the CSV's 2002::/16 row
		{"192.168.1.1", "", 0, ""},                     // reserved: left out
		{"9.9.9.9", "", 0, ""},
	} {
		ip := netip.MustParseAddr(tt.ip)
		cr, err1 := c.Country(ip)
		ar, err2 := a.ASN(ip)
		if err1 != nil || err2 != nil || cr.Country.ISOCode != tt.country || ar.AutonomousSystemNumber != tt.asn || ar.AutonomousSystemOrganization != tt.org {
			t.Errorf("%s: %q AS%d %q (%v %v); want %q AS%d %q", tt.ip, cr.Country.ISOCode, ar.AutonomousSystemNumber, ar.AutonomousSystemOrganization, err1, err2, tt.country, tt.asn, tt.org)
		}
	}
	read, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	country, _ := read.Source("country")
	asn, _ := read.Source("asn")
	if len(m.Sources) != 2 || country.Licence != "CC0-1.0" || country.Version != "2.3.2026061719" || country.Networks != 4 ||
		!strings.Contains(country.LicenceText, "NRO") || asn.Licence != "CC-BY-4.0" || asn.DataDate != "2026-06-17" ||
		!strings.Contains(asn.LicenceText, "DB-IP") || !strings.Contains(asn.LicenceText, "RouteViews") ||
		!strings.Contains(asn.Attribution, "DB-IP") || asn.Networks != 5 {
		t.Errorf("manifest %+v", read)
	}
	// A package of the wrong name is refused, naming it.
	if _, err := Build(asnPkg, asnPkg, t.TempDir()); err == nil || !strings.Contains(err.Error(), "@ip-location-db/asn") {
		t.Errorf("wrong package: %v", err)
	}
}
