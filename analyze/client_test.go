package analyze

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/output"
)

// TestClientReport investigates an attacker that tripped two rules, in two
// salt epochs, next to a benign client of its network and one of another
// network, and checks every part of the report against the rows stored.
func TestClientReport(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := time.Now().UTC()
	at := now.Add(-time.Hour).Truncate(time.Minute)
	const neighbour, stranger = attacker + 1, attacker + 4 // same /24 as the attacker (id/4), and another
	var rows []row
	rows = append(rows, ruleCases["sql-injection"][0].rows("a.example", at)...)
	rows = append(rows, ruleCases["xss"][0].rows("a.example", at.Add(10*time.Minute))...)
	rows = append(rows, burst(4, at, time.Minute, with(client(attacker, "a.example", firefox), func(i int, r *row) { r.target, r.status = "/", 200 }))...)
	for i := range rows {
		rows[i].country, rows[i].asn = "NL", 64500
	}
	// The same id in the next epoch is another client (its own salt).
	rows = append(rows, burst(3, at, time.Minute, with(client(attacker, "a.example", firefox), func(i int, r *row) { r.epoch, r.target = testEpoch+1, "/other" }))...)
	rows = append(rows, burst(5, at, time.Minute, with(client(neighbour, "a.example", browserUAs[0]), func(i int, r *row) { r.target, r.status = "/", 200 }))...)
	rows = append(rows, burst(7, at, time.Minute, with(client(stranger, "a.example", browserUAs[0]), func(i int, r *row) { r.target, r.status = "/", 200 }))...)
	insert(t, conn, db, rows)
	// Two requests with a referrer (insert writes none).
	err := conn.Exec(t.Context(), fmt.Sprintf("INSERT INTO `%s`.requests (ts, site, client_id, network_id, epoch, path, status, referrer, user_agent, country, asn) VALUES "+
		"('%s', 'a.example', %d, %d, %d, '/pricing', 200, 'https://ref.example/page?x=1', 'curl/8.0', 'NL', 64500), "+
		"('%s', 'a.example', %d, %d, %d, '/pricing', 200, 'https://ref.example/other', 'curl/8.0', 'NL', 64500)",
		db, at.Add(20*time.Minute).Format(paramTime), attacker, attacker/4, testEpoch, at.Add(21*time.Minute).Format(paramTime), attacker, attacker/4, testEpoch))
	if err != nil {
		t.Fatal(err)
	}
	f := Filter{Since: now.Add(-2 * time.Hour), Until: now}
	c, err := ClientReport(t.Context(), conn, db, loadBuiltin(t), f, ClientQuery{ID: fmt.Sprint(attacker), Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Summary
	// 3 injections (500), 3 scripts (200), 4 visits (200), 2 referred (200);
	// paths without queries: /products /search /item.php /contact / /pricing.
	if s.Requests != 12 || s.Status5xx != 3 || s.Status2xx != 9 || s.DistinctPaths != 6 || s.Country != "NL" || s.ASN != 64500 ||
		!slices.Equal(s.Epochs, []uint32{testEpoch}) || !slices.Equal(s.Sites, []string{"a.example"}) || len(s.Networks) != 1 ||
		s.Networks[0] != (EpochID{fmt.Sprint(attacker / 4), testEpoch}) || !s.FirstSeen.Equal(at) {
		t.Errorf("summary %+v", s)
	}
	var sum uint64
	for _, p := range c.Series {
		sum += p.Requests
	}
	if sum != s.Requests || c.Filter.Bucket != time.Minute {
		t.Errorf("series: %d requests in %s buckets, summary %d", sum, c.Filter.Bucket, s.Requests)
	}
	if len(c.Paths) == 0 || c.Paths[0] != (ClientPath{Path: "/", Status: 200, Requests: 4, LastSeen: at.Add(3 * time.Minute)}) {
		t.Errorf("paths %+v", c.Paths)
	}
	if !slices.Equal(c.Referrers, []TopEntry{{Key: "", Requests: 10, Share: 10.0 / 12}, {Key: "ref.example", Requests: 2, Share: 2.0 / 12}}) {
		t.Errorf("referrers %+v", c.Referrers)
	}
	if len(c.UserAgents) != 2 || c.UserAgents[0].Key != firefox || c.UserAgents[0].Requests != 10 {
		t.Errorf("user agents %+v", c.UserAgents)
	}
	var got []string
	for _, m := range c.Matches {
		got = append(got, m.Rule)
		if m.Scope != ScopeClient || m.ID != fmt.Sprint(attacker) || m.Epoch != testEpoch || len(m.Evidence) == 0 {
			t.Errorf("match %+v", m)
		}
	}
	if !slices.Equal(got, []string{"sql-injection", "xss"}) {
		t.Errorf("rules matched %v, want sql-injection and xss", got)
	}
	if len(c.Neighbours) != 1 || c.Neighbours[0].ID != fmt.Sprint(neighbour) || c.Neighbours[0].Requests != 5 || len(c.Neighbours[0].Rules) != 0 {
		t.Errorf("neighbours %+v, want only client %d with 5 requests", c.Neighbours, neighbour)
	}

	// Every epoch: the other epoch's requests join; the network's page
	// lists both its clients, with the attacker's rules.
	all, err := ClientReport(t.Context(), conn, db, loadBuiltin(t), f, ClientQuery{ID: fmt.Sprint(attacker)})
	if err != nil {
		t.Fatal(err)
	}
	if all.Summary.Requests != 15 || !slices.Equal(all.Summary.Epochs, []uint32{testEpoch, testEpoch + 1}) {
		t.Errorf("every epoch: %+v", all.Summary)
	}
	net, err := ClientReport(t.Context(), conn, db, loadBuiltin(t), f, ClientQuery{Scope: ScopeNetwork, ID: fmt.Sprint(attacker / 4), Epoch: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	if net.Summary.Requests != 17 || net.Summary.Clients != 2 || len(net.Neighbours) != 2 ||
		net.Neighbours[0].ID != fmt.Sprint(attacker) || !slices.Equal(net.Neighbours[0].Rules, []string{"sql-injection", "xss"}) {
		t.Errorf("network: %+v, clients %+v", net.Summary, net.Neighbours)
	}

	// The sections: json has one object per row, with its section.
	var b bytes.Buffer
	if err := writeSections(ClientSections(c, output.JSON), "", output.JSON, &b); err != nil {
		t.Fatal(err)
	}
	sections := map[string]int{}
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		sections[m["section"].(string)]++
	}
	want := map[string]int{"summary": 1, "series": len(c.Series), "paths": len(c.Paths), "user_agents": 2, "referrers": 2, "rules": 2, "network": 1}
	for k, n := range want {
		if sections[k] != n {
			t.Errorf("json: %d %s rows, want %d", sections[k], k, n)
		}
	}

	// Bad ids say what to write.
	for _, q := range []ClientQuery{{ID: "1.2.3.4"}, {Scope: ScopeASN, ID: "ASX"}, {Scope: "host", ID: "1"}} {
		if _, err := ClientReport(t.Context(), conn, db, nil, f, q); err == nil || !strings.Contains(err.Error(), "use ") {
			t.Errorf("%+v: %v", q, err)
		}
	}
}

// TestThreatSectionsGroupOffenders: a client caught by two rules is one
// row with both rules, the highest severity and each rule's evidence.
func TestThreatSectionsGroupOffenders(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	th := &Threats{Filter: Filter{Since: t0, Until: t0.Add(time.Hour)}, Offenders: []Offender{
		{Rule: "xss", Category: "xss", Scope: ScopeClient, Severity: 3, Site: "a", ID: "7", Epoch: 1, Requests: 10,
			Evidence: map[string]float64{"hits": 2}, FirstSeen: t0, LastSeen: t0.Add(time.Minute)},
		{Rule: "sqli", Category: "sql_injection", Scope: ScopeClient, Severity: 4, Site: "a", ID: "7", Epoch: 1, Requests: 12,
			Evidence: map[string]float64{"hits": 3}, FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(2 * time.Minute), Signatures: []string{"union-select"}},
		{Rule: "xss", Category: "xss", Scope: ScopeClient, Severity: 3, Site: "a", ID: "7", Epoch: 2, Requests: 1,
			Evidence: map[string]float64{"hits": 1}, FirstSeen: t0, LastSeen: t0},
	}}
	var b bytes.Buffer
	if err := writeSections(ThreatSections(th, output.TSV), "", output.TSV, &b); err != nil {
		t.Fatal(err)
	}
	want := "4\t['sqli','xss']\t['sql_injection','xss']\tclient\ta\t7\t1\t12\t2026-01-02 03:04:05.000\t2026-01-02 03:06:05.000\t\t0\tsqli: hits=3; xss: hits=2\tunion-select\n" +
		"3\t['xss']\t['xss']\tclient\ta\t7\t2\t1\t2026-01-02 03:04:05.000\t2026-01-02 03:04:05.000\t\t0\txss: hits=1\t\n"
	if b.String() != want {
		t.Errorf("tsv:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := writeSections(ThreatSections(th, output.JSON), "", output.JSON, &b); err != nil {
		t.Fatal(err)
	}
	var first struct {
		Rule, Category string
		Severity       int
		Rules          []string
		Evidence       map[string]float64
		Matches        []struct {
			Rule     string
			Evidence map[string]float64
		}
	}
	if err := json.Unmarshal([]byte(strings.SplitN(b.String(), "\n", 2)[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Rule != "sqli" || first.Category != "sql_injection" || first.Severity != 4 || !slices.Equal(first.Rules, []string{"sqli", "xss"}) ||
		first.Evidence["hits"] != 3 || len(first.Matches) != 2 || first.Matches[1].Evidence["hits"] != 2 {
		t.Errorf("json row %+v", first)
	}
}
