package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/internal/configkit"
)

// Tables vakt creates in its database. In a cluster (SchemaConfig.Cluster)
// each name is a Distributed table over a replicated "<name>_local" table on
// every shard, so inserts and queries use the same names on one node and on
// a cluster.
const (
	// RequestsTable holds one row per pseudonymised request.
	RequestsTable = "requests"
	// HealthTable is the per-site per-minute health rollup. It has no
	// client ids.
	HealthTable = "site_health_1m"
	// ClientsTable is the per-client per-hour activity rollup.
	ClientsTable = "client_activity_1h"
	// MigrationsTable records the applied schema migrations.
	MigrationsTable = "schema_migrations"
)

// LatencyLevels are the quantile levels HealthTable's latency states are
// written with. The states are t-digests: any level can be read back, e.g.
// quantilesTDigestMerge(0.5, 0.99)(latency).
var LatencyLevels = []float64{0.5, 0.9, 0.95, 0.99}

const (
	day = 24 * time.Hour
	// DefaultRequestsTTL is how long request rows are kept (DESIGN.md).
	DefaultRequestsTTL = 30 * day
	// DefaultHealthRollupsTTL is how long health rollups are kept: 13
	// months (396 days), so that a month compares with the same month a
	// year before.
	DefaultHealthRollupsTTL = 396 * day
	maxTTL                  = 10 * 366 * day
)

// SchemaConfig sets up vakt's tables.
type SchemaConfig struct {
	// Database holds the tables (default "vakt").
	Database string `yaml:"database"`
	// Cluster, when set, creates every table ON CLUSTER with Replicated
	// engines, and Distributed tables under the usual names.
	Cluster string `yaml:"cluster"`
	// RequestsTTL is how long a request row is kept. Every TTL must be a
	// whole number of days: partitions are daily and expire as whole parts
	// (ttl_only_drop_parts), so a finer TTL would promise a precision the
	// storage does not deliver. Data lives between its TTL and its TTL plus
	// one day. Default 30 days.
	RequestsTTL time.Duration `yaml:"requests_ttl"`
	// ClientRollupsTTL is how long per-client hourly activity is kept after
	// the client's last request in that hour. Default: RequestsTTL.
	ClientRollupsTTL time.Duration `yaml:"client_rollups_ttl"`
	// HealthRollupsTTL is how long per-site per-minute health is kept.
	// Default 396 days (13 months).
	HealthRollupsTTL time.Duration `yaml:"health_rollups_ttl"`
	// MergeWithTTLTimeout is how often ClickHouse may look for expired parts
	// in a table. Zero keeps ClickHouse's default (4 hours), which is a
	// small delay next to whole-day retention; tests set it low.
	MergeWithTTLTimeout time.Duration `yaml:"-"`
}

func (c SchemaConfig) withDefaults() SchemaConfig {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.RequestsTTL == 0 {
		c.RequestsTTL = DefaultRequestsTTL
	}
	if c.ClientRollupsTTL == 0 {
		c.ClientRollupsTTL = c.RequestsTTL
	}
	if c.HealthRollupsTTL == 0 {
		c.HealthRollupsTTL = DefaultHealthRollupsTTL
	}
	return c
}

// Validate reports invalid settings, naming their key and the fix.
func (c SchemaConfig) Validate() error {
	clientRollupsSet := c.ClientRollupsTTL != 0
	c = c.withDefaults()
	var errs []error
	if !validIdent(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse.database: %q is not a plain identifier; use letters, digits and '_'", c.Database))
	}
	if c.Cluster != "" && !validIdent(c.Cluster) {
		errs = append(errs, fmt.Errorf("clickhouse.cluster: %q is not a plain identifier; use the cluster's name from the server's remote_servers", c.Cluster))
	}
	for _, t := range ttlTables {
		if (t.name == ClientsTable && !clientRollupsSet) || t.follows != "" {
			continue // it follows another table, checked with it
		}
		if p, bad := TTLProblem(t.key, t.ttl(c)); bad {
			errs = append(errs, fmt.Errorf("%s: %s; %s", p.Key, p.Problem, p.Fix))
		}
	}
	if c.MergeWithTTLTimeout < 0 || (c.MergeWithTTLTimeout > 0 && c.MergeWithTTLTimeout < time.Second) {
		errs = append(errs, fmt.Errorf("merge_with_ttl_timeout: %s is out of range; use at least 1s, or 0 for ClickHouse's default", c.MergeWithTTLTimeout))
	}
	return errors.Join(errs...)
}

