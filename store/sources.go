package store

// SourcesTable is the per-site daily count of requests by country,
// autonomous system and user agent (migration 11): the top report's
// country, ASN and agent lists over days read it instead of every request
// (30 M rows, 30 days: ~2 M rows instead of 30 M). It holds no client ids
// and no paths, but agent strings, which can name a person: erasure
// rebuilds the rows of the erased client's agents (RebuiltRollups), and
// they expire with the requests (retention.requests).
const SourcesTable = "site_sources_1d"

var sourceColumns = []column{
	{"site", "LowCardinality(String)", "", ""},
	{"day", "Date", "", "UTC day"},
	{"country", "LowCardinality(String)", "", "ISO 3166 code, empty when unknown"},
	{"asn", "UInt32", "", ""},
	{"as_org", "LowCardinality(String)", "", ""},
	{"user_agent", "LowCardinality(String)", "ZSTD(1)", ""},
	{"requests", "SimpleAggregateFunction(sum, UInt64)", "", ""},
}

// sourcesSelect aggregates requests rows into SourcesTable's columns: the
// view's query, the migration's fill and erasure's rebuild.
func sourcesSelect(from, where string) string {
	return "SELECT\n    site,\n    toDate(ts) AS day,\n    country,\n    asn,\n    as_org,\n    user_agent,\n    count() AS requests\n" +
		"FROM " + from + where + "\nGROUP BY site, day, country, asn, as_org, user_agent"
}

// sourcesDDL creates SourcesTable, fills it from the stored requests and
// attaches its view.
func (s schema) sourcesDDL() []string {
	return s.requestsRollupDDL(tableSpec{
		name: SourcesTable, columns: sourceColumns, engine: "AggregatingMergeTree",
		partition: "toDate(day)", order: "(site, day, country, asn, as_org, user_agent)", ttl: true,
	}, sourcesSelect)
}
