package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RequestsTable is the table pseudonymised requests are stored in.
const RequestsTable = "requests"

const (
	day = 24 * time.Hour
	// DefaultRequestsTTL is how long request rows are kept (DESIGN.md).
	DefaultRequestsTTL = 30 * day
	maxRequestsTTL     = 10 * 366 * day
)

// SchemaConfig sets up vakt's tables.
type SchemaConfig struct {
	// Database holds the tables (default "vakt").
	Database string `yaml:"database"`
	// RequestsTTL is how long a request row is kept. It must be a whole
	// number of days: partitions are daily and expire as whole parts
	// (ttl_only_drop_parts), so a finer TTL would promise a precision the
	// storage does not deliver. A row lives between RequestsTTL and
	// RequestsTTL plus one day. Default 30 days.
	RequestsTTL time.Duration `yaml:"requests_ttl"`
}

func (c SchemaConfig) withDefaults() SchemaConfig {
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.RequestsTTL == 0 {
		c.RequestsTTL = DefaultRequestsTTL
	}
	return c
}

// Validate reports invalid settings, naming their key and the fix.
func (c SchemaConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if !validIdent(c.Database) {
		errs = append(errs, fmt.Errorf("schema.database: %q is not a plain identifier; use letters, digits and '_'", c.Database))
	}
	switch ttl := c.RequestsTTL; {
	case ttl < day:
		errs = append(errs, fmt.Errorf("schema.requests_ttl: %s is shorter than one day; use a whole number of days such as 720h (30 days)", ttl))
	case ttl%day != 0:
		errs = append(errs, fmt.Errorf("schema.requests_ttl: %s is not a whole number of days; use e.g. %dh (%d days)", ttl, int(ttl/day)*24, int(ttl/day)))
	case ttl > maxRequestsTTL:
		errs = append(errs, fmt.Errorf("schema.requests_ttl: %s is more than 10 years; a privacy TTL that long is almost certainly a typo", ttl))
	}
	return errors.Join(errs...)
}

// column is one column of the requests table. The DDL, the INSERT column
// list and the HTTP insert's column types all come from this one list, so
// they cannot drift apart.
type column struct {
	name, typ, codec, comment string
}

var requestColumns = []column{
	{"ts", "DateTime64(3, 'UTC')", "Delta(8), ZSTD(1)", "request time, UTC"},
	{"site", "LowCardinality(String)", "", "site the request was logged for"},
	{"client_id", "UInt64", "", "keyed PRF of the client IP under the epoch salt"},
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
	{"status", "UInt16", "", ""},
	{"bytes", "UInt64", "", "response bytes"},
	{"referrer", "String", "ZSTD(1)", "scrubbed by policy"},
	{"user_agent", "String", "ZSTD(1)", ""},
	{"host", "LowCardinality(String)", "", ""},
	{"request_time", "Nullable(Float32)", "", "seconds; NULL when not logged"},
	{"upstream_time", "Nullable(Float32)", "", "seconds; NULL when not logged"},
	{"flags", "UInt32", "", "threat signal bits (event.Flags)"},
}

// tableName returns db.table quoted for SQL.
func tableName(db, table string) string { return "`" + db + "`.`" + table + "`" }

func createDatabaseSQL(db string) string {
	return "CREATE DATABASE IF NOT EXISTS `" + db + "`"
}

// ttlExpr is the TTL expression of the requests table for ttl whole days.
func ttlExpr(ttl time.Duration) string {
	return fmt.Sprintf("toDateTime(ts) + INTERVAL %d DAY", int64(ttl/day))
}