// TTLProblem says what is wrong with ttl as the retention of a table, set
// by key: partitions are daily and expire whole. The configuration's check
// and the schema's use it, so a retention key is validated in one place.
func TTLProblem(key string, ttl time.Duration) (configkit.Problem, bool) {
	p := configkit.Problem{Key: key}
	switch {
	case ttl <= 0:
		p.Problem, p.Fix = "must be positive", "use a whole number of days such as 30d"
	case ttl < day:
		p.Problem, p.Fix = fmt.Sprintf("%s is shorter than one day", ttl), "use a whole number of days such as 30d"
	case ttl%day != 0:
		p.Problem, p.Fix = fmt.Sprintf("%s is not a whole number of days", ttl), fmt.Sprintf("partitions are daily and expire whole: use e.g. %dd", int(ttl/day))
	case ttl > maxTTL:
		p.Problem, p.Fix = fmt.Sprintf("%s is more than 10 years", ttl), "a privacy TTL that long is almost certainly a typo"
	default:
		return p, false
	}
	return p, true
}

// ttlTable is a table whose rows expire, and where its TTL comes from.
type ttlTable struct {
	name string // table name (the Distributed one in a cluster)
	// expr is the point in time the TTL counts from, as ClickHouse prints
	// it in SHOW CREATE TABLE.
	expr string
	key  string // configuration key that sets the TTL
	ttl  func(SchemaConfig) time.Duration
	// follows names the table whose retention this one shares: it is
	// validated and reported with that table, and aligned with it.
	follows string
}

var ttlTables = []ttlTable{
	{RequestsTable, "toDateTime(ts)", "retention.requests", func(c SchemaConfig) time.Duration { return c.RequestsTTL }, ""},
	{ClientsTable, "last_seen", "retention.client_rollups", func(c SchemaConfig) time.Duration { return c.ClientRollupsTTL }, ""},
	{HealthTable, "minute", "retention.health_rollups", func(c SchemaConfig) time.Duration { return c.HealthRollupsTTL }, ""},
	{PathsTable, "toDateTime(day)", "retention.requests", func(c SchemaConfig) time.Duration { return c.RequestsTTL }, RequestsTable},
	{PathsWeeklyTable, "toDateTime(week)", "retention.requests", func(c SchemaConfig) time.Duration { return c.RequestsTTL }, RequestsTable},
	{HealthHourlyTable, "hour", "retention.health_rollups", func(c SchemaConfig) time.Duration { return c.HealthRollupsTTL }, HealthTable},
	{SignalsTable, "hour", "retention.client_rollups", func(c SchemaConfig) time.Duration { return c.ClientRollupsTTL }, ClientsTable},
	{SourcesTable, "toDateTime(day)", "retention.requests", func(c SchemaConfig) time.Duration { return c.RequestsTTL }, RequestsTable},
	{SignalRowsTable, "toDateTime(ts)", "retention.requests", func(c SchemaConfig) time.Duration { return c.RequestsTTL }, RequestsTable},
	{EpochsTable, "end_ts", "retention.requests", func(c SchemaConfig) time.Duration { return c.RequestsTTL }, RequestsTable},
	{RuleResultsTable, "end_ts", "retention.requests", func(c SchemaConfig) time.Duration { return c.RequestsTTL }, RequestsTable},
}

// column is one column of a table. For the requests table the DDL, the
// INSERT column list and the HTTP insert's column types all come from one
// list, so they cannot drift apart.
type column struct {
	name, typ, codec, comment string
}

