package geodata

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
	"go4.org/netipx"
)

// The packages Build reads, as `npm pack` names them.
const (
	CountryPackage = "@ip-location-db/geo-whois-asn-country-mmdb"
	ASNPackage     = "@ip-location-db/asn"
)

// Build reads the extracted npm packages countryPkg and asnPkg (each the
// `package/` directory of its tarball), writes the GeoLite2-layout files
// and the manifest into outDir, and returns the manifest. Each file is
// replaced atomically, so a running vakt picks the new one up whole.
func Build(countryPkg, asnPkg, outDir string) (Manifest, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("open GeoIP data: %w", err)
	}
	country, err := buildCountry(countryPkg, outDir)
	if err != nil {
		return Manifest{}, fmt.Errorf("open GeoIP data: country from %s: %w", countryPkg, err)
	}
	asn, err := buildASN(asnPkg, outDir)
	if err != nil {
		return Manifest{}, fmt.Errorf("open GeoIP data: AS numbers from %s: %w", asnPkg, err)
	}
	m := Manifest{Sources: []Source{country, asn}}
	if err := writeManifest(outDir, m); err != nil {
		return Manifest{}, fmt.Errorf("open GeoIP data: %w", err)
	}
	return m, nil
}

// packageInfo is what Build keeps of an npm package.json.
type packageInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	License string `json:"license"`
}

// readPackage reads pkgDir's package.json and checks it is want.
func readPackage(pkgDir, want string) (packageInfo, error) {
	var p packageInfo
	b, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("package.json: %w", err)
	}
	if p.Name != want {
		return p, fmt.Errorf("package.json names %q, not %s", p.Name, want)
	}
	return p, nil
}

// licenceText joins the package's licence files (and the description of
// its modifications), each under its name.
func licenceText(pkgDir string) (string, error) {
	entries, err := os.ReadDir(pkgDir)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, e := range entries {
		n := strings.ToUpper(e.Name())
		if e.IsDir() || !(strings.Contains(n, "LICENSE") || strings.Contains(n, "LICENCE") || n == "MODIFICATIONS") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(pkgDir, e.Name()))
		if err != nil {
			return "", err
		}
		parts = append(parts, e.Name()+":\n"+strings.TrimSpace(string(b)))
	}
	if len(parts) == 0 {
		return "", errors.New("no licence file in the package")
	}
	return strings.Join(parts, "\n\n"), nil
}

// versionDate reads the data date from ip-location-db's versions
// (major.minor.YYYYMMDDHH).
func versionDate(version string) string {
	stamp := version[strings.LastIndex(version, ".")+1:]
	if t, err := time.Parse("2006010215", stamp); err == nil {
		return t.Format(time.DateOnly)
	}
	return ""
}

func newWriter(dbType, description string) (*mmdbwriter.Tree, error) {
	return mmdbwriter.New(mmdbwriter.Options{
		// Reserved networks (private, documentation, multicast...) stay
		// out: the sources map some of them to a country.
		DatabaseType: dbType, RecordSize: 28, IncludeReservedNetworks: false,
		Description:  map[string]string{"en": description},
		KeyGenerator: recordKeys{},
	})
}

// recordKeys deduplicates the few record shapes Build writes by their
// fields, much faster than the default (a SHA-256 of each value).
type recordKeys struct{}

func (recordKeys) Key(v mmdbtype.DataType) ([]byte, error) {
	m, ok := v.(mmdbtype.Map)
	if !ok {
		return nil, fmt.Errorf("unexpected record %T", v)
	}
	if c, ok := m["country"].(mmdbtype.Map); ok {
		return []byte("c" + string(c["iso_code"].(mmdbtype.String))), nil
	}
	num, _ := m["autonomous_system_number"].(mmdbtype.Uint32)
	org, _ := m["autonomous_system_organization"].(mmdbtype.String)
	return []byte("a" + strconv.FormatUint(uint64(num), 10) + "\x00" + string(org)), nil
}

func writeTree(path string, t *mmdbwriter.Tree) error {
	return writeAtomic(path, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if _, err := t.WriteTo(w); err != nil {
			return err
		}
		return w.Flush()
	})
}

