package pseudonymize

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/testenv"
)

var testGeo = map[netip.Prefix]testenv.GeoRecord{
	netip.MustParsePrefix("198.51.100.0/24"): {Country: "SE", ASN: 64500, ASOrg: "Example Telecom AB"},
	netip.MustParsePrefix("203.0.113.0/24"):  {Country: "DE", ASN: 64501, ASOrg: "Beispiel GmbH"},
	netip.MustParsePrefix("2001:db8::/32"):   {Country: "JP", ASN: 64502, ASOrg: "Rei KK"},
}

func lookup(g *GeoIP, ip string) event.Event {
	var e event.Event
	g.Enrich(netip.MustParseAddr(ip), &e)
	return e
}

func TestGeoIPEnrich(t *testing.T) {
	dir := t.TempDir()
	country, asn := testenv.WriteGeoIPDBs(t, dir, "", testGeo)
	var logs testenv.SyncBuffer
	g, err := NewGeoIP(GeoIPConfig{CountryDB: country, ASNDB: asn}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip, country, org string
		asn              uint32
	}{
		{"198.51.100.7", "SE", "Example Telecom AB", 64500},
		{"::ffff:198.51.100.7", "SE", "Example Telecom AB", 64500}, // unmapped by the caller normally; the reader copes too
		{"203.0.113.250", "DE", "Beispiel GmbH", 64501},
		{"2001:db8:1234::1", "JP", "Rei KK", 64502},
		{"192.0.2.1", "", "", 0}, // not in the databases
		{"2a01::1", "", "", 0},
	}
	for _, tt := range tests {
		e := lookup(g, tt.ip)
		if e.Country != tt.country || e.ASN != tt.asn || e.ASOrg != tt.org {
			t.Errorf("%s: country %q asn %d org %q; want %q %d %q", tt.ip, e.Country, e.ASN, e.ASOrg, tt.country, tt.asn, tt.org)
		}
	}
	if d := g.Describe(); !strings.Contains(d, "country from "+country) || !strings.Contains(d, "ASN from "+asn) {
		t.Errorf("Describe() = %q", d)
	}
}

