package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// migration is one step of the schema's history. Steps are applied in
// order, once, and recorded in MigrationsTable. Every statement is
// idempotent (IF NOT EXISTS), so a step interrupted half way, or run by two
// replicas at once, completes when run again.
type migration struct {
	version int
	name    string
	up      func(s schema) []string
}

// migrations is the schema's history. Append only: a released step never
// changes, since databases that applied it will not run it again.
var migrations = []migration{
	{1, "requests table", schema.requestsDDL},
	{2, "site health per minute (rollup, no client ids)", schema.healthDDL},
	{3, "client activity per hour (rollup)", schema.clientsDDL},
	{4, "requests remember their ingest batch (exactly once across restarts)", schema.batchKeyDDL},
	{5, "user agents dictionary-encoded (faster user-agent rules)", schema.userAgentDDL},
	{6, "requests name the exploit or probe signature they matched", schema.signatureDDL},
	{7, "client threat signals per hour (rollup the rules read first), filled from the stored requests", schema.signalsDDL},
	{8, "site health per path per day (rollup for health's path lists), filled from the stored requests", schema.pathsDDL},
	{9, "site health per hour (rollup of the per-minute one), filled from it", schema.healthHourlyDDL},
	{10, "site health per path per day with millisecond latency states (faster path lists), rebuilt from the stored requests", schema.pathsTimingDDL},
	{11, "requests per site, day, country, AS and user agent (rollup for the top report's lists of them), filled from the stored requests", schema.sourcesDDL},
	{12, "client threat signals per hour keep the hour's first and last request and redirects, client activity per hour its requests per minute, and the requests with a signal are kept apart by client (rules read their offenders' evidence there), all filled from the stored requests", schema.signalTotalsDDL},
	{13, "every table merges each past day into one part (faster reads, FINAL without merging at query time)", schema.settledPartitionsDDL},
	{14, "requests per salt epoch (rollup), filled from the stored requests, and the findings of rules that judge each epoch on its own rows, kept per epoch (faster reports over days)", schema.epochsDDL},
	{15, "site health per path per week (rollup of the daily one, for path lists over weeks), filled from it", schema.pathsWeeklyDDL},
}

// SchemaVersion is the version Migrate brings a database to.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// MigrationReport says what Migrate did.
type MigrationReport struct {
	Database string
	// Version is the schema version after Migrate.
	Version int
	// Applied lists the migrations applied by this call, in order.
	Applied []AppliedMigration
	// TTLChanges lists the tables whose TTL was changed to the configured
	// one.
	TTLChanges []TTLChange
	// Warnings are problems that did not stop the migration.
	Warnings []string
}

// AppliedMigration is one applied step.
type AppliedMigration struct {
	Version int
	Name    string
}

// TTLChange is a table's TTL brought to the configuration.
type TTLChange struct {
	Table    string
	From, To time.Duration // From is 0 when the old TTL was not vakt's
}

// Migrate brings the schema to SchemaVersion and each table's TTL to the
// configured retention. It is idempotent and safe for several replicas to
// run at once; when everything is current it changes nothing and issues no
// DDL.
func Migrate(ctx context.Context, conn driver.Conn, cfg SchemaConfig) error {
	_, err := MigrateReport(ctx, conn, cfg)
	return err
}

// MigrateReport is Migrate, saying what it did. Its errors begin with
// "schema", so that callers need not (and do not) add it again.
func MigrateReport(ctx context.Context, conn driver.Conn, cfg SchemaConfig) (*MigrationReport, error) {
	rep, err := migrateReport(ctx, conn, cfg)
	if err != nil && !strings.HasPrefix(err.Error(), "schema") {
		err = fmt.Errorf("schema: %w", err)
	}
	return rep, err
}

