package subject

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/vakt-dev/vakt/store"
)

// prepareErasePaths notes, before the client's requests are deleted, the
// (site, day, path) keys of the daily path rollup (store.PathsTable) they
// counted in, in a Memory table (never on disk), and returns refill: it
// deletes those rollup rows and rebuilds them from the requests left, to
// be run after the requests' DELETE. The rollup holds paths, so without
// it a path only the erased client asked for would outlive the erasure.
// A request of another client on one of those paths stored between the
// DELETE and the rebuild is counted twice in that day's path figures.
//
// On a cluster each shard's rollup rows come from its own requests, which
// one statement cannot rebuild: erasure leaves the path rollup alone there
// (docs/privacy.md).
func prepareErasePaths(ctx context.Context, d Deps, who string) (refill func() error, drop func(), err error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	keys := d.table("subject_erase_paths_" + hex.EncodeToString(b[:]))
	if err := d.CH.Exec(ctx, "CREATE TABLE "+keys+" (site LowCardinality(String), day Date, path String) ENGINE = Memory"); err != nil {
		return nil, nil, chError("erasure work table", err)
	}
	drop = func() { _ = d.CH.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+keys+" SYNC") }
	if err := d.CH.Exec(ctx, "INSERT INTO "+keys+" SELECT DISTINCT site, toDate(ts), path FROM "+
		d.table(store.RequestsTable)+" WHERE "+who); err != nil {
		drop()
		return nil, nil, chError("erasure work table", err)
	}
	paths := d.table(store.PathsTable)
	refill = func() error {
		if err := d.CH.Exec(ctx, "ALTER TABLE "+paths+" DELETE WHERE (site, day, path) IN (SELECT site, day, path FROM "+keys+")"); err != nil {
			return chError("erase rows of "+store.PathsTable, err)
		}
		if err := d.CH.Exec(ctx, store.PathsRefillSQL(paths, d.table(store.RequestsTable), keys)); err != nil {
			return chError("rebuild rows of "+store.PathsTable, err)
		}
		return nil
	}
	return refill, drop, nil
}