// Codecs measured on a day of synthetic traffic (2.85M rows) in this sort
// order, against the default LZ4: ts T64+ZSTD 8.0 MiB (Delta+ZSTD 10.0,
// LZ4 13.5); client_id Delta+ZSTD 14.9 (LZ4 16.9); status ZSTD 1.1 (LZ4
// 3.0); bytes T64+ZSTD 5.8 (LZ4 11.2); request_time ZSTD 9.9 (LZ4 11.0).
var requestColumns = []column{
	{"ts", "DateTime64(3, 'UTC')", "T64, ZSTD(1)", "request time, UTC"},
	{"site", "LowCardinality(String)", "", "site the request was logged for"},
	{"client_id", "UInt64", "Delta(8), ZSTD(1)", "keyed PRF of the client IP under the epoch salt"},
	{"network_id", "UInt64", "", "keyed PRF of the /24 or /48 prefix under the epoch salt"},
	{"ip_version", "UInt8", "", "4 or 6"},
	{"epoch", "UInt32", "", "salt epoch client_id and network_id belong to"},
	{"country", "LowCardinality(String)", "", "ISO 3166 code, empty when unknown"},
	{"asn", "UInt32", "", ""},
	{"as_org", "LowCardinality(String)", "", ""},
	{"method", "LowCardinality(String)", "", ""},
	{"path", "String", "ZSTD(1)", ""},
	{"query", "String", "ZSTD(1)", "query string, scrubbed by policy"},
	{"protocol", "LowCardinality(String)", "", ""},
	{"status", "UInt16", "ZSTD(1)", ""},
	{"bytes", "UInt64", "T64, ZSTD(1)", "response bytes"},
	{"referrer", "String", "ZSTD(1)", "scrubbed by policy"},
	{"user_agent", "String", "ZSTD(1)", ""},
	{"host", "LowCardinality(String)", "", ""},
	{"request_time", "Nullable(Float32)", "ZSTD(1)", "seconds; NULL when not logged"},
	{"upstream_time", "Nullable(Float32)", "ZSTD(1)", "seconds; NULL when not logged"},
	{"flags", "UInt32", "", "threat signal bits (event.Flags)"},
}

// batchKeyColumn came with migration 4, after requestColumns (which
// migration 1 created and which never change).
var batchKeyColumn = column{"batch_key", "UInt64", "ZSTD(1)",
	"hash of the ingest batch the row came from (file and byte range), 0 when none; lets a batch published again be recognised as stored"}

// signatureColumn came with migration 6: the id of the exploit (else
// probe) signature the raw request matched (event.Event.Signature), so a
// report can say which exploit was tried. Empty for nearly every row:
// dictionary-encoded, it costs next to nothing.
var signatureColumn = column{"signature", "LowCardinality(String)", "",
	"id of the exploit or probe signature the raw request matched (analyze/rules/signatures), empty when none"}

// userAgentType is user_agent's type since migration 5: a dictionary per
// part, so that rules matching user agents evaluate each distinct one once
// instead of once per row (tool-user-agent: 3.4 s → 0.9 s over 30 M rows).
const userAgentType = "LowCardinality(String)"

// insertColumns are the requests columns every insert writes, with the
// types the migrations leave.
var insertColumns = func() []column {
	cs := append(slices.Clone(requestColumns), batchKeyColumn, signatureColumn)
	for i := range cs {
		if cs[i].name == "user_agent" {
			cs[i].typ = userAgentType
		}
	}
	return cs
}()

var healthColumns = []column{
	{"site", "LowCardinality(String)", "", ""},
	{"minute", "DateTime('UTC')", "", "start of the minute"},
	{"requests", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"status_2xx", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"status_3xx", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"status_4xx", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"status_5xx", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"status_other", "SimpleAggregateFunction(sum, UInt64)", "", "status outside 200-599"},
	{"bytes", "SimpleAggregateFunction(sum, UInt64)", "", "response bytes"},
	{"flagged", "SimpleAggregateFunction(sum, UInt64)", "", "requests with a threat signal"},
	{"latency_known", "SimpleAggregateFunction(sum, UInt64)", "", "requests that logged a request time"},
	{"latency", "AggregateFunction(" + latencyFunc() + ", Float32)", "", "request time in seconds; read with quantilesTDigestMerge(levels)(latency)"},
}

