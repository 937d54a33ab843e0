package analyze

import (
	"strings"

	"github.com/vakt-dev/vakt/store"
)

// Totals macros. In a rule's SQL, {client_totals} stands for a query of
// the totals over the report's range of the clients whose ids a CTE named
// hits lists (column client_id), per site and epoch; {network_totals} for
// those of the networks it lists (network_id). Their columns: the key,
// requests, non_redirects (requests not answered 301, 302, 307 or 308),
// clients (distinct), first_seen and last_seen. The range's whole hours
// come from store.SignalsTable and its partial first and last hours from
// the requests, so the totals are those of the rows
// (TestRulesRollupEqualsRawRows) while a rule reads its offenders' hours
// instead of their requests. Written once here rather than in every rule
// that reports an offender's requests beside its signals.
var totalsMacros = map[string]string{
	"{client_totals}":  totalsSQL("client_id"),
	"{network_totals}": totalsSQL("network_id"),
}

func totalsSQL(key string) string {
	clients := "uniqExact(client_id)"
	if key == "client_id" {
		clients = "toUInt64(1)" // a client is one: no distinct count per client
	}
	return `
    SELECT site, epoch, ` + key + `, sum(n) AS requests, sum(n) - sum(r) AS non_redirects,
           ` + clients + ` AS clients, min(f) AS first_seen, max(l) AS last_seen
    FROM
    (
        SELECT site, epoch, network_id, client_id, requests AS n, redirects AS r, first_ts AS f, last_ts AS l
        FROM {db}.` + store.SignalsTable + `
        WHERE hour >= {since:DateTime64(3, 'UTC')} AND hour + INTERVAL 1 HOUR <= {until:DateTime64(3, 'UTC')}
        UNION ALL
        SELECT site, epoch, network_id, client_id, 1, status IN (` + store.RedirectStatus + `), ts, ts
        FROM {db}.requests
        WHERE ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')}
          AND (toStartOfHour(ts) < {since:DateTime64(3, 'UTC')} OR toStartOfHour(ts) + INTERVAL 1 HOUR > {until:DateTime64(3, 'UTC')})
    ) AS u
    -- A join, not IN (SELECT ... FROM hits): with IN the reads waited for
    -- the set of hits, so nothing ran beside the rule's own pass (24 h of
    -- 1 M requests, the eleven signal rules: 0.25 -> 0.19 s). By the key
    -- alone, so that hits may list ids only.
    INNER JOIN (SELECT DISTINCT ` + key + ` FROM hits) AS h USING (` + key + `)
    GROUP BY site, epoch, ` + key + `
`
}

// expandMacros replaces the macros of a rule's SQL.
func expandMacros(query string) string {
	for m, sql := range totalsMacros {
		query = strings.ReplaceAll(query, m, sql)
	}
	return query
}