// buildCountry rewrites the package's {country_code} MMDB as a
// GeoLite2-Country one ({country: {iso_code}}).
func buildCountry(pkgDir, outDir string) (Source, error) {
	p, err := readPackage(pkgDir, CountryPackage)
	if err != nil {
		return Source{}, err
	}
	lic, err := licenceText(pkgDir)
	if err != nil {
		return Source{}, err
	}
	r, err := maxminddb.Open(filepath.Join(pkgDir, "geo-whois-asn-country.mmdb"))
	if err != nil {
		return Source{}, err
	}
	defer r.Close()
	desc := fmt.Sprintf("vakt build of %s %s (%s)", p.Name, p.Version, p.License)
	t, err := newWriter("GeoLite2-Country", desc)
	if err != nil {
		return Source{}, err
	}
	records := map[string]mmdbtype.Map{}
	n := 0
	for res := range r.Networks() {
		var rec struct {
			CountryCode string `maxminddb:"country_code"`
		}
		if err := res.Decode(&rec); err != nil {
			return Source{}, fmt.Errorf("%s: %w", res.Prefix(), err)
		}
		if rec.CountryCode == "" {
			continue
		}
		v, ok := records[rec.CountryCode]
		if !ok {
			v = mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(rec.CountryCode)}}
			records[rec.CountryCode] = v
		}
		if err := insert(t, res.Prefix(), v); err != nil {
			return Source{}, fmt.Errorf("%s: %w", res.Prefix(), err)
		}
		n++
	}
	if n == 0 {
		return Source{}, errors.New("no network with a country code")
	}
	if err := writeTree(filepath.Join(outDir, CountryFile), t); err != nil {
		return Source{}, err
	}
	return Source{
		Kind: "country", File: CountryFile, Package: p.Name, Version: p.Version,
		DataDate: time.Unix(int64(r.Metadata.BuildEpoch), 0).UTC().Format(time.DateOnly),
		Licence:  p.License,
		Attribution: "Country data: ip-location-db geo-whois-asn-country (CC0 1.0), " +
			"with statistics from the Number Resource Organization (NRO, CC BY 4.0)",
		AttributionLinks: []string{"https://www.nro.net"},
		LicenceText:      lic, BuiltAt: time.Now().UTC().Truncate(time.Second), Networks: n,
	}, nil
}

// buildASN writes the package's CSV ranges (start,end,number,organisation)
// as a GeoLite2-ASN database.
func buildASN(pkgDir, outDir string) (Source, error) {
	p, err := readPackage(pkgDir, ASNPackage)
	if err != nil {
		return Source{}, err
	}
	lic, err := licenceText(pkgDir)
	if err != nil {
		return Source{}, err
	}
	desc := fmt.Sprintf("vakt build of %s %s (CC-BY-4.0: RouteViews, DB-IP, NRO)", p.Name, p.Version)
	t, err := newWriter("GeoLite2-ASN", desc)
	if err != nil {
		return Source{}, err
	}
	records := map[string]mmdbtype.Map{}
	n := 0
	for _, name := range []string{"asn-ipv4.csv", "asn-ipv6.csv"} {
		c, err := insertASNRanges(t, filepath.Join(pkgDir, name), records)
		if err != nil {
			return Source{}, fmt.Errorf("%s: %w", name, err)
		}
		n += c
	}
	if err := writeTree(filepath.Join(outDir, ASNFile), t); err != nil {
		return Source{}, err
	}
	return Source{
		Kind: "asn", File: ASNFile, Package: p.Name, Version: p.Version,
		DataDate: versionDate(p.Version), Licence: "CC-BY-4.0",
		Attribution: "AS data: ip-location-db asn, from RouteViews, DB-IP's IP to ASN Lite " +
			"and NRO data (CC BY 4.0); IP Geolocation by DB-IP",
		AttributionLinks: []string{"https://db-ip.com", "https://www.routeviews.org", "https://www.nro.net"},
		LicenceText:      lic, BuiltAt: time.Now().UTC().Truncate(time.Second), Networks: n,
	}, nil
}

func insertASNRanges(t *mmdbwriter.Tree, path string, records map[string]mmdbtype.Map) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	n := 0
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		start, err1 := netip.ParseAddr(row[0])
		end, err2 := netip.ParseAddr(row[1])
		num, err3 := strconv.ParseUint(row[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			line, _ := cr.FieldPos(0)
			return n, fmt.Errorf("line %d: %w", line, err)
		}
		key := row[2] + "\x00" + row[3]
		v, ok := records[key]
		if !ok {
			v = mmdbtype.Map{
				"autonomous_system_number":       mmdbtype.Uint32(num),
				"autonomous_system_organization": mmdbtype.String(strings.Clone(row[3])),
			}
			records[key] = v
		}
		r := netipx.IPRangeFrom(start, end)
		if !r.IsValid() {
			line, _ := cr.FieldPos(0)
			return n, fmt.Errorf("line %d: %s-%s is not a range", line, start, end)
		}
		for _, p := range r.Prefixes() {
			if err := insert(t, p, v); err != nil {
				line, _ := cr.FieldPos(0)
				return n, fmt.Errorf("line %d: %w", line, err)
			}
		}
		n++
	}
}

// insert puts p in t; mmdbwriter places IPv4 networks in the IPv4 subtree
// of its IPv6 tree. Networks inside the IPv6 ranges that alias that
// subtree (::ffff:0:0/96, Teredo 2001::/32, 6to4 2002::/16) are skipped:
// readers answer them from the IPv4 data. So are reserved networks.
func insert(t *mmdbwriter.Tree, p netip.Prefix, v mmdbtype.DataType) error {
	p = p.Masked()
	n := &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	err := t.Insert(n, v)
	if _, aliased := errors.AsType[*mmdbwriter.AliasedNetworkError](err); aliased {
		return nil
	}
	if _, reserved := errors.AsType[*mmdbwriter.ReservedNetworkError](err); reserved {
		return nil
	}
	return err
}
