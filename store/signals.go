package store

import (
	"fmt"
	"strings"
)

// SignalsTable is the per-client per-hour threat-signal rollup (migration
// 7): how many of a client's requests in an hour carry each signal the
// client rules test. Rules read it to find the few clients that can reach
// their thresholds, then evaluate only those clients' rows (see
// analyze/rules/README.md), so a rule reads client-hours instead of every
// request of the range. Its rows expire with ClientsTable's.
const SignalsTable = "client_signals_1h"

// Signal definitions shared by SignalsTable's view and the built-in rules
// (analyze/rules/*.yaml). A rule that reads a signal column must define its
// signal exactly as here: the equality test in analyze checks every built-in
// rule against its raw-row form.
const (
	// AdminPathRE: admin-probe's administration interfaces.
	AdminPathRE = `(?i)^/(wp-admin|phpmyadmin|pma|myadmin|mysqladmin|dbadmin|adminer|admin|administrator|admin\\.php|manager/html|host-manager|console|jenkins|actuator|solr/admin|cpanel|whm|webadmin|siteadmin|backend|cgi-bin/luci|boaform|hnap1|owa/|remote/|vpn/|\\.?phpmyadmin)`
	// LoginPathRE: login endpoints (login-brute-force, distributed-*).
	LoginPathRE = `(?i)(log-?in|sign-?in|logon|/auth|/session|/token|wp-login\\.php|xmlrpc\\.php|^/administrator/)`
	// NetworkAdminPathRE: the shorter admin list of the distributed rules.
	NetworkAdminPathRE = `(?i)^/(wp-admin|phpmyadmin|pma|myadmin|adminer|admin|administrator|manager/html|console|jenkins|actuator|cpanel)`
	// SensitivePathRE: sensitive-file-probe's key, backup and dump files.
	SensitivePathRE = `(?i)(\\.(pem|key|p12|pfx|jks|kdbx)$|\\.(php|inc|conf|cfg|ini|ya?ml)(~|\\.(bak|old|orig|save|swp))$|/(backup|dump|db|database|site)\\.(sql|tar|tgz|zip|gz)$)`
	// ToolAgentRE: tool-user-agent's command-line and library agents.
	ToolAgentRE = `(?i)^(curl/|wget/|python-requests/|python-urllib/|python-httpx/|go-http-client/|libwww-perl/|lwp-|java/|apache-httpclient/|okhttp/|axios/|node-fetch/|undici|scrapy/|aiohttp/|httpie/|php/|ruby|perl/|powershell/)`
	// WordPressLoginRE: the login endpoints that answer a wrong password
	// 200 (login-brute-force).
	WordPressLoginRE = `(?i)(wp-login\\.php|xmlrpc\\.php)$`
	// RefusedStatus: the statuses scanning counts as refused.
	RefusedStatus = "status IN (400, 403, 404, 405, 410, 418, 429) OR status >= 500"
	// RedirectStatus: the redirects, which scanning's and the probe
	// rules' ratios leave out (a redirected probe is the same probe).
	RedirectStatus = "301, 302, 307, 308"
	// NotAllowed: not a crawler, monitor or git client (event.FlagAllowed),
	// which scanning, login-brute-force and tool-user-agent leave alone.
	NotAllowed = "bitAnd(flags, 256) = 0"
	// NetworkSignalFlags are the flag bits the distributed rules count:
	// SQL injection, XSS, traversal, sensitive file, attack-tool agent.
	NetworkSignalFlags = "55"
)

