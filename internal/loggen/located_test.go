package loggen

import (
	"testing"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// TestClientsAreLocated: the generated addresses lie in allocated networks,
// so the open GeoIP data `make geoip` builds (what `make run` uses) gives
// every demo client a country and an AS, and many different ones.
func TestClientsAreLocated(t *testing.T) {
	dir := testenv.OpenGeoIPDir(t)
	g, err := pseudonymize.NewGeoIP(pseudonymize.GeoIPConfig{OpenDataDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	countries, ases := map[string]int{}, map[uint32]int{}
	ips := New(Config{Seed: 7, Clients: 5000, IPv6Share: 0.25, Start: start}).Clients()
	for _, ip := range ips {
		var e event.Event
		g.Enrich(ip, &e)
		if e.Country == "" || e.ASN == 0 || e.ASOrg == "" {
			t.Errorf("%v: country %q AS%d %q", ip, e.Country, e.ASN, e.ASOrg)
		}
		countries[e.Country]++
		ases[e.ASN]++
	}
	if len(countries) < 30 || len(ases) < 60 {
		t.Errorf("only %d countries and %d ASes among %d clients", len(countries), len(ases), len(ips))
	}
}