func migrateReport(ctx context.Context, conn driver.Conn, cfg SchemaConfig) (*MigrationReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := newSchema(cfg)
	db := s.c.Database
	rep := &MigrationReport{Database: db}

	// Existence is checked first so that an up-to-date cluster sees no
	// ON CLUSTER DDL at every start.
	dbExists, err := exists(ctx, conn, "EXISTS DATABASE "+quoteIdent(db))
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if !dbExists {
		if err := exec(ctx, conn, s.createDatabase()); err != nil {
			return nil, err
		}
	}
	hadHistory, err := exists(ctx, conn, "EXISTS TABLE "+s.name(MigrationsTable))
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if !hadHistory {
		if err := exec(ctx, conn, s.createMigrations()); err != nil {
			return nil, err
		}
	}
	applied, err := appliedVersions(ctx, conn, s)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(applied, 1) {
		// Before the first migration, a requests table can only be one
		// made before migrations were recorded.
		notes, err := rebuildLegacyRequests(ctx, conn, s)
		if err != nil {
			return nil, err
		}
		rep.Warnings = append(rep.Warnings, notes...)
	}
	requestRows := uint64(0)
	if has, err := exists(ctx, conn, "EXISTS TABLE "+s.name(s.storage(RequestsTable))); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	} else if has {
		if requestRows, err = queryCount(ctx, conn, "SELECT count() FROM "+s.name(s.storage(RequestsTable))); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
	}
	if applied, err = applyMigrations(ctx, conn, s, applied, requestRows == 0, rep); err != nil {
		return rep, err
	}
	rep.Version = slices.Max(applied)
	if rep.Version > SchemaVersion() {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("database %s is at schema version %d, newer than this vakt's %d: upgrade vakt", db, rep.Version, SchemaVersion()))
	}

	if err := alignTTLs(ctx, conn, s, rep); err != nil {
		return rep, err
	}
	return rep, alignDurability(ctx, conn, s)
}

// alignDurability gives tables created before inserts were made durable
// the settings new tables get (durableInserts).
func alignDurability(ctx context.Context, conn driver.Conn, s schema) error {
	for _, t := range ttlTables {
		create, err := showCreate(ctx, conn, s.c.Database, s.storage(t.name))
		if err != nil {
			return err
		}
		if strings.Contains(create, "fsync_after_insert = 1") {
			continue
		}
		if err := exec(ctx, conn, s.makeDurable(t.name)); err != nil {
			return fmt.Errorf("make inserts into %s.%s durable: %w", s.c.Database, t.name, err)
		}
	}
	return nil
}

// applyMigrations applies the migrations not in applied, recording each,
// and returns the versions applied now. With noRequests (a new database,
// or one whose requests all expired) the statements that fill a rollup
// from the requests are skipped: they would read nothing, and a fresh
// installation would pay for one per day of retention.
func applyMigrations(ctx context.Context, conn driver.Conn, s schema, applied []int, noRequests bool, rep *MigrationReport) ([]int, error) {
	requests := "FROM " + s.name(s.storage(RequestsTable))
	for _, m := range migrations {
		if slices.Contains(applied, m.version) {
			continue
		}
		for _, stmt := range m.up(s) {
			if noRequests && strings.HasPrefix(stmt, "INSERT INTO ") && strings.Contains(stmt, requests) {
				continue
			}
			if err := exec(ctx, conn, stmt); err != nil {
				return applied, fmt.Errorf("schema migration %d (%s): %w", m.version, m.name, err)
			}
		}
		// INSERT ... SELECT, not VALUES: endpoints may read inline VALUES
		// as literals only (vakt's embedded one does), so now64 is a query.
		rec := fmt.Sprintf("INSERT INTO %s (version, name, applied_at) SETTINGS async_insert = 0 SELECT %d, '%s', now64(3)",
			s.name(MigrationsTable), m.version, strings.ReplaceAll(m.name, "'", ""))
		if err := exec(ctx, conn, rec); err != nil {
			return applied, fmt.Errorf("schema migration %d (%s): record it: %w", m.version, m.name, err)
		}
		applied = append(applied, m.version)
		rep.Applied = append(rep.Applied, AppliedMigration{m.version, m.name})
	}
	return applied, nil
}

// alignTTLs sets the tables' TTLs to the configured retention: the tables
// may predate this configuration, and changing retention in the
// configuration changes the tables.
func alignTTLs(ctx context.Context, conn driver.Conn, s schema, rep *MigrationReport) error {
	db := s.c.Database
	for _, t := range ttlTables {
		want := t.ttl(s.c)
		create, err := showCreate(ctx, conn, db, s.storage(t.name))
		if err != nil {
			return err
		}
		cur, ok := parseTTL(create, t.expr)
		if ok && cur == want {
			continue
		}
		if err := exec(ctx, conn, s.modifyTTL(t, want)); err != nil {
			return fmt.Errorf("set the TTL of %s.%s to %d days (%s): %w", db, t.name, want/day, t.key, err)
		}
		if !ok {
			cur = 0
		}
		if t.follows != "" {
			continue // reported with the table it follows
		}
		rep.TTLChanges = append(rep.TTLChanges, TTLChange{Table: t.name, From: cur, To: want})
	}
	return nil
}

