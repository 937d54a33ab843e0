package store

import (
	"slices"
	"strings"
)

const (
	// PathsTable is the per-site per-path daily health rollup (migration
	// 8): health's failing and slowest paths over long ranges read it
	// instead of every request. It holds paths, as the requests do, and
	// expires with them (retention.requests).
	PathsTable = "path_stats_1d"
	// PathsWeeklyTable is PathsTable summed by UTC week (Monday to Sunday,
	// migration 15), fed from PathsTable's inserts: path lists over weeks
	// read a row per path and week instead of one per path and day (30
	// days of 30 M requests: 4.4 M rows -> 1.4 M). Erasure rebuilds its
	// rows from PathsTable's. It expires with the requests, a week when its
	// first day does.
	PathsWeeklyTable = "path_stats_1w"
	// HealthHourlyTable is HealthTable summed by hour (migration 9), fed
	// from HealthTable's inserts, not from the requests: health over days
	// reads 60 times fewer latency states. It has no client ids and is
	// kept as long as HealthTable.
	HealthHourlyTable = "site_health_1h"
)

// Path latency states (PathsTable's latency column, migration 10) are
// quantileTiming's: request times in whole milliseconds, exact below
// 1,024 ms and within 16 ms up to 30 s (longer ones count as 30 s). They
// merge about twice as fast as the t-digest states of migration 8 (health's
// path lists over 30 days of 30 M requests: 1.3-1.6 s of merging -> 0.7 s)
// and are exact to nginx's millisecond where most requests are.
const (
	// PathLatencyState is the state of a set of requests rows.
	PathLatencyState = "quantileTimingStateIf(0.95)(toUInt32(round(assumeNotNull(request_time) * 1000)), isNotNull(request_time))"
	// PathLatencyP95 is the p95 in seconds (Float32) of latency states.
	PathLatencyP95 = "toFloat32(quantileTimingMerge(0.95)(latency) / 1000)"
)

var pathColumns = []column{
	{"site", "LowCardinality(String)", "", ""},
	{"day", "Date", "", "UTC day"},
	{"path", "String", "ZSTD(1)", ""},
	{"requests", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"failures", "SimpleAggregateFunction(sum, UInt64)", "", "responses with status 500 or more"},
	{"latency_known", "SimpleAggregateFunction(sum, UInt64)", "", "requests that logged a request time"},
	{"latency", "AggregateFunction(quantileTiming(0.95), UInt32)", "", "request time in milliseconds; the p95 in seconds: " + PathLatencyP95},
}

var pathWeeklyColumns = func() []column {
	cs := slices.Clone(pathColumns)
	cs[1] = column{"week", "Date", "", "Monday of the UTC week"}
	return cs
}()

// pathsWeeklySelect sums PathsTable rows (from) by week: the view's query
// and the migration's fill.
func pathsWeeklySelect(from, where string) string {
	return "SELECT\n    site,\n    toMonday(day) AS week,\n    path,\n    sum(requests) AS requests,\n" +
		"    sum(failures) AS failures,\n    sum(latency_known) AS latency_known,\n" +
		"    quantileTimingMergeState(0.95)(latency) AS latency\n" +
		"FROM " + from + where + "\nGROUP BY site, week, path"
}

// pathsWeeklyDDL creates PathsWeeklyTable, fills it from PathsTable and
// attaches its view to PathsTable, so it costs a view over the per-day
// rows an insert makes, not over the requests.
func (s schema) pathsWeeklyDDL() []string {
	table := s.name(s.storage(PathsWeeklyTable))
	daily := s.name(s.storage(PathsTable))
	ddl := []string{s.createTable(tableSpec{
		name: PathsWeeklyTable, columns: pathWeeklyColumns, engine: "AggregatingMergeTree",
		partition: "toDate(week)", order: "(site, week, path)", ttl: true,
	})}
	if s.c.Cluster == "" {
		ddl = append(ddl, "TRUNCATE TABLE IF EXISTS "+table,
			"INSERT INTO "+table+" SETTINGS async_insert = 0, max_bytes_before_external_group_by = 536870912\n"+pathsWeeklySelect(daily, ""))
	}
	ddl = append(ddl, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+s.name(s.storage(PathsWeeklyTable)+"_mv")+s.onCluster()+
		" TO "+table+"\nAS "+pathsWeeklySelect(daily, ""))
	if s.c.Cluster != "" {
		ddl = append(ddl, s.distributed(PathsWeeklyTable, ""))
	}
	return ddl
}

// pathsSelect aggregates requests rows into PathsTable's columns: the
// view's query and the migration's fill.
func pathsSelect(from, where string) string {
	return "SELECT\n    site,\n    toDate(ts) AS day,\n    path,\n    count() AS requests,\n" +
		"    countIf(status >= 500) AS failures,\n    count(request_time) AS latency_known,\n" +
		"    " + PathLatencyState + " AS latency\n" +
		"FROM " + from + where + "\nGROUP BY site, day, path"
}

// pathsDDL creates PathsTable, fills it from the stored requests and
// attaches its view.
func (s schema) pathsDDL() []string {
	return s.requestsRollupDDL(tableSpec{
		name: PathsTable, columns: pathColumns, engine: "AggregatingMergeTree",
		partition: "toDate(day)", order: "(site, day, path)", ttl: true,
	}, pathsSelect)
}

// pathsTimingDDL (migration 10) makes PathsTable, with quantileTiming
// latency states (PathLatencyState), from the stored requests, and drops
// migration 8's t-digest table (states of another function cannot be
// converted). A new name, not the old one dropped and made again: replicas
// migrating at once never drop a table another has just made.
func (s schema) pathsTimingDDL() []string {
	const old = "path_health_1d"
	ddl := s.pathsDDL()
	ddl = append(ddl, "DROP VIEW IF EXISTS "+s.name(s.storage(old)+"_mv")+s.onCluster()+" SYNC")
	if s.c.Cluster != "" {
		ddl = append(ddl, "DROP TABLE IF EXISTS "+s.name(old)+s.onCluster()+" SYNC")
	}
	return append(ddl, "DROP TABLE IF EXISTS "+s.name(s.storage(old))+s.onCluster()+" SYNC")
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
