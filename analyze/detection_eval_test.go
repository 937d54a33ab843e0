package analyze

import (
	"bufio"
	"hash/fnv"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/logformat"
)

// labelledLog is an access log read into rows, with each client's label.
type labelledLog struct {
	rows  []row
	label map[string]string // client id → family ("benign" for none)
	ip    map[string]string // client id → address, for messages
}

// readLabelledLog parses a combined-format log. A "# family: what" line
// labels the clients of the lines after it; unlabelled clients get
// defaultLabel. Times are moved so that the last request is a minute ago.
func readLabelledLog(t *testing.T, path, site, defaultLabel string) labelledLog {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := labelledLog{label: map[string]string{}, ip: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	label := defaultLabel
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") {
			if fam, _, ok := strings.Cut(strings.TrimSpace(text[1:]), ":"); ok && !strings.Contains(fam, " ") {
				label = fam
			}
			continue
		}
		var raw event.Raw
		if err := logformat.ParseCombined([]byte(text), &raw); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		id, net := pseudo(raw.ClientIP.String()), pseudo(netip.PrefixFrom(raw.ClientIP, 24).Masked().String())
		key := strconv.FormatUint(id, 10)
		if old, ok := l.label[key]; ok && old != label {
			t.Fatalf("%s:%d: client %s labelled %s and %s", path, n, raw.ClientIP, old, label)
		}
		l.label[key], l.ip[key] = label, raw.ClientIP.String()
		l.rows = append(l.rows, row{ts: raw.Time, site: site, client: id, net: net, method: raw.Method, target: raw.Target,
			status: raw.Status, bytes: raw.Bytes, ua: raw.UserAgent, ref: raw.Referrer})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	last := slices.MaxFunc(l.rows, func(a, b row) int { return a.ts.Compare(b.ts) }).ts
	shift := time.Now().Add(-time.Minute).Sub(last)
	for i := range l.rows {
		l.rows[i].ts = l.rows[i].ts.Add(shift).UTC()
	}
	return l
}

// pseudo stands in for the keyed pseudonyms of the pipeline.
func pseudo(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64() >> 1
}

// evaluate loads l, runs every built-in rule over it and returns the
// offenders.
func evaluate(t *testing.T, l labelledLog) []Offender {
	t.Helper()
	conn := openConn(t)
	db := testDB(t, conn)
	insert(t, conn, db, l.rows)
	first := slices.MinFunc(l.rows, func(a, b row) int { return a.ts.Compare(b.ts) }).ts
	th, err := ThreatReport(t.Context(), conn, db, loadBuiltin(t), Filter{Since: first.Add(-time.Hour), Until: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return th.Offenders
}

// Thresholds of the detection evaluation: every family is found, and no
// rule reports a benign client.
const (
	minFamilyRecall  = 1.0
	minRulePrecision = 1.0
)

// TestDetectionCorpus runs every rule over the labelled corpus and prints
// precision per rule and recall per family; it fails below the thresholds.
func TestDetectionCorpus(t *testing.T) {
	l := readLabelledLog(t, "testdata/detections/corpus.log", "corpus.example", "benign")
	offs := evaluate(t, l)
	found := map[string]bool{}         // client ids reported by any rule
	ruleHits := map[string][2]int{}    // rule → attackers, benign
	campaigns := map[string]Offender{} // campaign findings by id
	for _, o := range offs {
		h := ruleHits[o.Rule]
		switch o.Scope {
		case ScopeClient:
			fam := l.label[o.ID]
			if fam == "" || fam == "benign" {
				h[1]++
				t.Errorf("benign client %s reported by %s: %v", l.ip[o.ID], o.Rule, o.Evidence)
			} else {
				h[0]++
				found[o.ID] = true
			}
		case ScopeCampaign:
			campaigns[o.ID] = o
			h[0]++
		default:
			h[1]++
			t.Errorf("%s %s reported by %s: the corpus has no distributed attack of that scope", o.Scope, o.ID, o.Rule)
		}
		ruleHits[o.Rule] = h
	}
	families := map[string][2]int{} // family → found, clients
	for id, fam := range l.label {
		if fam == "benign" {
			continue
		}
		c := families[fam]
		c[1]++
		if found[id] {
			c[0]++
		} else {
			t.Errorf("%s client %s not reported", fam, l.ip[id])
		}
		families[fam] = c
	}
	for _, fam := range slices.Sorted(maps.Keys(families)) {
		c := families[fam]
		recall := float64(c[0]) / float64(c[1])
		t.Logf("family %-15s recall %.3f (%d of %d clients)", fam, recall, c[0], c[1])
		if recall < minFamilyRecall {
			t.Errorf("family %s: recall %.3f, want at least %.2f", fam, recall, minFamilyRecall)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(ruleHits)) {
		h := ruleHits[r]
		precision := float64(h[0]) / float64(h[0]+h[1])
		t.Logf("rule %-22s precision %.3f (%d offenders, %d benign)", r, precision, h[0]+h[1], h[1])
		if precision < minRulePrecision {
			t.Errorf("rule %s: precision %.3f, want at least %.2f", r, precision, minRulePrecision)
		}
	}
	if c, ok := campaigns["user_agent=(none)"]; !ok || len(campaigns) != 1 {
		t.Errorf("campaigns %v, want one of user_agent=(none)", campaigns)
	} else {
		t.Logf("campaign %s: %v", c.ID, c.Evidence)
	}
	// Each exploit finding names its signature, with the CVE when there is one.
	for _, o := range offs {
		if o.Rule == "exploit-attempt" && len(o.Signatures) == 0 {
			t.Errorf("exploit finding for %s names no signature", l.ip[o.ID])
		}
		if o.Rule == "exploit-attempt" && slices.ContainsFunc(o.Signatures, func(s string) bool { return strings.HasPrefix(s, "log4shell") }) &&
			!slices.Contains(o.Signatures, "log4shell (CVE-2021-44228)") {
			t.Errorf("log4shell finding without its CVE: %v", o.Signatures)
		}
	}
}

// TestDetectionSecRepo runs every rule over a real day of a real site: the
// exploit kit and the upload-shell scan are the only offenders.
func TestDetectionSecRepo(t *testing.T) {
	l := readLabelledLog(t, "testdata/secrepo-access-2021-10-22.log", "www.secrepo.com", "")
	offs := evaluate(t, l)
	want := []string{"125.78.229.99", "44.195.86.98"}
	var got []string
	for _, o := range offs {
		t.Logf("%s %s (%s): %v %v", o.Rule, l.ip[o.ID], o.Scope, o.Evidence, o.Signatures)
		if o.Scope != ScopeClient {
			t.Errorf("%s finding %s by %s: want client offenders only", o.Scope, o.ID, o.Rule)
			continue
		}
		if !slices.Contains(got, l.ip[o.ID]) {
			got = append(got, l.ip[o.ID])
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("offenders %v, want %v", got, want)
	}
}
