package web

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/vakt-dev/vakt/analyze"
)

// match is one rule's detection of an offender.
type match struct {
	Rule      string         `json:"rule"`
	Category  string         `json:"category"`
	Severity  int            `json:"severity"`
	Scope     string         `json:"scope"`
	Site      string         `json:"site"`
	ID        string         `json:"id"`
	Epoch     uint32         `json:"epoch"`
	Requests  uint64         `json:"requests"`
	Evidence  map[string]num `json:"evidence"`
	FirstSeen time.Time      `json:"first_seen"`
	LastSeen  time.Time      `json:"last_seen"`
}

func toMatch(o analyze.Offender, severity map[string]int) match {
	ev := make(map[string]num, len(o.Evidence))
	for k, v := range o.Evidence {
		ev[k] = num(v)
	}
	return match{Rule: o.Rule, Category: o.Category, Severity: cmp.Or(o.Severity, severity[o.Rule]), Scope: o.Scope, Site: o.Site,
		ID: o.ID, Epoch: o.Epoch, Requests: o.Requests, Evidence: ev, FirstSeen: o.FirstSeen.UTC(), LastSeen: o.LastSeen.UTC()}
}

// toOffender is one row of the threats table: an offender with all its
// rules.
func toOffender(g analyze.OffenderGroup, severity map[string]int) offender {
	o := offender{Scope: g.Scope, Site: g.Site, ID: g.ID, Epoch: g.Epoch, Requests: g.Requests,
		FirstSeen: g.FirstSeen.UTC(), LastSeen: g.LastSeen.UTC(), Country: g.Country, ASN: g.ASN,
		Rules: g.Rules(), Categories: g.Categories(), Matches: []match{}, Signatures: g.Signatures()}
	for _, m := range g.Matches {
		o.Matches = append(o.Matches, toMatch(m, severity))
	}
	p := o.Matches[0]
	o.Rule, o.Category, o.Evidence = p.Rule, p.Category, p.Evidence
	for _, m := range o.Matches {
		o.Severity = max(o.Severity, m.Severity)
	}
	return o
}

// ---- /api/client

type clientSummary struct {
	Requests      uint64     `json:"requests"`
	Status2xx     uint64     `json:"s2xx"`
	Status3xx     uint64     `json:"s3xx"`
	Status4xx     uint64     `json:"s4xx"`
	Status5xx     uint64     `json:"s5xx"`
	StatusOther   uint64     `json:"s_other"`
	Bytes         uint64     `json:"bytes"`
	DistinctPaths uint64     `json:"distinct_paths"`
	Clients       uint64     `json:"clients"`
	FirstSeen     *time.Time `json:"first_seen"` // null without requests
	LastSeen      *time.Time `json:"last_seen"`
	Sites         []string   `json:"sites"`
	Epochs        []uint32   `json:"epochs"`
	Networks      []epochID  `json:"networks"`
	Country       string     `json:"country"`
	ASN           uint32     `json:"asn"`
	ASOrg         string     `json:"as_org"`
}

type epochID struct {
	ID    string `json:"id"`
	Epoch uint32 `json:"epoch"`
}

type clientPoint struct {
	T         int64  `json:"t"` // bucket start, Unix milliseconds
	Requests  uint64 `json:"requests"`
	Status4xx uint64 `json:"s4xx"`
	Status5xx uint64 `json:"s5xx"`
}

type clientPath struct {
	Path     string    `json:"path"`
	Status   uint16    `json:"status"`
	Requests uint64    `json:"requests"`
	LastSeen time.Time `json:"last_seen"`
}

