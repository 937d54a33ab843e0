package analyze

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultClientN is the length of each list of a client report when n <= 0.
const DefaultClientN = 20

// ClientQuery names what a client report investigates: a pseudonymous
// client (the default scope), a network or an AS, by the id reports show.
type ClientQuery struct {
	Scope string // ScopeClient (default), ScopeNetwork or ScopeASN
	ID    string
	// Epoch, when not 0, limits the report to that salt epoch (client and
	// network ids are pseudonyms of their epoch).
	Epoch uint32
	N     int // list length; DefaultClientN when <= 0
}

// Client is `vakt report client`: everything the store knows about one
// pseudonymous client (or network or AS) over a range.
type Client struct {
	Filter     Filter
	Query      ClientQuery
	Summary    ClientSummary
	Series     []ClientPoint // requests per Filter.Bucket, buckets with requests only
	Paths      []ClientPath  // by path and status, most requests first
	UserAgents []TopEntry
	Referrers  []TopEntry // by referrer host; "" is no referrer
	// Matches are the rules it matched, with their evidence: the rules of
	// its scope, and those that caught its network or AS.
	Matches []Offender
	// Neighbours are the other clients of its network (of the network, of
	// the AS for those scopes), most requests first, with their rules.
	Neighbours []ClientNeighbour
	// Took is how long each rule ran.
	Took []RuleTime
}

// ClientSummary is a client's activity over the range. Country, ASN and
// ASOrg are those of most of its requests.
type ClientSummary struct {
	Requests                                   uint64
	Status2xx, Status3xx, Status4xx, Status5xx uint64
	StatusOther                                uint64
	Bytes                                      uint64
	DistinctPaths                              uint64
	Clients                                    uint64 // distinct client ids (network and AS scope)
	FirstSeen, LastSeen                        time.Time
	Sites                                      []string
	Epochs                                     []uint32
	Networks                                   []EpochID // its networks, each of its epoch
	Country                                    string
	ASN                                        uint32
	ASOrg                                      string
}

// EpochID is a pseudonymous id and the salt epoch it belongs to.
type EpochID struct {
	ID    string
	Epoch uint32
}

// ClientPoint is a client's requests in one time bucket.
type ClientPoint struct {
	Time                           time.Time
	Requests, Status4xx, Status5xx uint64
}

// ClientPath is one path and status a client requested.
type ClientPath struct {
	Path     string
	Status   uint16
	Requests uint64
	LastSeen time.Time
}

// ClientNeighbour is another client of the same network.
type ClientNeighbour struct {
	ID                             string
	Epoch                          uint32
	Requests, Status4xx, Status5xx uint64
	DistinctPaths                  uint64
	FirstSeen, LastSeen            time.Time
	Rules                          []string // rules that caught it, by name
}

// subject is the SQL condition selecting the investigated rows.
func (q ClientQuery) subject() (string, any, error) {
	switch q.Scope {
	case ScopeClient, ScopeNetwork:
		if _, err := strconv.ParseUint(q.ID, 10, 64); err != nil {
			return "", nil, fmt.Errorf("%s id %q: use the pseudonymous id as reports and the dashboard show it, e.g. 12345678901234567890", q.Scope, q.ID)
		}
		col := map[string]string{ScopeClient: "client_id", ScopeNetwork: "network_id"}[q.Scope]
		return col + ` = {subject:UInt64} AND ({epoch:UInt32} = 0 OR epoch = {epoch:UInt32})`, q.ID, nil
	case ScopeASN:
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(q.ID), "AS"), 10, 32)
		if err != nil {
			return "", nil, fmt.Errorf("asn %q: use an AS number, e.g. 64500 or AS64500", q.ID)
		}
		return `asn = {subject:UInt32}`, strconv.FormatUint(n, 10), nil
	}
	return "", nil, fmt.Errorf("scope %q: use client, network or asn", q.Scope)
}

// Check validates the query: its scope and id.
func (q ClientQuery) Check() error {
	if q.Scope == "" {
		q.Scope = ScopeClient
	}
	_, _, err := q.subject()
	return err
}