func TestGeoIPOffWithoutDatabase(t *testing.T) {
	g, err := NewGeoIP(GeoIPConfig{OpenData: OpenDataOff}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Configured() || !strings.Contains(g.Describe(), "GeoIP enrichment off") || !strings.Contains(g.Describe(), "pseudonymize.geoip.country_db") {
		t.Errorf("no database: configured %v, %q", g.Configured(), g.Describe())
	}
	if e := lookup(g, "198.51.100.7"); e.Country != "" || e.ASN != 0 {
		t.Errorf("enriched without a database: %+v", e)
	}

	// Through the stage: one clear line at start, and no enricher.
	n := startNATS(t)
	var logs testenv.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := startPseudonymizer(t, n.connect(t, "p"), Config{GeoIP: GeoIPConfig{OpenDataDir: t.TempDir()}}, log, nil)
	if r.p.builder.enricher != nil {
		t.Error("enricher set without a database")
	}
	testenv.WaitFor(t, 5*time.Second, "the start log line", func() bool { return strings.Contains(logs.String(), "GeoIP enrichment off") })
	r.stop(t)
	if c := strings.Count(logs.String(), "GeoIP"); c != 1 {
		t.Errorf("%d GeoIP log lines, want 1:\n%s", c, logs.String())
	}
}

// TestGeoIPReload: a database replaced on disk is swapped in on the next
// check; a broken replacement keeps the previous one; a file that appears
// later turns enrichment on.
func TestGeoIPReload(t *testing.T) {
	dir := t.TempDir()
	country, _ := testenv.WriteGeoIPDBs(t, dir, "", testGeo)
	asn := filepath.Join(dir, "later-ASN.mmdb")
	var logs testenv.SyncBuffer
	g, err := NewGeoIP(GeoIPConfig{CountryDB: country, ASNDB: asn, Reload: 20 * time.Millisecond},
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "GeoIP database file not found") || !strings.Contains(g.Describe(), "ASN waiting for") {
		t.Errorf("missing ASN file not reported:\n%s\n%s", logs.String(), g.Describe())
	}
	if e := lookup(g, "198.51.100.7"); e.Country != "SE" || e.ASN != 0 {
		t.Fatalf("before reload: %+v", e)
	}
	if g.Reload() {
		t.Fatal("Reload with nothing changed reported a change")
	}

	replaceGeoIPDBs(t, dir, country, asn)
	ctx := t.Context()
	go g.Run(ctx)
	testenv.WaitFor(t, 5*time.Second, "the reloaded databases", func() bool {
		e := lookup(g, "198.51.100.7")
		return e.Country == "NO" && e.ASN == 64999
	})
	if e := lookup(g, "203.0.113.1"); e.Country != "" {
		t.Errorf("old data after reload: %+v", e)
	}
	if !strings.Contains(logs.String(), "GeoIP database reloaded") || !strings.Contains(logs.String(), "GeoIP database appeared") {
		t.Errorf("reloads not logged:\n%s", logs.String())
	}

	// A truncated copy (a download cut short) must not replace a good one.
	if err := os.WriteFile(country, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if g.Reload() {
		t.Fatal("a broken file was swapped in")
	}
	if e := lookup(g, "198.51.100.7"); e.Country != "NO" {
		t.Fatalf("after a broken replacement: %+v", e)
	}
	if !strings.Contains(logs.String(), "previous version stays in use") {
		t.Errorf("broken replacement not logged:\n%s", logs.String())
	}
}

func TestGeoIPWrongDatabase(t *testing.T) {
	dir := t.TempDir()
	country, asn := testenv.WriteGeoIPDBs(t, dir, "", testGeo)
	// Swapped: an ASN database where the country one belongs, and back.
	_, err := NewGeoIP(GeoIPConfig{CountryDB: asn, ASNDB: country}, nil)
	if err == nil {
		t.Fatal("swapped databases accepted")
	}
	for _, want := range []string{"pseudonymize.geoip.country_db", "GeoLite2-ASN database", "pseudonymize.geoip.asn_db", "use a GeoLite2-ASN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	other := filepath.Join(dir, "other.mmdb")
	testenv.WriteMMDB(t, other, "Vendor-Blocklist", map[netip.Prefix]mmdbtype.Map{netip.MustParsePrefix("192.0.2.0/24"): {"x": mmdbtype.Bool(true)}})
	if _, err := NewGeoIP(GeoIPConfig{CountryDB: other}, nil); err == nil || !strings.Contains(err.Error(), "pseudonymize.geoip.country_db") {
		t.Errorf("unknown database type: %v", err)
	}
	garbage := filepath.Join(dir, "garbage.mmdb")
	os.WriteFile(garbage, []byte("nope"), 0o600)
	if _, err := NewGeoIP(GeoIPConfig{ASNDB: garbage}, nil); err == nil || !strings.Contains(err.Error(), "not a MaxMind-format database") {
		t.Errorf("garbage file: %v", err)
	}
	if _, err := New(Config{GeoIP: GeoIPConfig{ASNDB: garbage}}, startNATS(t).js, nil, nil); err == nil || !strings.Contains(err.Error(), "pseudonymize.geoip.asn_db") {
		t.Errorf("New with a garbage database: %v", err)
	}
}

// TestGeoIPOpenDataKnownAddresses looks well-known public addresses up in
// the open databases `make geoip` fetched and built, through the default
// path (no file configured), as the pseudonymiser does.
func TestGeoIPOpenDataKnownAddresses(t *testing.T) {
	dir := testenv.OpenGeoIPDir(t)
	g, err := NewGeoIP(GeoIPConfig{OpenDataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Configured() || !strings.Contains(g.Describe(), "country from open data") || !strings.Contains(g.Describe(), "ASN from open data") {
		t.Fatalf("open data not in use: %s", g.Describe())
	}
	tests := []struct {
		ip, country string
		asn         uint32
		org         string // a word of the AS organisation
	}{
		{"8.8.8.8", "US", 15169, "Google"},                  // Google Public DNS
		{"2001:4860:4860::8888", "US", 15169, "Google"},     // its IPv6 address
		{"1.1.1.1", "AU", 13335, "Cloudflare"},              // Cloudflare's resolver; registered to APNIC's research range in AU
		{"2606:4700:4700::1111", "US", 13335, "Cloudflare"}, // its IPv6 address
		{"9.9.9.9", "US", 19281, "Quad9"},                   // Quad9
		{"193.0.14.129", "NL", 25152, "RIPE NCC"},           // k.root-servers.net
		{"2002:808:808::1", "US", 15169, "Google"},          // 6to4 of 8.8.8.8: answered from the IPv4 data
		{"192.168.1.1", "", 0, ""},                          // private: unknown
	}
	for _, tt := range tests {
		e := lookup(g, tt.ip)
		if e.Country != tt.country || e.ASN != tt.asn || !strings.Contains(e.ASOrg, tt.org) {
			t.Errorf("%s: country %q AS%d %q; want %q AS%d containing %q", tt.ip, e.Country, e.ASN, e.ASOrg, tt.country, tt.asn, tt.org)
		}
	}
	// A configured MaxMind-format file takes precedence over the open data
	// for its kind; the other kind stays open.
	country, _ := testenv.WriteGeoIPDBs(t, t.TempDir(), "", map[netip.Prefix]testenv.GeoRecord{
		netip.MustParsePrefix("8.8.8.0/24"): {Country: "SE", ASN: 64500, ASOrg: "Example"},
	})
	g, err = NewGeoIP(GeoIPConfig{CountryDB: country, OpenDataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := lookup(g, "8.8.8.8"); e.Country != "SE" || e.ASN != 15169 {
		t.Errorf("configured country file with open AS data: %+v", e)
	}
	dbs := g.Databases()
	if len(dbs) != 2 || dbs[0].Origin != "pseudonymize.geoip.country_db" || dbs[1].Origin != "open data" ||
		dbs[1].Licence != "CC-BY-4.0" || !strings.Contains(dbs[1].Attribution, "DB-IP") || dbs[1].DataDate == "" {
		t.Errorf("Databases() = %+v", dbs)
	}
	// Off means off.
	g, err = NewGeoIP(GeoIPConfig{OpenData: OpenDataOff, OpenDataDir: dir}, nil)
	if err != nil || g.Configured() {
		t.Errorf("open_data off: configured %v, err %v", g.Configured(), err)
	}
}

// replaceGeoIPDBs puts new databases in place of country and asn,
// geoipupdate's way (a new file renamed over the old one): 198.51.100.0/24
// moved to NO, AS 64999 "Moved AS", the other networks gone.
func replaceGeoIPDBs(t *testing.T, dir, country, asn string) {
	t.Helper()
	moved := map[netip.Prefix]testenv.GeoRecord{netip.MustParsePrefix("198.51.100.0/24"): {Country: "NO", ASN: 64999, ASOrg: "Moved AS"}}
	newCountry, newASN := testenv.WriteGeoIPDBs(t, dir, "v2-", moved)
	if err := os.Rename(newCountry, country); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(newASN, asn); err != nil {
		t.Fatal(err)
	}
}

// TestGeoIPRemembersClients: lookups are remembered by client id and epoch
// (the id is the address's under the epoch's salt); another client in the
// same slot, the same id in another epoch and a reloaded database each get
// their own answer.
func TestGeoIPRemembersClients(t *testing.T) {
	dir := t.TempDir()
	country, asn := testenv.WriteGeoIPDBs(t, dir, "", testGeo)
	g, err := NewGeoIP(GeoIPConfig{CountryDB: country, ASNDB: asn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	enrich := func(ip string, client uint64, epoch uint32) string {
		e := event.Event{ClientID: client, Epoch: epoch}
		g.Enrich(netip.MustParseAddr(ip), &e)
		return fmt.Sprintf("%s %d %s", e.Country, e.ASN, e.ASOrg)
	}
	for _, c := range []struct {
		ip     string
		client uint64
		epoch  uint32
		want   string
	}{
		{"198.51.100.7", 7, 1, "SE 64500 Example Telecom AB"},
		{"203.0.113.9", 7 + geoCacheSlots, 1, "DE 64501 Beispiel GmbH"}, // the same slot
		{"198.51.100.7", 7, 1, "SE 64500 Example Telecom AB"},
		{"2001:db8::1", 7, 2, "JP 64502 Rei KK"}, // the same id in another epoch
		// Remembered: an id stands for one address, so the address is
		// not looked at again (this one the databases do not know).
		{"192.0.2.1", 7, 2, "JP 64502 Rei KK"},
		{"192.0.2.1", 0, 2, " 0 "}, // no id: looked up
	} {
		if got := enrich(c.ip, c.client, c.epoch); got != c.want {
			t.Errorf("%s as client %d of epoch %d: %q, want %q", c.ip, c.client, c.epoch, got, c.want)
		}
	}
	replaceGeoIPDBs(t, dir, country, asn)
	if !g.Reload() {
		t.Fatal("the new databases were not loaded")
	}
	if got := enrich("198.51.100.7", 7, 1); got != "NO 64999 Moved AS" {
		t.Errorf("after a reload: %q, want the new databases' answer", got)
	}
}

// BenchmarkGeoIPEnrich looks up requests of 50,000 clients, the busiest far more
// often (Zipf, as in real logs), in the open databases (`make geoip`):
// "remembered" as the builder calls it (ids set), "looked-up" without ids.
func BenchmarkGeoIPEnrich(b *testing.B) {
	g, err := NewGeoIP(GeoIPConfig{}, nil)
	if err != nil || !g.Configured() {
		b.Skipf("no open GeoIP data (make geoip): %v", err)
	}
	keys := mustKeys(b, 1, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	clients := make([]netip.Addr, 50_000)
	for i := range clients {
		clients[i] = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
	}
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(clients)-1))
	order := make([]netip.Addr, 1<<20)
	for i := range order {
		order[i] = clients[zipf.Uint64()]
	}
	for _, remembered := range []bool{true, false} {
		name := map[bool]string{true: "remembered", false: "looked-up"}[remembered]
		b.Run(name, func(b *testing.B) {
			var e event.Event
			i := 0
			for b.Loop() {
				ip := order[i%len(order)]
				i++
				e = event.Event{Epoch: keys.Epoch()}
				if remembered {
					e.ClientID = keys.ClientID(ip)
				}
				g.Enrich(ip, &e)
			}
		})
	}
}