type neighbour struct {
	ID            string    `json:"id"`
	Epoch         uint32    `json:"epoch"`
	Requests      uint64    `json:"requests"`
	Status4xx     uint64    `json:"s4xx"`
	Status5xx     uint64    `json:"s5xx"`
	DistinctPaths uint64    `json:"distinct_paths"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
	Rules         []string  `json:"rules"`
}

type clientResp struct {
	Scope         string        `json:"scope"`
	ID            string        `json:"id"`
	Epoch         uint32        `json:"epoch"` // 0: every epoch
	Site          string        `json:"site"`
	Since         time.Time     `json:"since"`
	Until         time.Time     `json:"until"`
	BucketSeconds float64       `json:"bucket_seconds"`
	Summary       clientSummary `json:"summary"`
	Series        []clientPoint `json:"series"`
	Paths         []clientPath  `json:"paths"`
	UserAgents    []topEntry    `json:"user_agents"`
	Referrers     []topEntry    `json:"referrers"`
	Matches       []match       `json:"matches"`
	Neighbours    []neighbour   `json:"neighbours"`
}

// client is the investigation page's data: analyze.ClientReport, the
// same code as `vakt report client`.
func (d *Dashboard) client(ctx context.Context, q url.Values) (any, error) {
	f, err := rangeFilter(q, d.o.Now().UTC(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	cq := analyze.ClientQuery{Scope: cmp.Or(q.Get("scope"), analyze.ScopeClient), ID: q.Get("id")}
	if s := q.Get("epoch"); s != "" {
		e, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, badRequest{fmt.Sprintf("epoch: %q is not an epoch number", s)}
		}
		cq.Epoch = uint32(e)
	}
	if s := q.Get("n"); s != "" {
		if cq.N, err = strconv.Atoi(s); err != nil || cq.N < 1 || cq.N > maxN {
			return nil, badRequest{fmt.Sprintf("n: %q is not a number from 1 to %d", s, maxN)}
		}
	}
	if cq.ID == "" {
		return nil, badRequest{"id: name the client, network or AS, as the threats table and top lists show it"}
	}
	if err := cq.Check(); err != nil {
		return nil, badRequest{err.Error()}
	}
	rules, err := analyze.LoadRules(d.o.RuleDirs...)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	c, err := analyze.ClientReport(ctx, d.o.CH, d.o.Database, rules, f, cq)
	if err != nil {
		return nil, err
	}
	return clientResponse(c, rules), nil
}

func clientResponse(c *analyze.Client, rules []analyze.Rule) clientResp {
	severity := map[string]int{}
	for _, r := range rules {
		severity[r.Name] = r.Severity
	}
	s := c.Summary
	r := clientResp{Scope: c.Query.Scope, ID: c.Query.ID, Epoch: c.Query.Epoch, Site: c.Filter.Site, Since: c.Filter.Since,
		Until: c.Filter.Until, BucketSeconds: c.Filter.Bucket.Seconds(),
		Summary: clientSummary{Requests: s.Requests, Status2xx: s.Status2xx, Status3xx: s.Status3xx, Status4xx: s.Status4xx,
			Status5xx: s.Status5xx, StatusOther: s.StatusOther, Bytes: s.Bytes, DistinctPaths: s.DistinctPaths, Clients: s.Clients,
			Sites: append([]string{}, s.Sites...), Epochs: append([]uint32{}, s.Epochs...), Networks: []epochID{},
			Country: s.Country, ASN: s.ASN, ASOrg: s.ASOrg},
		Series: []clientPoint{}, Paths: []clientPath{}, Matches: []match{}, Neighbours: []neighbour{},
		UserAgents: toEntries(c.UserAgents), Referrers: toEntries(c.Referrers)}
	if s.Requests > 0 {
		r.Summary.FirstSeen, r.Summary.LastSeen = &s.FirstSeen, &s.LastSeen
	}
	for _, n := range s.Networks {
		r.Summary.Networks = append(r.Summary.Networks, epochID{n.ID, n.Epoch})
	}
	for _, p := range c.Series {
		r.Series = append(r.Series, clientPoint{T: p.Time.UnixMilli(), Requests: p.Requests, Status4xx: p.Status4xx, Status5xx: p.Status5xx})
	}
	for _, p := range c.Paths {
		r.Paths = append(r.Paths, clientPath{Path: p.Path, Status: p.Status, Requests: p.Requests, LastSeen: p.LastSeen})
	}
	for _, m := range c.Matches {
		r.Matches = append(r.Matches, toMatch(m, severity))
	}
	for _, n := range c.Neighbours {
		r.Neighbours = append(r.Neighbours, neighbour{ID: n.ID, Epoch: n.Epoch, Requests: n.Requests, Status4xx: n.Status4xx,
			Status5xx: n.Status5xx, DistinctPaths: n.DistinctPaths, FirstSeen: n.FirstSeen, LastSeen: n.LastSeen, Rules: n.Rules})
	}
	return r
}

func toEntries(es []analyze.TopEntry) []topEntry {
	out := make([]topEntry, 0, len(es))
	for _, e := range es {
		out = append(out, topEntry{Key: e.Key, Label: e.Label, Requests: e.Requests, Share: num(e.Share)})
	}
	return out
}