var clientColumns = []column{
	{"site", "LowCardinality(String)", "", ""},
	{"hour", "DateTime('UTC')", "", "start of the hour"},
	{"client_id", "UInt64", "", "keyed PRF of the client IP under the epoch salt"},
	{"epoch", "UInt32", "", "salt epoch client_id belongs to"},
	{"network_id", "UInt64", "", ""},
	{"requests", "SimpleAggregateFunction(sum, UInt64)", "", ""},
	{"errors", "SimpleAggregateFunction(sum, UInt64)", "", "responses with status 400 or more"},
	{"not_found", "SimpleAggregateFunction(sum, UInt64)", "", "404 responses"},
	{"bytes", "SimpleAggregateFunction(sum, UInt64)", "", "response bytes"},
	{"paths", "AggregateFunction(uniq, String)", "", "distinct paths; read with uniqMerge(paths)"},
	{"methods", "SimpleAggregateFunction(groupUniqArrayArray, Array(String))", "", ""},
	{"flags", "SimpleAggregateFunction(groupBitOr, UInt32)", "", "threat signals seen (event.Flags bits)"},
	{"flagged", "SimpleAggregateFunction(sum, UInt64)", "", "requests with a threat signal"},
	{"first_seen", "SimpleAggregateFunction(min, DateTime('UTC'))", "", ""},
	{"last_seen", "SimpleAggregateFunction(max, DateTime('UTC'))", "", "the row expires retention.client_rollups after this"},
	{"country", "SimpleAggregateFunction(anyLast, LowCardinality(String))", "", ""},
	{"asn", "SimpleAggregateFunction(anyLast, UInt32)", "", ""},
	clientMinutesColumn,
}

// clientMinutesColumn came with migration 12: the client's requests in
// each minute of the hour, exact once the hour's rows are merged (read
// with FINAL), so flood counts busy minutes without reading requests.
var clientMinutesColumn = column{"minutes", "SimpleAggregateFunction(sumMap, Tuple(Array(UInt8), Array(UInt64)))", "",
	"requests per minute of the hour: (minutes, counts); exact per client-hour when read FINAL"}

func latencyFunc() string {
	levels := make([]string, len(LatencyLevels))
	for i, l := range LatencyLevels {
		levels[i] = fmt.Sprint(l)
	}
	return "quantilesTDigest(" + strings.Join(levels, ", ") + ")"
}

// schema generates the DDL for one configuration.
type schema struct{ c SchemaConfig }

func newSchema(c SchemaConfig) schema { return schema{c.withDefaults()} }

func quoteIdent(s string) string { return "`" + s + "`" }

// tableName returns db.table quoted for SQL.
func tableName(db, table string) string { return quoteIdent(db) + "." + quoteIdent(table) }

// name is a table's qualified name as clients use it.
func (s schema) name(table string) string { return tableName(s.c.Database, table) }

// storage is the table that holds a table's rows: itself on one node, its
// replicated local table in a cluster.
func (s schema) storage(table string) string {
	if s.c.Cluster != "" {
		return table + "_local"
	}
	return table
}

func (s schema) onCluster() string {
	if s.c.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + quoteIdent(s.c.Cluster)
}

// engine is a MergeTree family engine, replicated in a cluster. The
// replication path has the shard, database and table, so that every shard
// replicates only its own part of the data.
func (s schema) engine(family string) string {
	if s.c.Cluster == "" {
		return family
	}
	return "Replicated" + family + "('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"
}

// settings are the MergeTree settings of a table with a TTL.
// durableInserts makes an insert's part reach the disk (fsync of its files
// and directory) before the insert returns, so that the store's "ack only
// after commit" also holds through a power loss or an OS crash; measured
// cost in BENCHMARKS.md ("Durability").
const durableInserts = "fsync_after_insert = 1, fsync_part_directory = 1"

// settledPartitions merges a daily partition into one part once its newest
// part is an hour old: a past day is then one part, which a FINAL read
// (flood's per-minute counts) takes without merging parts at query time
// and every report reads with fewer, larger ranges. Left to itself the
// merge selector keeps about five parts a day; over 30 days of 30 M rows
// that made flood 2.7 s instead of 0.5 s, and the threats report 7.9 s
// instead of 6.1 s (BENCHMARKS.md). The day being written keeps receiving
// parts, so it is merged whole only after an hour without inserts.
const settledPartitions = "min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1"