// rebuildLegacyRequests gives a requests table made before migrations were
// recorded (so before any rollup existed) the current layout: its sort
// order cannot be altered in place. The rows are copied into a new table
// that then takes the old one's place (EXCHANGE TABLES). A writer of an
// older vakt still running meanwhile may store rows in the old table after
// the copy: then the old table is kept, under requests_rebuild, and a note
// says so.
func rebuildLegacyRequests(ctx context.Context, conn driver.Conn, s schema) ([]string, error) {
	const want = "site, toStartOfHour(ts), client_id"
	rows, err := conn.Query(ctx, "SELECT primary_key FROM system.tables WHERE database = {db:String} AND name = {t:String}",
		clickhouse.Named("db", s.c.Database), clickhouse.Named("t", s.storage(RequestsTable)))
	if err != nil {
		return nil, fmt.Errorf("schema: inspect %s: %w", RequestsTable, err)
	}
	var pk string
	found := rows.Next()
	if found {
		err = rows.Scan(&pk)
	}
	if err == nil {
		err = rows.Err()
	}
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("schema: inspect %s: %w", RequestsTable, err)
	}
	if !found || pk == want {
		return nil, nil
	}
	if s.c.Cluster != "" {
		return []string{fmt.Sprintf("%s.%s predates vakt's migrations (primary key %s, not %s); rebuild it by hand on a cluster", s.c.Database, s.storage(RequestsTable), pk, want)}, nil
	}
	old, tmp := s.name(RequestsTable), s.name(RequestsTable+"_rebuild")
	ddl := strings.Replace(s.requestsDDL()[0], old, tmp, 1)
	cols := make([]string, len(requestColumns))
	for i, c := range requestColumns {
		cols[i] = quoteIdent(c.name)
	}
	list := strings.Join(cols, ", ")
	// A copy left by an interrupted rebuild is incomplete: start afresh.
	for _, stmt := range []string{"DROP TABLE IF EXISTS " + tmp, ddl} {
		if err := exec(ctx, conn, stmt); err != nil {
			return nil, fmt.Errorf("schema: rebuild %s with the current layout: %w", RequestsTable, err)
		}
	}
	copyStmt := "INSERT INTO " + tmp + " (" + list + ") SELECT " + list + " FROM " + old
	if err := copyRows(ctx, conn, "copying "+RequestsTable+" into the current layout", copyStmt, old, tmp); err != nil {
		return nil, fmt.Errorf("schema: rebuild %s with the current layout: %w", RequestsTable, err)
	}
	copied, err := queryCount(ctx, conn, "SELECT count() FROM "+tmp)
	if err != nil {
		return nil, err
	}
	if err := exec(ctx, conn, "EXCHANGE TABLES "+old+" AND "+tmp); err != nil {
		return nil, fmt.Errorf("schema: rebuild %s with the current layout: %w", RequestsTable, err)
	}
	had, err := queryCount(ctx, conn, "SELECT count() FROM "+tmp)
	if err != nil {
		return nil, err
	}
	if had != copied {
		return []string{fmt.Sprintf("%s was rebuilt with the current layout, but %d rows arrived in the old table during the copy: it is kept as %s; copy what is missing and drop it",
			old, had-copied, tmp)}, nil
	}
	if err := exec(ctx, conn, "DROP TABLE "+tmp); err != nil {
		return nil, err
	}
	return []string{fmt.Sprintf("%s.%s predated vakt's migrations (primary key %s): rebuilt with the current layout, %d rows copied; the rollups start with the rows stored from now on",
		s.c.Database, RequestsTable, pk, copied)}, nil
}

func queryCount(ctx context.Context, conn driver.Conn, q string) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	return n, nil
}

func appliedVersions(ctx context.Context, conn driver.Conn, s schema) ([]int, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+s.name(MigrationsTable)+" ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("schema: read %s: %w", MigrationsTable, err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, int(v))
	}
	return vs, rows.Err()
}