// signalCounts are SignalsTable's per-signal counts: column, the
// condition on a requests row (columns of requests, unqualified), and the
// comment. A new signal is a column here and a migration that adds it
// (ALTER TABLE ADD COLUMN, ALTER TABLE ... MODIFY QUERY on the view).
// Flag bits need no column: flags and flagged bound any bit's count.
var signalCounts = []struct{ name, cond, comment string }{
	{"refused", "(" + RefusedStatus + ") AND " + NotAllowed, "requests refused, crawlers and monitors left out (scanning)"},
	{"admin_probes", "status >= 400 AND status < 500 AND match(path, '" + AdminPathRE + "')", "admin paths answered 4xx (admin-probe)"},
	{"failed_logins", "method = 'POST' AND match(path, '" + LoginPathRE + "') AND (status IN (401, 403) OR (status = 200 AND match(path, '" + WordPressLoginRE + "'))) AND " + NotAllowed,
		"failed login POSTs, WordPress apps left out (login-brute-force)"},
	{"sensitive", "bitAnd(flags, 16) != 0 OR match(path, '" + SensitivePathRE + "')", "sensitive-file requests (sensitive-file-probe)"},
	{"tool_agents", "match(user_agent, '" + ToolAgentRE + "') OR (user_agent IN ('', '-') AND method != '')", "requests with a tool or empty user agent (tool-user-agent)"},
	{"network_signals", "bitAnd(flags, " + NetworkSignalFlags + ") != 0" +
		" OR (method = 'POST' AND status IN (401, 403) AND match(path, '" + LoginPathRE + "'))" +
		" OR (status >= 400 AND status < 500 AND match(path, '" + NetworkAdminPathRE + "'))", "signal requests of the distributed rules"},
}

func signalColumns() []column {
	cs := []column{
		{"site", "LowCardinality(String)", "", ""},
		{"epoch", "UInt32", "", "salt epoch client_id belongs to"},
		{"client_id", "UInt64", "", "keyed PRF of the client IP under the epoch salt"},
		{"hour", "DateTime('UTC')", "", "start of the hour; the row expires retention.client_rollups after it"},
		{"network_id", "UInt64", "", ""},
		{"asn", "UInt32", "", ""},
		{"requests", "SimpleAggregateFunction(sum, UInt64)", "", ""},
		{"flags", "SimpleAggregateFunction(groupBitOr, UInt32)", "", "threat signals seen (event.Flags bits)"},
		{"flagged", "SimpleAggregateFunction(sum, UInt64)", "", "requests with any flag: bounds the count of each bit"},
	}
	for _, s := range signalCounts {
		cs = append(cs, column{s.name, "SimpleAggregateFunction(sum, UInt64)", "", s.comment})
	}
	return append(cs, signalTotalColumns...)
}

// signalTotalColumns came with migration 12: with them the rules take a
// client's requests, first and last request and redirects over the range's
// whole hours from the rollup instead of from its rows.
var signalTotalColumns = []column{
	{"first_ts", "SimpleAggregateFunction(min, DateTime64(3, 'UTC'))", "", "first request in the hour"},
	{"last_ts", "SimpleAggregateFunction(max, DateTime64(3, 'UTC'))", "", "last request in the hour"},
	{"redirects", "SimpleAggregateFunction(sum, UInt64)", "", "requests answered " + RedirectStatus + " (left out of ratios)"},
}

// signalsSelect aggregates requests rows (FROM from) into SignalsTable's
// columns: the view's query, and the migration's backfill.
func (s schema) signalsSelect(from, where string) string {
	var b strings.Builder
	b.WriteString("SELECT\n    site,\n    epoch,\n    client_id,\n    toStartOfHour(ts) AS hour,\n    network_id,\n    asn,\n" +
		"    count() AS requests,\n    groupBitOr(r.flags) AS flags,\n    countIf(r.flags != 0) AS flagged")
	for _, sc := range signalCounts {
		// r.flags: the column, not the flags aggregate's alias.
		b.WriteString(",\n    countIf(" + strings.ReplaceAll(sc.cond, "(flags,", "(r.flags,") + ") AS " + sc.name)
	}
	b.WriteString(",\n    min(ts) AS first_ts,\n    max(ts) AS last_ts,\n    countIf(status IN (" + RedirectStatus + ")) AS redirects")
	b.WriteString("\nFROM " + from + " AS r" + where + "\nGROUP BY site, epoch, client_id, hour, network_id, asn")
	return b.String()
}

