package analyze

import (
	"fmt"

	"github.com/vakt-dev/vakt/internal/output"
)

// ClientSections lays out a client report: the summary, requests over
// time, paths with statuses, user agents, referrer hosts, the rules it
// matched and its network's other clients. Evidence is a JSON object in
// json, "name=value ..." otherwise.
func ClientSections(c *Client, format string) []section {
	q, s := c.Query, c.Summary
	what := fmt.Sprintf("%s %s", q.Scope, q.ID)
	if q.Epoch != 0 {
		what += fmt.Sprintf(" (epoch %d)", q.Epoch)
	}
	networks := make([]string, len(s.Networks))
	for i, n := range s.Networks {
		networks[i] = n.ID
	}
	summary := section{name: "summary", title: fmt.Sprintf("Client report: %s, %s", what, rangeTitle(c.Filter)),
		cols: []column{{"scope", "String"}, {"id", "String"}, {"epochs", "Array(UInt32)"}, {"sites", "Array(String)"},
			{"requests", "UInt64"}, {"status_2xx", "UInt64"}, {"status_3xx", "UInt64"}, {"status_4xx", "UInt64"}, {"status_5xx", "UInt64"},
			{"status_other", "UInt64"}, {"bytes", "UInt64"}, {"distinct_paths", "UInt64"}, {"clients", "UInt64"},
			{"first_seen", dt}, {"last_seen", dt}, {"country", "String"}, {"asn", "UInt32"}, {"as_org", "String"}, {"networks", "Array(String)"}},
		rows: [][]any{}}
	if s.Requests > 0 {
		summary.rows = append(summary.rows, []any{q.Scope, q.ID, s.Epochs, s.Sites, s.Requests, s.Status2xx, s.Status3xx, s.Status4xx, s.Status5xx,
			s.StatusOther, s.Bytes, s.DistinctPaths, s.Clients, s.FirstSeen, s.LastSeen, s.Country, s.ASN, s.ASOrg, networks})
	}
	series := section{name: "series", title: "Requests per " + ShortDuration(c.Filter.Bucket) + " bucket", rows: [][]any{},
		cols: []column{{"time", dt}, {"requests", "UInt64"}, {"status_4xx", "UInt64"}, {"status_5xx", "UInt64"}}}
	for _, p := range c.Series {
		series.rows = append(series.rows, []any{p.Time, p.Requests, p.Status4xx, p.Status5xx})
	}
	paths := section{name: "paths", title: "Paths and statuses", rows: [][]any{},
		cols: []column{{"path", "String"}, {"status", "UInt16"}, {"requests", "UInt64"}, {"last_seen", dt}}}
	for _, p := range c.Paths {
		paths.rows = append(paths.rows, []any{p.Path, p.Status, p.Requests, p.LastSeen})
	}
	entries := func(name, title, key string, es []TopEntry) section {
		sec := section{name: name, title: title, rows: [][]any{},
			cols: []column{{key, "String"}, {"requests", "UInt64"}, {"share", "Float64"}}}
		for _, e := range es {
			sec.rows = append(sec.rows, []any{e.Key, e.Requests, num(e.Share, 5)})
		}
		return sec
	}
	return []section{summary, series, paths,
		entries("user_agents", "User agents", "user_agent", c.UserAgents),
		entries("referrers", "Referrer hosts (empty: no referrer)", "referrer_host", c.Referrers),
		clientRules(c, format), clientNeighbours(c)}
}

func clientRules(c *Client, format string) section {
	sec := section{name: "rules", title: "Rules matched (its own, its network's and its AS's)", rows: [][]any{},
		cols: []column{{"severity", "UInt8"}, {"rule", "String"}, {"category", "String"}, {"scope", "String"}, {"site", "String"},
			{"id", "String"}, {"epoch", "UInt32"}, {"requests", "UInt64"}, {"first_seen", dt}, {"last_seen", dt}, {"evidence", "String"}}}
	for _, o := range c.Matches {
		var ev any = finite(o.Evidence)
		if format != output.JSON {
			ev = EvidenceText(o.Evidence)
		}
		sec.rows = append(sec.rows, []any{uint8(o.Severity), o.Rule, o.Category, o.Scope, o.Site, o.ID, o.Epoch, o.Requests,
			o.FirstSeen, o.LastSeen, ev})
	}
	return sec
}

func clientNeighbours(c *Client) section {
	title := "Other clients of its network"
	switch c.Query.Scope {
	case ScopeNetwork:
		title = "Clients of the network"
	case ScopeASN:
		title = "Clients of the AS"
	}
	sec := section{name: "network", title: title, rows: [][]any{},
		cols: []column{{"id", "String"}, {"epoch", "UInt32"}, {"requests", "UInt64"}, {"status_4xx", "UInt64"}, {"status_5xx", "UInt64"},
			{"distinct_paths", "UInt64"}, {"first_seen", dt}, {"last_seen", dt}, {"rules", "Array(String)"}}}
	for _, n := range c.Neighbours {
		sec.rows = append(sec.rows, []any{n.ID, n.Epoch, n.Requests, n.Status4xx, n.Status5xx, n.DistinctPaths, n.FirstSeen, n.LastSeen, n.Rules})
	}
	return sec
}