func (s schema) settings() string {
	// ttl_only_drop_parts: expire by dropping whole (daily) parts, never by
	// rewriting them. materialize_ttl_recalculate_only: a MODIFY TTL only
	// recomputes each part's expiry; background merges then drop the parts,
	// rather than the ALTER rewriting every part.
	set := []string{"ttl_only_drop_parts = 1", "materialize_ttl_recalculate_only = 1", durableInserts, settledPartitions}
	if s.c.Cluster == "" {
		// Remember recent insert tokens so a retried batch is stored once
		// on a single (non-replicated) node; replicated tables always do
		// (replicated_deduplication_window).
		set = append(set, "non_replicated_deduplication_window = 1000")
	}
	if t := s.c.MergeWithTTLTimeout; t > 0 {
		set = append(set, fmt.Sprintf("merge_with_ttl_timeout = %d", int64(t/time.Second)))
	}
	return strings.Join(set, ", ")
}

func ttlClause(t ttlTable, ttl time.Duration) string {
	return fmt.Sprintf("%s + INTERVAL %d DAY", t.expr, int64(ttl/day))
}

func ttlTableOf(name string) ttlTable {
	for _, t := range ttlTables {
		if t.name == name {
			return t
		}
	}
	panic("store: no TTL for table " + name)
}

// tableSpec is what CREATE TABLE needs beyond the columns.
type tableSpec struct {
	name      string
	columns   []column
	indexes   []string
	engine    string
	partition string
	primary   string // empty: the ORDER BY
	order     string
	ttl       bool
}

