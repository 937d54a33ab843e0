package store

// RebuiltRollup is a daily rollup with no client ids that holds a string
// of the requests which can name a person (a path, a user agent). Erasure
// deletes its rows of the (site, day, string) keys the erased client's
// requests counted in and rebuilds them from the requests that remain: a
// client's share of a row cannot be subtracted from its states.
type RebuiltRollup struct {
	Table  string
	Column string // the string column, named as in the requests
	sel    func(from, where string) string
}

// RebuiltRollups are the rollups erasure rebuilds.
var RebuiltRollups = []RebuiltRollup{
	{PathsTable, "path", pathsSelect},
	{SourcesTable, "user_agent", sourcesSelect},
}

// KeyColumns is the key's columns as CREATE TABLE writes them, for a
// table that holds keys.
func (r RebuiltRollup) KeyColumns() string {
	return "site LowCardinality(String), day Date, " + r.Column + " String"
}

// Key is the key's columns in the rollup (and in a KeyColumns table).
func (r RebuiltRollup) Key() string { return "site, day, " + r.Column }

// RowKey is the key of a requests row.
func (r RebuiltRollup) RowKey() string { return "site, toDate(ts), " + r.Column }

// RefillSQL re-aggregates the rollup's rows (rollup, a table name as
// written in SQL) of the keys held in keys (a KeyColumns table) from the
// requests (requests).
func (r RebuiltRollup) RefillSQL(rollup, requests, keys string) string {
	return "INSERT INTO " + rollup + " SETTINGS async_insert = 0\n" +
		r.sel(requests, "\nWHERE ("+r.RowKey()+") IN (SELECT "+r.Key()+" FROM "+keys+")")
}
