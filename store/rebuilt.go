package store

// RebuiltRollup is a rollup with no client ids that holds a string of the
// requests which can name a person (a path, a user agent). Erasure deletes
// its rows of the (site, period, string) keys the erased client's requests
// counted in and rebuilds them from the rows that remain: a client's share
// of a row cannot be subtracted from its states.
type RebuiltRollup struct {
	Table  string
	Column string // the string column, named as in the requests
	// Period is the time column (day or week), and of a requests row
	// periodOf, of a source row sourcePeriod.
	Period, periodOf string
	// Source is the table the rows are rebuilt from, after its own rows
	// were: the requests, or a finer rollup rebuilt before this one.
	Source       string
	sourcePeriod string
	sel          func(from, where string) string
}

// RebuiltRollups are the rollups erasure rebuilds, in the order it must:
// a rollup after its source.
var RebuiltRollups = []RebuiltRollup{
	{Table: PathsTable, Column: "path", Period: "day", periodOf: "toDate(ts)",
		Source: RequestsTable, sourcePeriod: "toDate(ts)", sel: pathsSelect},
	// Rebuilt from the daily rows: the view that feeds it adds the daily
	// rows' rebuild to the week, whose rows are then replaced whole.
	{Table: PathsWeeklyTable, Column: "path", Period: "week", periodOf: "toMonday(toDate(ts))",
		Source: PathsTable, sourcePeriod: "toMonday(day)", sel: pathsWeeklySelect},
	{Table: SourcesTable, Column: "user_agent", Period: "day", periodOf: "toDate(ts)",
		Source: RequestsTable, sourcePeriod: "toDate(ts)", sel: sourcesSelect},
}

// KeyColumns is the key's columns as CREATE TABLE writes them, for a
// table that holds keys.
func (r RebuiltRollup) KeyColumns() string {
	return "site LowCardinality(String), " + r.Period + " Date, " + r.Column + " String"
}

// Key is the key's columns in the rollup (and in a KeyColumns table).
func (r RebuiltRollup) Key() string { return "site, " + r.Period + ", " + r.Column }

// RowKey is the key of a requests row.
func (r RebuiltRollup) RowKey() string { return "site, " + r.periodOf + ", " + r.Column }

// RefillSQL re-aggregates the rollup's rows (rollup, a table name as
// written in SQL) of the keys held in keys (a KeyColumns table) from its
// source (source, r.Source's name as written in SQL).
func (r RebuiltRollup) RefillSQL(rollup, source, keys string) string {
	return "INSERT INTO " + rollup + " SETTINGS async_insert = 0\n" +
		r.sel(source, "\nWHERE (site, "+r.sourcePeriod+", "+r.Column+") IN (SELECT "+r.Key()+" FROM "+keys+")")
}
