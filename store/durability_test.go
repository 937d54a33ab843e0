package store

import (
	"strings"
	"testing"
)

// TestInsertsDurable: every table vakt writes syncs an insert's part to
// disk before the insert returns (BENCHMARKS.md, "Durability"), and a
// table that lost the setting (made by an older vakt) gets it back from
// the next migration.
func TestInsertsDurable(t *testing.T) {
	t.Parallel()
	conn := openCH(t, needEngine(t))
	db := freshDB(t, conn)
	cfg := SchemaConfig{Database: db}
	if err := Migrate(t.Context(), conn, cfg); err != nil {
		t.Fatal(err)
	}
	durable := func(table string) bool {
		create, err := showCreate(t.Context(), conn, db, table)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(create, "fsync_after_insert = 1") && strings.Contains(create, "fsync_part_directory = 1")
	}
	for _, tt := range ttlTables {
		if !durable(tt.name) {
			t.Errorf("%s: inserts are not synced to disk", tt.name)
		}
	}
	if err := exec(t.Context(), conn, "ALTER TABLE "+tableName(db, RequestsTable)+" MODIFY SETTING fsync_after_insert = 0"); err != nil {
		t.Fatal(err)
	}
	if durable(RequestsTable) {
		t.Fatal("the setting did not change")
	}
	if err := Migrate(t.Context(), conn, cfg); err != nil {
		t.Fatal(err)
	}
	if !durable(RequestsTable) {
		t.Error("migrate did not make inserts into requests durable again")
	}
}