// createRequestsSQL is the DDL of the requests table. Pure, so that a unit
// test pins it.
func createRequestsSQL(db string, ttl time.Duration) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + tableName(db, RequestsTable) + "\n(\n")
	for i, c := range requestColumns {
		b.WriteString("    `" + c.name + "` " + c.typ)
		// ClickHouse's column grammar puts COMMENT before CODEC.
		if c.comment != "" {
			b.WriteString(" COMMENT '" + c.comment + "'")
		}
		if c.codec != "" {
			b.WriteString(" CODEC(" + c.codec + ")")
		}
		if i < len(requestColumns)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(")\n")
	b.WriteString("ENGINE = MergeTree\n")
	// Daily partitions so that expiry drops whole parts.
	b.WriteString("PARTITION BY toDate(ts)\n")
	// Site first: every query filters by site; the hour bucket before
	// client_id keeps time-range scans tight while grouping a client's
	// requests within the hour for per-client threat queries.
	b.WriteString("ORDER BY (site, toStartOfHour(ts), client_id, ts)\n")
	b.WriteString("TTL " + ttlExpr(ttl) + "\n")
	// ttl_only_drop_parts: expire by dropping parts, never by rewriting them.
	// non_replicated_deduplication_window: remember recent insert tokens so a
	// retried batch is stored once on a single (non-replicated) node.
	b.WriteString("SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000")
	return b.String()
}

func modifyTTLSQL(db string, ttl time.Duration) string {
	return "ALTER TABLE " + tableName(db, RequestsTable) + " MODIFY TTL " + ttlExpr(ttl)
}

// ttlRE finds the table TTL in SHOW CREATE TABLE output, where ClickHouse
// writes INTERVAL n DAY as toIntervalDay(n).
var ttlRE = regexp.MustCompile(`\bTTL\s+toDateTime\(ts\)\s*\+\s*(?:toInterval(Day|Hour|Week|Month)\((\d+)\)|INTERVAL\s+(\d+)\s+(DAY|HOUR|WEEK|MONTH))\s*(?:SETTINGS\b|$)`)

// parseTTL extracts the requests table's TTL from its CREATE statement. ok
// is false when the table has no TTL or one of a shape vakt did not write.
func parseTTL(createQuery string) (ttl time.Duration, ok bool) {
	m := ttlRE.FindStringSubmatch(createQuery)
	if m == nil {
		return 0, false
	}
	unit, num := m[1], m[2]
	if unit == "" {
		unit, num = m[4], m[3]
	}
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil {
		return 0, false
	}
	switch strings.ToLower(unit) {
	case "hour":
		return time.Duration(n) * time.Hour, true
	case "day":
		return time.Duration(n) * day, true
	case "week":
		return time.Duration(n) * 7 * day, true
	}
	// Months have no fixed length: never equal to a configured duration.
	return 0, false
}

// Migrate creates vakt's database and the requests table if missing, and
// brings the table's TTL to cfg.RequestsTTL. It is idempotent and safe for
// several replicas to run at once.
func Migrate(ctx context.Context, conn driver.Conn, cfg SchemaConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if err := conn.Exec(ctx, createDatabaseSQL(cfg.Database)); err != nil {
		return fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	if err := conn.Exec(ctx, createRequestsSQL(cfg.Database, cfg.RequestsTTL)); err != nil {
		return fmt.Errorf("create table %s.%s: %w", cfg.Database, RequestsTable, err)
	}
	// The table may predate this config: align its TTL, so that shortening
	// retention in the config really shortens it.
	create, err := showCreate(ctx, conn, cfg.Database, RequestsTable)
	if err != nil {
		return err
	}
	if cur, ok := parseTTL(create); ok && cur == cfg.RequestsTTL {
		return nil
	}
	if err := conn.Exec(ctx, modifyTTLSQL(cfg.Database, cfg.RequestsTTL)); err != nil {
		return fmt.Errorf("set TTL of %s.%s to %s: %w", cfg.Database, RequestsTable, cfg.RequestsTTL, err)
	}
	return nil
}

// showCreate returns the CREATE statement of db.table as the server
// normalised it.
func showCreate(ctx context.Context, conn driver.Conn, db, table string) (string, error) {
	var create string
	row := conn.QueryRow(ctx, "SHOW CREATE TABLE "+tableName(db, table))
	if err := row.Scan(&create); err != nil {
		return "", fmt.Errorf("show create table %s.%s: %w", db, table, err)
	}
	return create, nil
}
