package store

// EpochsTable counts the stored requests of each salt epoch per site and
// day, with the first and last request's time (migration 14): where an
// epoch's rows lie, and how many there are, without reading them. A
// report keeps the findings of rules that judge each epoch on its own
// rows (RuleResultsTable) and knows from here which epochs a range holds
// whole and whether one has changed since. No client ids, no strings of
// the requests.
const EpochsTable = "epoch_rows"

var epochColumns = []column{
	{"site", "LowCardinality(String)", "", ""},
	{"day", "Date", "", "UTC day of the requests"},
	{"epoch", "UInt32", "", "salt epoch"},
	{"requests", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"first_ts", "SimpleAggregateFunction(min, DateTime('UTC'))", "", "first request (to the second, rounded down)"},
	// Rounded up, so that the row expires no sooner than the epoch's last
	// request: a report must never miss an epoch's rows here.
	{"end_ts", "SimpleAggregateFunction(max, DateTime('UTC'))", "", "just after the last request (to the second, rounded up); the row expires retention.requests after it"},
}

// epochsSelect aggregates requests rows into EpochsTable's columns: the
// view's query and the migration's fill.
func epochsSelect(from, where string) string {
	return "SELECT\n    site,\n    toDate(ts) AS day,\n    epoch,\n    count() AS requests,\n" +
		"    min(toDateTime(ts)) AS first_ts,\n    max(toDateTime(ts) + 1) AS end_ts\n" +
		"FROM " + from + where + "\nGROUP BY site, day, epoch"
}

// RuleResultsTable keeps, per rule and salt epoch, the offenders a rule
// that judges each epoch on its own rows found in the epoch's rows, or
// the rows of a rule's epoch stage (per-epoch parts of a rule that
// compares across epochs) (migration 14): a report over 30 days then evaluates those rules only
// over the epochs it does not hold whole or that changed, instead of
// over every request. A row is valid for the epoch's request count and
// restricted clients it was evaluated with (fingerprint) and the rule's
// definition (rule_hash); analyze checks both. It holds pseudonymous
// client and network ids like the requests: the same retention, and
// erasure deletes the rows of the erased client's epochs.
const RuleResultsTable = "rule_results"

var ruleResultColumns = []column{
	{"rule", "LowCardinality(String)", "", ""},
	{"rule_hash", "UInt64", "", "hash of the rule definition and thresholds"},
	{"epoch", "UInt32", "", "salt epoch"},
	{"fingerprint", "UInt64", "", "hash of the request count and restricted clients of the epoch when evaluated"},
	{"end_ts", "DateTime('UTC')", "", "end_ts of the epoch (EpochsTable): the row expires retention.requests after it"},
	{"evaluated_at", "DateTime64(3, 'UTC')", "", ""},
	{"kept", "String", "ZSTD(3)", "the offenders found (JSON), or the rows of the epoch stage of the rule (text of an Array(Tuple))"},
	{"structure", "String", "", "type of the stage rows in kept; empty for findings"},
}

// epochsDDL creates EpochsTable (filled from the stored requests, then
// fed by its view) and RuleResultsTable.
func (s schema) epochsDDL() []string {
	ddl := s.requestsRollupDDL(tableSpec{
		name: EpochsTable, columns: epochColumns, engine: "AggregatingMergeTree",
		partition: "toDate(day)", order: "(day, epoch, site)", ttl: true,
	}, epochsSelect)
	ddl = append(ddl, s.createTable(tableSpec{
		name: RuleResultsTable, columns: ruleResultColumns, engine: "ReplacingMergeTree(evaluated_at)",
		partition: "toDate(end_ts)", order: "(rule, rule_hash, epoch)", ttl: true,
	}))
	if s.c.Cluster != "" {
		// One shard per epoch, so that a newer row replaces an older one.
		ddl = append(ddl, s.distributed(RuleResultsTable, "epoch"))
	}
	return ddl
}
