package store

import "strings"

// SignalRowsTable holds a copy of the requests that carry a signal some
// client rule counts (migration 12): any flag, a refused status, a login
// POST, an admin path answered 4xx, a sensitive file, a tool or empty user
// agent, a CONNECT. About one request in twelve on the report benchmark's
// data. Ordered by client, so a rule reads its offenders' evidence from
// here (distinct paths, hits, agents) instead of looking the clients up
// among every request, and takes their totals from SignalsTable. It is
// request data like RequestsTable: same retention, erased with it,
// restriction applies.
const SignalRowsTable = "signal_requests"

var signalRowColumns = []column{
	{"ts", "DateTime64(3, 'UTC')", "Delta(8), ZSTD(1)", "request time, UTC"},
	{"site", "LowCardinality(String)", "", ""},
	{"epoch", "UInt32", "", "salt epoch client_id and network_id belong to"},
	{"client_id", "UInt64", "", "keyed PRF of the client IP under the epoch salt"},
	{"network_id", "UInt64", "", "keyed PRF of the /24 or /48 prefix under the epoch salt"},
	{"country", "LowCardinality(String)", "", ""},
	{"asn", "UInt32", "", ""},
	{"method", "LowCardinality(String)", "", ""},
	{"path", "String", "ZSTD(1)", ""},
	{"status", "UInt16", "", ""},
	{"user_agent", userAgentType, "ZSTD(1)", ""},
	{"flags", "UInt32", "", "threat signal bits (event.Flags)"},
	{"signature", "LowCardinality(String)", "", "exploit or probe signature id, empty when none"},
}

// signalRowCondition is true of a requests row SignalRowsTable keeps: the
// conditions of SignalsTable's counts, any flag (so every flag bit and the
// allowed bit), login POSTs whatever their answer (login-brute-force's
// ratio) and CONNECT (exploit-attempt).
func signalRowCondition() string {
	conds := []string{"flags != 0", "method = 'CONNECT'", "method = 'POST' AND match(path, '" + LoginPathRE + "')"}
	for _, sc := range signalCounts {
		conds = append(conds, sc.cond)
	}
	return "(" + strings.Join(conds, ")\n    OR (") + ")"
}

// signalRowsSelect selects the requests (from) SignalRowsTable keeps, and
// those of where among them: the view's query and the migration's fill.
func signalRowsSelect(from, where string) string {
	names := make([]string, len(signalRowColumns))
	for i, c := range signalRowColumns {
		names[i] = c.name
	}
	cond := signalRowCondition()
	if where == "" {
		where = "\nWHERE " + cond
	} else {
		where = "\nWHERE (" + strings.TrimPrefix(where, "\nWHERE ") + ")\n  AND (" + cond + ")"
	}
	return "SELECT " + strings.Join(names, ", ") + "\nFROM " + from + where
}

func (s schema) signalRowsDDL() []string {
	return s.requestsRollupDDL(tableSpec{
		name: SignalRowsTable, columns: signalRowColumns, engine: "MergeTree",
		partition: "toDate(ts)", order: "(site, epoch, client_id, ts)", ttl: true,
	}, signalRowsSelect)
}
