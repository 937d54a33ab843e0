package analyze

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OffenderGroup is one client, network or AS with every rule that caught
// it: a client that tripped five rules is one group, not five offenders.
type OffenderGroup struct {
	Scope string // ScopeClient, ScopeNetwork or ScopeASN
	Site  string
	ID    string
	Epoch uint32
	// Severity is the highest of its rules'.
	Severity int
	// Requests is the most any of its rules counted (rules count the
	// offender's requests over the same range, some only the relevant
	// ones).
	Requests            uint64
	FirstSeen, LastSeen time.Time
	Country             string
	ASN                 uint32
	// Matches are its rules' detections, highest severity first, then by
	// rule name; Matches[0] is its primary rule.
	Matches []Offender
}

// Rules are the names of the rules that caught the group, in Matches order.
func (g OffenderGroup) Rules() []string {
	out := make([]string, len(g.Matches))
	for i, m := range g.Matches {
		out[i] = m.Rule
	}
	return out
}

// Categories are the distinct categories of its rules, in Matches order.
func (g OffenderGroup) Categories() []string {
	var out []string
	for _, m := range g.Matches {
		if !slices.Contains(out, m.Category) {
			out = append(out, m.Category)
		}
	}
	return out
}

// Signatures are the distinct exploit or probe signatures its rules
// matched ("id (CVE)"), in Matches order.
func (g OffenderGroup) Signatures() []string {
	out := []string{}
	for _, m := range g.Matches {
		for _, sig := range m.Signatures {
			if !slices.Contains(out, sig) {
				out = append(out, sig)
			}
		}
	}
	return out
}

// EvidenceText is every rule's evidence in one line:
// "rule: name=value ...; rule2: ...".
func (g OffenderGroup) EvidenceText() string {
	parts := make([]string, len(g.Matches))
	for i, m := range g.Matches {
		parts[i] = m.Rule + ": " + EvidenceText(m.Evidence)
	}
	return strings.Join(parts, "; ")
}

// EvidenceText writes evidence as "name=value ..." in name order.
func EvidenceText(ev map[string]float64) string {
	keys := make([]string, 0, len(ev))
	for k := range ev {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, 24*len(keys))
	for i, k := range keys {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(append(b, k...), '=')
		b = strconv.AppendFloat(b, ev[k], 'g', -1, 64)
	}
	return string(b)
}

// groupKey identifies an offender across rules: ids are per salt epoch and
// per site (rules group by site).
type groupKey struct {
	scope, site, id string
	epoch           uint32
}

// GroupOffenders merges the offenders of several rules into one group per
// scope, site, epoch and id, ordered by highest severity, then requests,
// then number of rules (most first), then site and id.
func GroupOffenders(offs []Offender) []OffenderGroup {
	index := make(map[groupKey]int, len(offs))
	out := make([]OffenderGroup, 0, len(offs))
	for _, o := range offs {
		k := groupKey{o.Scope, o.Site, o.ID, o.Epoch}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, OffenderGroup{Scope: o.Scope, Site: o.Site, ID: o.ID, Epoch: o.Epoch,
				FirstSeen: o.FirstSeen, LastSeen: o.LastSeen, Country: o.Country, ASN: o.ASN})
		}
		g := &out[i]
		g.Matches = append(g.Matches, o)
		g.Severity = max(g.Severity, o.Severity)
		g.Requests = max(g.Requests, o.Requests)
		if !o.FirstSeen.IsZero() && (g.FirstSeen.IsZero() || o.FirstSeen.Before(g.FirstSeen)) {
			g.FirstSeen = o.FirstSeen
		}
		if o.LastSeen.After(g.LastSeen) {
			g.LastSeen = o.LastSeen
		}
		g.Country = cmp.Or(g.Country, o.Country)
		g.ASN = cmp.Or(g.ASN, o.ASN)
	}
	for i := range out {
		slices.SortStableFunc(out[i].Matches, func(a, b Offender) int {
			return cmp.Or(cmp.Compare(b.Severity, a.Severity), strings.Compare(a.Rule, b.Rule))
		})
	}
	sortStableBy(out, func(a, b *OffenderGroup) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(b.Requests, a.Requests),
			cmp.Compare(len(b.Matches), len(a.Matches)), strings.Compare(a.Site, b.Site),
			strings.Compare(a.Scope, b.Scope), strings.Compare(a.ID, b.ID), cmp.Compare(a.Epoch, b.Epoch))
	})
	return out
}