// signalsDDL creates SignalsTable, fills it from the stored requests (so
// an upgrade keeps the history the rules look at) and then attaches its
// view. The fill runs before the view exists and after emptying the table,
// so running the step again after an interruption counts every row once;
// vakt migrates before its stages insert. In a cluster each shard's rows
// stay on the shard, so the fill is left to the operator (docs/operations).
func (s schema) signalsDDL() []string {
	return s.requestsRollupDDL(tableSpec{
		name: SignalsTable, columns: signalColumns(), engine: "AggregatingMergeTree",
		partition: "toDate(hour)", order: "(site, epoch, client_id, hour, network_id, asn)", ttl: true,
	}, s.signalsSelect)
}

// signalTotalsDDL (migration 12) adds signalTotalColumns to SignalsTable
// and clientMinutesColumn to ClientsTable and refills both (their views
// are dropped first and made again with them), and makes SignalRowsTable.
func (s schema) signalTotalsDDL() []string {
	var ddl []string
	for _, t := range []string{SignalsTable, ClientsTable} {
		ddl = append(ddl, "DROP VIEW IF EXISTS "+s.name(s.storage(t)+"_mv")+s.onCluster()+" SYNC")
	}
	for _, c := range signalTotalColumns {
		ddl = append(ddl, s.addColumn(SignalsTable, c)...)
	}
	ddl = append(ddl, s.addColumn(ClientsTable, clientMinutesColumn)...)
	ddl = append(ddl, s.signalsDDL()...)
	ddl = append(ddl, s.requestsRollupDDL(clientsTableSpec, clientsSelect)...)
	return append(ddl, s.signalRowsDDL()...)
}

// requestsRollupDDL creates the rollup t of the requests, fills it from
// the stored requests day by day (the SELECT of sel with a WHERE) and then
// attaches its view (sel's SELECT): on one node the fill comes first, after
// a TRUNCATE, so that a migration cut short and run again does not count
// rows twice; on a cluster the tables and views only (each shard's fill
// would need its own requests), with the Distributed table.
func (s schema) requestsRollupDDL(t tableSpec, sel func(from, where string) string) []string {
	table := s.name(s.storage(t.name))
	requests := s.name(s.storage(RequestsTable))
	ddl := []string{s.createTable(t)}
	if s.c.Cluster == "" {
		ddl = append(ddl, "TRUNCATE TABLE IF EXISTS "+table)
		ddl = append(ddl, s.fillByDay(table, func(where string) string { return sel(requests, where) })...)
	}
	ddl = append(ddl, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+s.name(s.storage(t.name)+"_mv")+s.onCluster()+
		" TO "+table+"\nAS "+sel(requests, ""))
	if s.c.Cluster != "" {
		ddl = append(ddl, s.distributed(t.name, ""))
	}
	return ddl
}

// fillByDay is the INSERT ... SELECT statements that fill a rollup from
// the stored requests one day at a time (query builds the SELECT from a
// WHERE clause), so that no statement aggregates more than a day: the
// whole table at once needs more than the endpoint's memory limit (a
// per-path rollup of 30 M rows, 9 M groups, went over 2 GiB).
func (s schema) fillByDay(table string, query func(where string) string) []string {
	days := int(s.c.RequestsTTL/day) + 2 // rows live up to a day past the TTL
	// A day of a busy site can hold millions of client-hours, whose
	// states (uniqState of paths) outgrow the endpoint's memory limit:
	// the aggregation spills to disk past 512 MiB.
	insert := "INSERT INTO " + table + " SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912\n"
	out := []string{insert + query(fmt.Sprintf("\nWHERE ts < toDateTime64(today() - %d, 3, 'UTC') OR ts >= toDateTime64(today() + 1, 3, 'UTC')", days))}
	for d := days; d >= 0; d-- {
		out = append(out, insert+query(fmt.Sprintf("\nWHERE toDate(ts, 'UTC') = today() - %d", d)))
	}
	return out
}
