package analyze

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestDistributedBackupScan: a scan shaped like one seen on a real site
// (issue 16): 380 addresses in 52 /24 networks, no user agent, each asking
// 1 to 15 times for backup archives, wallets and client configs by HEAD,
// some through an http-to-https redirect, over three hours, among benign
// traffic. No client sends enough for a per-client rule, and no /24 enough
// for distributed-network; together they are one campaign, and at least
// 90 % of its clients are offenders.
func TestDistributedBackupScan(t *testing.T) {
	const (
		site     = "shop.example"
		clients  = 380
		networks = 52
		base     = 2_000_000
	)
	now := time.Now().UTC()
	start := now.Add(-4 * time.Hour)
	rows := background(site, start, 4*time.Hour, 600, 1000, 16)
	names := []string{"/restore/www.zip", "/www.zip", "/wwwroot.zip", "/backup.zip", "/backup.tar.gz", "/site.tar.gz",
		"/shop.example.rar", "/shop.example.tar.gz", "/shop.rar", "/shop.zip", "/wallet.dat", "/sftp-config.json",
		"/htdocs.rar", "/web.zip", "/public_html.tar.gz", "/restore/backup.rar", "/old/www.tgz"}
	r := rand.New(rand.NewPCG(16, 2))
	members := map[string]bool{}
	for c := range clients {
		id := uint64(base + c)
		members[strconv.FormatUint(id, 10)] = true
		net := uint64(base + c%networks)
		n := 1 + r.IntN(15)
		at := start.Add(time.Duration(r.Int64N(int64(3 * time.Hour))))
		for i := range n {
			target := names[r.IntN(len(names))]
			ts := at.Add(time.Duration(i) * time.Duration(1+r.IntN(30)) * time.Second)
			if r.IntN(3) == 0 { // sent to http first: redirected, then refused on https
				rows = append(rows, row{ts: ts, site: site, client: id, net: net, asn: uint32(64700 + c%9), method: "HEAD", target: target, status: 301})
				ts = ts.Add(200 * time.Millisecond)
			}
			rows = append(rows, row{ts: ts, site: site, client: id, net: net, asn: uint32(64700 + c%9), method: "HEAD", target: target, status: 404})
		}
	}
	conn := openConn(t)
	db := testDB(t, conn)
	insert(t, conn, db, rows)
	th, err := ThreatReport(t.Context(), conn, db, loadBuiltin(t), Filter{Site: site, Since: start.Add(-time.Minute), Until: now})
	if err != nil {
		t.Fatal(err)
	}
	var campaigns []Offender
	caught := map[string]bool{}
	for _, o := range th.Offenders {
		switch {
		case o.Scope == ScopeCampaign:
			campaigns = append(campaigns, o)
		case o.Scope == ScopeClient && members[o.ID]:
			caught[o.ID] = true
		case o.Scope == ScopeClient:
			t.Errorf("benign client %s reported by %s: %v", o.ID, o.Rule, o.Evidence)
		default:
			t.Logf("%s finding %s by %s: %v", o.Scope, o.ID, o.Rule, o.Evidence)
		}
	}
	if len(campaigns) != 1 {
		t.Fatalf("%d campaign findings, want 1: %+v", len(campaigns), campaigns)
	}
	c := campaigns[0]
	t.Logf("campaign %s: %v", c.ID, c.Evidence)
	if c.ID != "user_agent=(none)" || c.Evidence["clients"] < 0.9*clients || c.Evidence["networks"] != networks || c.Evidence["asns"] != 9 {
		t.Errorf("campaign %s evidence %v, want user_agent=(none) with at least %d clients in %d networks and 9 ASes", c.ID, c.Evidence, clients*9/10, networks)
	}
	share := float64(len(caught)) / clients
	t.Logf("%d of %d campaign clients are offenders (%.1f %%)", len(caught), clients, 100*share)
	if share < 0.9 {
		t.Errorf("%s of the campaign's clients are offenders, want at least 90 %%", fmt.Sprintf("%.1f %%", 100*share))
	}
}
