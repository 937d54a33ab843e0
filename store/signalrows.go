package store

import (
	"slices"
	"strings"
)

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

// ClientTables are the tables that hold client ids: erasure deletes a
// client's rows from each, and restriction reads each without the
// restricted clients.
var ClientTables = []string{RequestsTable, ClientsTable, SignalsTable, SignalRowsTable}

// signalRowColumns are the requests' columns the rules read, as the
// requests table defines them (types, codecs).
var signalRowColumns = requestColumnsNamed("ts", "site", "epoch", "client_id", "network_id", "country", "asn",
	"method", "path", "status", "user_agent", "flags", "signature")

func requestColumnsNamed(names ...string) []column {
	out := make([]column, len(names))
	for i, n := range names {
		k := slices.IndexFunc(insertColumns, func(c column) bool { return c.name == n })
		if k < 0 {
			panic("store: the requests have no column " + n)
		}
		out[i] = insertColumns[k]
	}
	return out
}

// SignalRowCondition is true of a requests row SignalRowsTable keeps: the
// conditions of SignalsTable's counts, any flag (so every flag bit and the
// allowed bit), login POSTs whatever their answer (login-brute-force's
// ratio) and CONNECT (exploit-attempt).
func SignalRowCondition() string {
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
	cond := SignalRowCondition()
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