// ClientReport investigates one client (or network or AS) over f: its
// requests over time, paths with statuses, user agents, referrer hosts,
// every rule of rules it matched with the evidence, its network's other
// clients, country and AS. When some rules fail, it returns the rest and
// an error naming them.
func ClientReport(ctx context.Context, conn driver.Conn, db string, rules []Rule, f Filter, q ClientQuery) (*Client, error) {
	f = f.Resolve(time.Now())
	if err := f.check(); err != nil {
		return nil, err
	}
	if q.Scope == "" {
		q.Scope = ScopeClient
	}
	if q.N <= 0 {
		q.N = DefaultClientN
	}
	if q.Scope == ScopeASN {
		q.Epoch = 0
	}
	cond, subject, err := q.subject()
	if err != nil {
		return nil, err
	}
	p := f.params()
	p["subject"] = fmt.Sprint(subject)
	p["epoch"] = strconv.FormatUint(uint64(q.Epoch), 10)
	p["bucket"] = strconv.FormatInt(int64(f.Bucket/time.Second), 10)
	p["n"] = strconv.Itoa(q.N)
	c := &Client{Filter: f, Query: q, Series: []ClientPoint{}, Paths: []ClientPath{}, UserAgents: []TopEntry{},
		Referrers: []TopEntry{}, Matches: []Offender{}, Neighbours: []ClientNeighbour{}}
	qctx := withParams(ctx, p)
	if err := c.queryActivity(qctx, conn, db, cond); err != nil {
		return nil, fmt.Errorf("client report: %w", err)
	}
	if c.Summary.Requests == 0 {
		return c, nil // nothing for the rules to find
	}
	// A rule that judges each offender by its own rows runs over the rows
	// of the offenders the page shows only (within.go): the same findings
	// for them, from a fraction of the rows.
	th, ruleErr := threatReport(ctx, conn, db, rules, f, c.ruleContext(ctx))
	if th == nil {
		return nil, ruleErr
	}
	c.Took = th.Took
	c.addMatches(th.Offenders)
	return c, ruleErr
}

// queryActivity runs the report's queries over the store.
func (c *Client) queryActivity(ctx context.Context, conn driver.Conn, db, cond string) error {
	base := ` FROM {db}.requests WHERE ` + where + ` AND ` + cond
	s := &c.Summary
	err := queryRows(ctx, conn, db, `SELECT count(), countIf(status >= 200 AND status < 300), countIf(status >= 300 AND status < 400),
		countIf(status >= 400 AND status < 500), countIf(status >= 500 AND status < 600), countIf(status < 200 OR status >= 600),
		sum(bytes), uniqExact(path), uniqExact(client_id), min(ts), max(ts),
		arraySort(groupUniqArray(100)(toString(site))), arraySort(groupUniqArray(100)(epoch))`+base,
		func(r driver.Rows) error {
			return r.Scan(&s.Requests, &s.Status2xx, &s.Status3xx, &s.Status4xx, &s.Status5xx, &s.StatusOther,
				&s.Bytes, &s.DistinctPaths, &s.Clients, &s.FirstSeen, &s.LastSeen, &s.Sites, &s.Epochs)
		})
	if err != nil || s.Requests == 0 {
		s.FirstSeen, s.LastSeen = time.Time{}, time.Time{}
		return err
	}
	s.FirstSeen, s.LastSeen = s.FirstSeen.UTC(), s.LastSeen.UTC()
	steps := []struct {
		query string
		scan  func(driver.Rows) error
	}{
		{`SELECT toString(country), asn, toString(as_org)` + base + ` GROUP BY country, asn, as_org ORDER BY count() DESC, country, asn, as_org LIMIT 1`,
			func(r driver.Rows) error { return r.Scan(&s.Country, &s.ASN, &s.ASOrg) }},
		{`SELECT DISTINCT toString(network_id) AS id, epoch` + base + ` ORDER BY epoch, id LIMIT ` + strconv.Itoa(maxListedNetworks),
			func(r driver.Rows) error {
				var e EpochID
				err := r.Scan(&e.ID, &e.Epoch)
				s.Networks = append(s.Networks, e)
				return err
			}},
		{`SELECT toDateTime64(toStartOfInterval(ts, INTERVAL {bucket:UInt32} SECOND), 3, 'UTC') AS t, count(),
			countIf(status >= 400 AND status < 500), countIf(status >= 500 AND status < 600)` + base + ` GROUP BY t ORDER BY t`,
			func(r driver.Rows) error {
				var p ClientPoint
				err := r.Scan(&p.Time, &p.Requests, &p.Status4xx, &p.Status5xx)
				p.Time = p.Time.UTC()
				c.Series = append(c.Series, p)
				return err
			}},
		{`SELECT path, status, count() AS n, max(ts)` + base + ` GROUP BY path, status ORDER BY n DESC, path, status LIMIT {n:UInt32}`,
			func(r driver.Rows) error {
				var p ClientPath
				err := r.Scan(&p.Path, &p.Status, &p.Requests, &p.LastSeen)
				p.LastSeen = p.LastSeen.UTC()
				c.Paths = append(c.Paths, p)
				return err
			}},
		{`SELECT toString(user_agent) AS k, count() AS n` + base + ` GROUP BY k ORDER BY n DESC, k LIMIT {n:UInt32}`,
			func(r driver.Rows) error { return scanEntry(r, &c.UserAgents, s.Requests) }},
		{`SELECT domain(referrer) AS k, count() AS n` + base + ` GROUP BY k ORDER BY n DESC, k LIMIT {n:UInt32}`,
			func(r driver.Rows) error { return scanEntry(r, &c.Referrers, s.Requests) }},
		{c.neighboursQuery(base),
			func(r driver.Rows) error {
				var nb ClientNeighbour
				err := r.Scan(&nb.ID, &nb.Epoch, &nb.Requests, &nb.Status4xx, &nb.Status5xx, &nb.DistinctPaths, &nb.FirstSeen, &nb.LastSeen)
				nb.FirstSeen, nb.LastSeen, nb.Rules = nb.FirstSeen.UTC(), nb.LastSeen.UTC(), []string{}
				c.Neighbours = append(c.Neighbours, nb)
				return err
			}},
	}
	for _, st := range steps {
		if err := queryRows(ctx, conn, db, st.query, st.scan); err != nil {
			return err
		}
	}
	return nil
}