func exec(ctx context.Context, conn driver.Conn, stmt string) error {
	if err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", firstLine(stmt), err)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// exists answers an EXISTS statement: "EXISTS TABLE t", "EXISTS DATABASE d".
func exists(ctx context.Context, conn driver.Conn, q string) (bool, error) {
	var v uint8 // EXISTS answers a UInt8
	if err := conn.QueryRow(ctx, q).Scan(&v); err != nil {
		return false, fmt.Errorf("%s: %w", q, err)
	}
	return v == 1, nil
}

// SchemaSQL is every statement a fresh installation runs for cfg, in
// order, with comments naming the migrations: for review, and for
// applying by hand.
func SchemaSQL(cfg SchemaConfig) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	s := newSchema(cfg)
	var b strings.Builder
	b.WriteString(s.createDatabase() + ";\n\n")
	b.WriteString(s.createMigrations() + ";\n")
	for _, m := range migrations {
		fmt.Fprintf(&b, "\n-- migration %d: %s\n\n", m.version, m.name)
		for _, stmt := range m.up(s) {
			b.WriteString(stmt + ";\n\n")
		}
		fmt.Fprintf(&b, "INSERT INTO %s (version, name, applied_at) VALUES (%d, '%s', now64(3));\n", s.name(MigrationsTable), m.version, m.name)
	}
	return b.String(), nil
}

// ttlPattern finds a table TTL in SHOW CREATE TABLE output, where
// ClickHouse writes INTERVAL n DAY as toIntervalDay(n). %s is the TTL's
// base expression.
const ttlPattern = `\bTTL\s+%s\s*\+\s*(?:toInterval(Day|Hour|Week|Month)\((\d+)\)|INTERVAL\s+(\d+)\s+(DAY|HOUR|WEEK|MONTH))\s*(?:SETTINGS\b|$)`

// parseTTL extracts a table's TTL counting from expr from its CREATE
// statement. ok is false when the table has no such TTL, or one of a shape
// vakt did not write.
func parseTTL(createQuery, expr string) (ttl time.Duration, ok bool) {
	re, err := regexp.Compile(fmt.Sprintf(ttlPattern, regexp.QuoteMeta(expr)))
	if err != nil {
		return 0, false
	}
	m := re.FindStringSubmatch(createQuery)
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

// TableRetention is how long one table keeps its rows.
type TableRetention struct {
	Table string // as clients name it, e.g. "requests"
	// ConfigKey is the configuration key that sets it.
	ConfigKey string
	// TTL is the retention; 0 when the table has no TTL vakt recognises.
	TTL time.Duration
	// Create is the table's SHOW CREATE TABLE (its local table in a
	// cluster), when read from the server.
	Create string
}

// ConfiguredRetention is the retention cfg sets for each table.
func ConfiguredRetention(cfg SchemaConfig) []TableRetention {
	c := cfg.withDefaults()
	out := make([]TableRetention, len(ttlTables))
	for i, t := range ttlTables {
		out[i] = TableRetention{Table: t.name, ConfigKey: t.key, TTL: t.ttl(c)}
	}
	return out
}

// ErrNoSchema is returned by ReadRetention when the tables do not exist
// yet.
var ErrNoSchema = errors.New("vakt's tables do not exist yet (run vakt migrate)")

// ReadRetention reads each table's TTL from the server, as SHOW CREATE
// TABLE states it.
func ReadRetention(ctx context.Context, conn driver.Conn, cfg SchemaConfig) ([]TableRetention, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := newSchema(cfg)
	out := ConfiguredRetention(cfg)
	for i, t := range ttlTables {
		has, err := exists(ctx, conn, "EXISTS TABLE "+s.name(s.storage(t.name)))
		if err != nil {
			return nil, err
		}
		if !has {
			return nil, fmt.Errorf("%s.%s: %w", s.c.Database, s.storage(t.name), ErrNoSchema)
		}
		create, err := showCreate(ctx, conn, s.c.Database, s.storage(t.name))
		if err != nil {
			return nil, err
		}
		ttl, ok := parseTTL(create, t.expr)
		if !ok {
			ttl = 0
		}
		out[i].TTL, out[i].Create = ttl, create
	}
	return out, nil
}
