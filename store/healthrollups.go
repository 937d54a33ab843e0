package store

import "strings"

const (
	// PathsTable is the per-site per-path daily health rollup (migration
	// 8): health's failing and slowest paths over long ranges read it
	// instead of every request. It holds paths, as the requests do, and
	// expires with them (retention.requests).
	PathsTable = "path_health_1d"
	// HealthHourlyTable is HealthTable summed by hour (migration 9), fed
	// from HealthTable's inserts, not from the requests: health over days
	// reads 60 times fewer latency states. It has no client ids and is
	// kept as long as HealthTable.
	HealthHourlyTable = "site_health_1h"
)

// PathLatencyLevel is the quantile level PathsTable's latency states are
// written with: read them with quantileTDigestMerge(0.95)(latency).
const PathLatencyLevel = "0.95"

var pathColumns = []column{
	{"site", "LowCardinality(String)", "", ""},
	{"day", "Date", "", "UTC day"},
	{"path", "String", "ZSTD(1)", ""},
	{"requests", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"failures", "SimpleAggregateFunction(sum, UInt64)", "", "responses with status 500 or more"},
	{"latency_known", "SimpleAggregateFunction(sum, UInt64)", "", "requests that logged a request time"},
	{"latency", "AggregateFunction(quantileTDigest(" + PathLatencyLevel + "), Float32)", "", "request time in seconds; read with quantileTDigestMerge(" + PathLatencyLevel + ")(latency)"},
}

// pathsSelect aggregates requests rows into PathsTable's columns: the
// view's query and the migration's fill.
func pathsSelect(from, where string) string {
	return "SELECT\n    site,\n    toDate(ts) AS day,\n    path,\n    count() AS requests,\n" +
		"    countIf(status >= 500) AS failures,\n    count(request_time) AS latency_known,\n" +
		"    quantileTDigestStateIf(" + PathLatencyLevel + ")(assumeNotNull(request_time), isNotNull(request_time)) AS latency\n" +
		"FROM " + from + where + "\nGROUP BY site, day, path"
}

// pathsDDL creates PathsTable, fills it from the stored requests and
// attaches its view (the order and the TRUNCATE as in signalsDDL).
func (s schema) pathsDDL() []string {
	table := s.name(s.storage(PathsTable))
	ddl := []string{s.createTable(tableSpec{
		name: PathsTable, columns: pathColumns, engine: "AggregatingMergeTree",
		partition: "toDate(day)", order: "(site, day, path)", ttl: true,
	})}
	if s.c.Cluster == "" {
		ddl = append(ddl, "TRUNCATE TABLE IF EXISTS "+table)
		ddl = append(ddl, s.fillByDay(table, func(where string) string {
			return pathsSelect(s.name(s.storage(RequestsTable)), where)
		})...)
	}
	ddl = append(ddl, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+s.name(s.storage(PathsTable)+"_mv")+s.onCluster()+
		" TO "+table+"\nAS "+pathsSelect(s.name(s.storage(RequestsTable)), ""))
	if s.c.Cluster != "" {
		ddl = append(ddl, s.distributed(PathsTable, ""))
	}
	return ddl
}

// healthHourlySelect sums HealthTable rows (from) by hour.
func healthHourlySelect(from string) string {
	var b strings.Builder
	b.WriteString("SELECT\n    site,\n    toStartOfHour(minute) AS hour")
	for _, c := range healthColumns[2:] {
		if c.name == "latency" {
			b.WriteString(",\n    " + strings.Replace(latencyFunc(), "quantilesTDigest", "quantilesTDigestMergeState", 1) + "(latency) AS latency")
			continue
		}
		b.WriteString(",\n    sum(" + c.name + ") AS " + c.name)
	}
	b.WriteString("\nFROM " + from + "\nGROUP BY site, hour")
	return b.String()
}

func healthHourlyColumns() []column {
	cs := []column{{"site", "LowCardinality(String)", "", ""}, {"hour", "DateTime('UTC')", "", "start of the hour"}}
	return append(cs, healthColumns[2:]...)
}

// healthHourlyDDL creates HealthHourlyTable, fills it from HealthTable
// and attaches its view to HealthTable, so it costs a view over the
// per-minute rows an insert makes, not over the requests.
func (s schema) healthHourlyDDL() []string {
	table := s.name(s.storage(HealthHourlyTable))
	minute := s.name(s.storage(HealthTable))
	ddl := []string{s.createTable(tableSpec{
		name: HealthHourlyTable, columns: healthHourlyColumns(), engine: "AggregatingMergeTree",
		partition: "toDate(hour)", order: "(site, hour)", ttl: true,
	})}
	if s.c.Cluster == "" {
		ddl = append(ddl, "TRUNCATE TABLE IF EXISTS "+table,
			"INSERT INTO "+table+" SETTINGS async_insert = 0\n"+healthHourlySelect(minute))
	}
	ddl = append(ddl, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+s.name(s.storage(HealthHourlyTable)+"_mv")+s.onCluster()+
		" TO "+table+"\nAS "+healthHourlySelect(minute))
	if s.c.Cluster != "" {
		ddl = append(ddl, s.distributed(HealthHourlyTable, ""))
	}
	return ddl
}

// PathsRefillSQL re-aggregates PathsTable's rows (paths, a table name as
// written in SQL) of the (site, day, path) keys held in keys (a table with
// those columns) from the requests (requests): erasure deletes a client's
// requests, and its share of a path's day cannot be subtracted from a
// t-digest state, so the rows of the paths it asked for are deleted and
// rebuilt from the requests that remain.
func PathsRefillSQL(paths, requests, keys string) string {
	return "INSERT INTO " + paths + " SETTINGS async_insert = 0\n" +
		pathsSelect(requests, "\nWHERE (site, toDate(ts), path) IN (SELECT site, day, path FROM "+keys+")")
}