// neighboursQuery lists the clients of the subject's networks (for a
// client: the other clients; for an AS: its clients).
func (c *Client) neighboursQuery(base string) string {
	within := ` AND (epoch, network_id) IN (SELECT DISTINCT epoch, network_id` + base + `)`
	switch c.Query.Scope {
	case ScopeClient:
		within += ` AND client_id != {subject:UInt64}`
	case ScopeNetwork, ScopeASN:
		within = strings.TrimPrefix(base, ` FROM {db}.requests WHERE `+where)
	}
	return `SELECT toString(client_id) AS id, epoch, count() AS n, countIf(status >= 400 AND status < 500),
		countIf(status >= 500 AND status < 600), uniqExact(path), min(ts), max(ts)
		FROM {db}.requests WHERE ` + where + within + `
		GROUP BY client_id, epoch ORDER BY n DESC, id, epoch LIMIT {n:UInt32}`
}

// addMatches keeps the offenders that are the subject, its networks or its
// AS, and marks the neighbours' rules.
func (c *Client) addMatches(offs []Offender) {
	q, s := c.Query, c.Summary
	networks := map[EpochID]bool{}
	for _, n := range s.Networks {
		networks[n] = true
	}
	asn := ""
	if s.ASN != 0 {
		asn = strconv.FormatUint(uint64(s.ASN), 10)
	}
	if q.Scope == ScopeASN {
		asn = strings.TrimPrefix(strings.ToUpper(q.ID), "AS")
	}
	neighbour := map[EpochID]int{}
	for i, nb := range c.Neighbours {
		neighbour[EpochID{nb.ID, nb.Epoch}] = i
	}
	for _, o := range offs {
		switch {
		case o.Scope == q.Scope && o.ID == q.ID && (q.Epoch == 0 || o.Epoch == q.Epoch),
			o.Scope == ScopeNetwork && networks[EpochID{o.ID, o.Epoch}],
			o.Scope == ScopeASN && asn != "" && o.ID == asn:
			if !slices.ContainsFunc(c.Matches, func(m Offender) bool { return sameOffender(m, o) }) {
				c.Matches = append(c.Matches, o)
			}
		}
		if i, ok := neighbour[EpochID{o.ID, o.Epoch}]; ok && o.Scope == ScopeClient && !slices.Contains(c.Neighbours[i].Rules, o.Rule) {
			c.Neighbours[i].Rules = append(c.Neighbours[i].Rules, o.Rule)
		}
	}
	for i := range c.Neighbours {
		slices.Sort(c.Neighbours[i].Rules)
	}
	SortOffenders(c.Matches)
}

func sameOffender(a, b Offender) bool {
	return a.Rule == b.Rule && a.Scope == b.Scope && a.Site == b.Site && a.ID == b.ID && a.Epoch == b.Epoch
}

// queryRows runs a query written with {db} and calls scan for each row.
func queryRows(ctx context.Context, conn driver.Conn, db, query string, scan func(driver.Rows) error) error {
	q, err := expand(ctx, query, db)
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return chError(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return chError(err)
		}
	}
	return chError(rows.Err())
}

func scanEntry(r driver.Rows, dst *[]TopEntry, total uint64) error {
	var e TopEntry
	if err := r.Scan(&e.Key, &e.Requests); err != nil {
		return err
	}
	e.Share = ratio(e.Requests, total)
	*dst = append(*dst, e)
	return nil
}

var errNoClientID = errors.New("name the client: vakt report client [--epoch E] ID (the pseudonymous id from vakt report threats or top)")