func (s schema) createTable(t tableSpec) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + s.name(s.storage(t.name)) + s.onCluster() + "\n(\n")
	for i, c := range t.columns {
		b.WriteString("    " + quoteIdent(c.name) + " " + c.typ)
		// ClickHouse's column grammar puts COMMENT before CODEC.
		if c.comment != "" {
			b.WriteString(" COMMENT '" + c.comment + "'")
		}
		if c.codec != "" {
			b.WriteString(" CODEC(" + c.codec + ")")
		}
		if i < len(t.columns)-1 || len(t.indexes) > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	for i, idx := range t.indexes {
		b.WriteString("    INDEX " + idx)
		if i < len(t.indexes)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(")\n")
	b.WriteString("ENGINE = " + s.engine(t.engine) + "\n")
	b.WriteString("PARTITION BY " + t.partition + "\n")
	if t.primary != "" {
		b.WriteString("PRIMARY KEY " + t.primary + "\n")
	}
	b.WriteString("ORDER BY " + t.order + "\n")
	if t.ttl {
		tt := ttlTableOf(t.name)
		b.WriteString("TTL " + ttlClause(tt, tt.ttl(s.c)) + "\n")
	}
	b.WriteString("SETTINGS " + s.settings())
	return b.String()
}

// distributed is the cluster-wide table over a local table's shards. Only
// the requests table is written through it, with a deterministic sharding
// key: a retried batch must split into the same per-shard blocks for each
// shard to recognise its block's deduplication token. Sharding by client
// also keeps each client's rows, and its activity rollup, on one shard.
func (s schema) distributed(table, shardKey string) string {
	args := quoteIdent(s.c.Cluster) + ", " + quoteIdent(s.c.Database) + ", " + quoteIdent(s.storage(table))
	if shardKey != "" {
		args += ", " + shardKey
	}
	return "CREATE TABLE IF NOT EXISTS " + s.name(table) + s.onCluster() + " AS " + s.name(s.storage(table)) +
		"\nENGINE = Distributed(" + args + ")"
}

func (s schema) createDatabase() string {
	return "CREATE DATABASE IF NOT EXISTS " + quoteIdent(s.c.Database) + s.onCluster()
}

func (s schema) createMigrations() string {
	engine := "ReplacingMergeTree"
	if s.c.Cluster != "" {
		// One history for the whole cluster: every node of every shard
		// replicates it, so the path has no {shard} and the replica name
		// does.
		engine = "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{shard}-{replica}')"
	}
	return "CREATE TABLE IF NOT EXISTS " + s.name(MigrationsTable) + s.onCluster() + "\n(\n" +
		"    `version` UInt32,\n" +
		"    `name` String,\n" +
		"    `applied_at` DateTime64(3, 'UTC')\n" +
		")\nENGINE = " + engine + "\nORDER BY version"
}

func (s schema) requestsDDL() []string {
	ddl := []string{s.createTable(tableSpec{
		name:    RequestsTable,
		columns: requestColumns,
		// Per-client threat queries: over 7 days of 20M synthetic rows
		// (300k clients, 2,450 granules) a typical client's rows are read
		// from 31 granules instead of ~370 with the primary key alone; the
		// index is 3% of the table's size. (An ORDER BY by day instead of
		// hour read 40, but then time-range scans read whole days.)
		indexes:   []string{"`client_id_bloom` client_id TYPE bloom_filter(0.01) GRANULARITY 1"},
		engine:    "MergeTree",
		partition: "toDate(ts)",
		// Site first: every query filters by site. The hour bucket keeps
		// time-range scans to the hours asked for. ts is in the sort order
		// (a client's rows in time order, better compression) but not in
		// the primary key: with ts in the key the index matches a ts range
		// on that last column only and the hour bucket prunes nothing
		// (measured: a 15-minute window of one site read 96 granules with
		// ts in the primary key, 13 without).
		primary: "(site, toStartOfHour(ts), client_id)",
		order:   "(site, toStartOfHour(ts), client_id, ts)",
		ttl:     true,
	})}
	if s.c.Cluster != "" {
		ddl = append(ddl, s.distributed(RequestsTable, "cityHash64(client_id)"))
	}
	return ddl
}

// batchKeyDDL adds batchKeyColumn to the requests table (and, in a
// cluster, to its distributed table, which does not follow by itself).
func (s schema) batchKeyDDL() []string { return s.addColumn(RequestsTable, batchKeyColumn) }

// signatureDDL adds signatureColumn to the requests table.
func (s schema) signatureDDL() []string { return s.addColumn(RequestsTable, signatureColumn) }

// addColumn adds a column to one of the tables (and, in a cluster, to its
// distributed table, which does not follow by itself).
func (s schema) addColumn(table string, c column) []string {
	add := " ADD COLUMN IF NOT EXISTS " + quoteIdent(c.name) + " " + c.typ + " COMMENT '" + c.comment + "'"
	if c.codec != "" {
		add += " CODEC(" + c.codec + ")"
	}
	ddl := []string{"ALTER TABLE " + s.name(s.storage(table)) + s.onCluster() + add}
	if s.c.Cluster != "" {
		ddl = append(ddl, "ALTER TABLE "+s.name(table)+s.onCluster()+" ADD COLUMN IF NOT EXISTS "+
			quoteIdent(c.name)+" "+c.typ)
	}
	return ddl
}

// settledPartitionsDDL gives the tables made before it settledPartitions.
func (s schema) settledPartitionsDDL() []string {
	var ddl []string
	for _, t := range ttlTables {
		if t.name == EpochsTable || t.name == RuleResultsTable || t.name == PathsWeeklyTable {
			continue // migration 14's and 15's, created with the setting
		}
		ddl = append(ddl, "ALTER TABLE "+s.name(s.storage(t.name))+s.onCluster()+" MODIFY SETTING "+settledPartitions)
	}
	return ddl
}

// userAgentDDL makes user_agent dictionary-encoded (userAgentType). On a
// table with rows this rewrites the column once, as a background mutation.
func (s schema) userAgentDDL() []string {
	ddl := []string{"ALTER TABLE " + s.name(s.storage(RequestsTable)) + s.onCluster() +
		" MODIFY COLUMN `user_agent` " + userAgentType + " CODEC(ZSTD(1))"}
	if s.c.Cluster != "" {
		ddl = append(ddl, "ALTER TABLE "+s.name(RequestsTable)+s.onCluster()+" MODIFY COLUMN `user_agent` "+userAgentType)
	}
	return ddl
}

func (s schema) healthDDL() []string {
	ddl := []string{
		s.createTable(tableSpec{
			name: HealthTable, columns: healthColumns, engine: "AggregatingMergeTree",
			partition: "toDate(minute)", order: "(site, minute)", ttl: true,
		}),
		"CREATE MATERIALIZED VIEW IF NOT EXISTS " + s.name(s.storage(HealthTable)+"_mv") + s.onCluster() +
			" TO " + s.name(s.storage(HealthTable)) + "\nAS SELECT\n" +
			"    site,\n" +
			"    toStartOfMinute(ts) AS minute,\n" +
			"    count() AS requests,\n" +
			"    countIf(status >= 200 AND status < 300) AS status_2xx,\n" +
			"    countIf(status >= 300 AND status < 400) AS status_3xx,\n" +
			"    countIf(status >= 400 AND status < 500) AS status_4xx,\n" +
			"    countIf(status >= 500 AND status < 600) AS status_5xx,\n" +
			"    countIf(status < 200 OR status >= 600) AS status_other,\n" +
			"    sum(bytes) AS bytes,\n" +
			"    countIf(flags != 0) AS flagged,\n" +
			"    count(request_time) AS latency_known,\n" +
			"    " + strings.Replace(latencyFunc(), "quantilesTDigest", "quantilesTDigestStateIf", 1) +
			"(assumeNotNull(request_time), isNotNull(request_time)) AS latency\n" +
			"FROM " + s.name(s.storage(RequestsTable)) + "\n" +
			"GROUP BY site, minute",
	}
	if s.c.Cluster != "" {
		ddl = append(ddl, s.distributed(HealthTable, ""))
	}
	return ddl
}

// clientsTableSpec is ClientsTable's definition.
var clientsTableSpec = tableSpec{
	name: ClientsTable, columns: clientColumns, engine: "AggregatingMergeTree",
	partition: "toDate(hour)", order: "(site, hour, client_id, epoch, network_id)", ttl: true,
}

// clientsSelect aggregates requests rows (FROM from) into ClientsTable's
// columns: the view's query and migration 12's refill.
func clientsSelect(from, where string) string {
	return "SELECT\n" +
		"    site,\n" +
		"    toStartOfHour(ts) AS hour,\n" +
		"    client_id,\n" +
		"    epoch,\n" +
		"    network_id,\n" +
		"    count() AS requests,\n" +
		"    countIf(status >= 400) AS errors,\n" +
		"    countIf(status = 404) AS not_found,\n" +
		"    sum(bytes) AS bytes,\n" +
		"    uniqState(path) AS paths,\n" +
		"    groupUniqArray(toString(method)) AS methods,\n" +
		"    groupBitOr(flags) AS flags,\n" +
		// r.flags: the column, not the flags aggregate's alias.
		"    countIf(r.flags != 0) AS flagged,\n" +
		"    min(toDateTime(ts)) AS first_seen,\n" +
		"    max(toDateTime(ts)) AS last_seen,\n" +
		"    anyLast(country) AS country,\n" +
		"    anyLast(asn) AS asn,\n" +
		"    sumMap([toMinute(ts)], [toUInt64(1)]) AS minutes\n" +
		"FROM " + from + " AS r" + where + "\n" +
		"GROUP BY site, hour, client_id, epoch, network_id"
}

func (s schema) clientsDDL() []string {
	ddl := []string{
		s.createTable(clientsTableSpec),
		"CREATE MATERIALIZED VIEW IF NOT EXISTS " + s.name(s.storage(ClientsTable)+"_mv") + s.onCluster() +
			" TO " + s.name(s.storage(ClientsTable)) + "\nAS " + clientsSelect(s.name(s.storage(RequestsTable)), ""),
	}
	if s.c.Cluster != "" {
		ddl = append(ddl, s.distributed(ClientsTable, ""))
	}
	return ddl
}

func (s schema) makeDurable(table string) string {
	return "ALTER TABLE " + s.name(s.storage(table)) + s.onCluster() + " MODIFY SETTING " + durableInserts
}

func (s schema) modifyTTL(t ttlTable, ttl time.Duration) string {
	return "ALTER TABLE " + s.name(s.storage(t.name)) + s.onCluster() + " MODIFY TTL " + ttlClause(t, ttl)
}
