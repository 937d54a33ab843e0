package web

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// FuzzThreatsJSON: the threats response written by hand is the bytes
// encoding/json writes, for any strings, evidence values and times; a
// time encoding/json refuses sends the response back to it.
func FuzzThreatsJSON(f *testing.F) {
	f.Add("www.example.org", "exploit-attempt", "1434949672837658355", "<&>\u2028é\x01\xff", "hits", 2.5, int64(1765000000123456789), 0, uint8(3))
	f.Add("", "", "", "", "", math.NaN(), int64(-62135596800000000), 3600, uint8(1))
	f.Add("s", "r", "i", "c", "k", math.Inf(1), int64(253402300800000000000/1000), -5400, uint8(0))
	f.Fuzz(func(t *testing.T, site, rule, id, country, key string, ev float64, ns int64, off int, n uint8) {
		at := time.Unix(0, ns).In(time.FixedZone("z", off%(48*3600)))
		r := threatsResp{Site: site, Since: at, Until: at.Add(time.Hour), Rules: []ruleInfo{{Name: rule, Description: country}},
			Total: off, Matched: int(n), Offenders: []offender{}, Categories: []categoryCount{{Category: rule, Offenders: int(n)}}}
		for i := range int(n % 5) {
			m := match{Rule: rule, Category: key, Severity: i, Scope: "client", Site: site, ID: id, Epoch: uint32(i), Requests: uint64(ns),
				Evidence: map[string]num{key: num(ev), "n": num(i), "z" + key: num(-ev / 3)}, FirstSeen: at, LastSeen: at.Add(time.Duration(i))}
			o := offender{Rule: rule, Category: key, Severity: i, Scope: "network", Site: site, ID: id, Epoch: uint32(i), Requests: uint64(i),
				Evidence: m.Evidence, FirstSeen: at.UTC(), LastSeen: at, Country: country, ASN: uint32(i),
				Rules: []string{rule, key}, Categories: []string{}, Matches: []match{m, m}}
			switch i {
			case 1:
				o.Signatures = []string{country, id}
				o.Evidence = nil
			case 2:
				o.Rules, o.Matches, o.Signatures = nil, nil, []string{}
			case 3:
				o.Evidence = map[string]num{}
			}
			r.Offenders = append(r.Offenders, o)
		}
		if n%7 == 6 {
			r.Offenders = nil
		}
		var want bytes.Buffer
		werr := json.NewEncoder(&want).Encode(r)
		got, gerr := r.appendJSON(nil)
		if werr != nil {
			if gerr == nil {
				t.Fatalf("encoding/json refuses (%v), the hand-written encoder wrote %.200s", werr, got)
			}
			return
		}
		if gerr != nil {
			if gerr == errByReflection {
				return // encoding/json writes it; the API falls back to it
			}
			t.Fatal(gerr)
		}
		if got = append(got, '\n'); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("hand-written:\n%s\nencoding/json:\n%s", got, want.Bytes())
		}
	})
}

// BenchmarkThreatsJSON writes a month's threats response: 15,500 offenders
// of one or two rules with three evidence values each.
func BenchmarkThreatsJSON(b *testing.B) {
	at := time.Date(2026, 12, 6, 12, 4, 39, 249e6, time.UTC)
	r := threatsResp{Since: at, Until: at, Rules: []ruleInfo{}, Categories: []categoryCount{}}
	for i := range 15500 {
		m := match{Rule: "tool-user-agent", Category: "tool", Severity: 2, Scope: "client", Site: "www.example.org", ID: "1434949672837658355",
			Epoch: 20793, Requests: 41, Evidence: map[string]num{"tool_agent_requests": 41, "distinct_agents": 1, "share": 0.25}, FirstSeen: at, LastSeen: at}
		o := offender{Rule: m.Rule, Category: m.Category, Severity: 2, Scope: "client", Site: m.Site, ID: m.ID, Epoch: m.Epoch, Requests: 41,
			Evidence: m.Evidence, FirstSeen: at, LastSeen: at, Country: "SG", ASN: 4134, Rules: []string{m.Rule}, Categories: []string{"tool"},
			Matches: []match{m}}
		if i%3 == 0 {
			o.Matches = append(o.Matches, m)
		}
		r.Offenders = append(r.Offenders, o)
	}
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.appendJSON(nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			if err := json.NewEncoder(&buf).Encode(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
