package subject

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/vakt-dev/vakt/store"
)

// rebuiltRollup is a rollup with no client ids that holds strings of the
// requests that can name a person (paths, user agents): erasure deletes
// its rows of the keys the erased client counted in and rebuilds them from
// the requests left.
type rebuiltRollup struct {
	table  string
	cols   string // the work table's columns: the rollup's key
	keys   string // those columns' values, from a requests row
	key    string // the rollup's columns matched against the work table
	refill func(rollup, requests, keys string) string
}

var rebuiltRollups = []rebuiltRollup{
	{store.PathsTable, "site LowCardinality(String), day Date, path String", "site, toDate(ts), path", "site, day, path", store.PathsRefillSQL},
	{store.SourcesTable, "site LowCardinality(String), day Date, user_agent String", "site, toDate(ts), user_agent", "site, day, user_agent", store.SourcesRefillSQL},
}

// prepareRebuilds notes, before the client's requests are deleted, the keys
// of each rebuilt rollup (rebuiltRollups) they counted in, in Memory tables
// (never on disk), and returns refill: by table, a function that deletes
// those rollup rows and rebuilds them from the requests left, to be run
// after the requests' DELETE. Without it a path or an agent only the erased
// client sent would outlive the erasure. A request of another client with
// one of those keys stored between the DELETE and the rebuild is counted
// twice in that day's figures.
//
// On a cluster each shard's rollup rows come from its own requests, which
// one statement cannot rebuild: erasure leaves these rollups alone there
// (docs/privacy.md).
func prepareRebuilds(ctx context.Context, d Deps, who string) (refill map[string]func() error, drop func(), err error) {
	var drops []func()
	drop = func() {
		for _, f := range drops {
			f()
		}
	}
	refill = map[string]func() error{}
	for _, r := range rebuiltRollups {
		var b [8]byte
		_, _ = rand.Read(b[:])
		keys := d.table("subject_erase_keys_" + hex.EncodeToString(b[:]))
		if err := d.CH.Exec(ctx, "CREATE TABLE "+keys+" ("+r.cols+") ENGINE = Memory"); err != nil {
			drop()
			return nil, nil, chError("erasure work table", err)
		}
		drops = append(drops, func() { _ = d.CH.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+keys+" SYNC") })
		if err := d.CH.Exec(ctx, "INSERT INTO "+keys+" SELECT DISTINCT "+r.keys+" FROM "+
			d.table(store.RequestsTable)+" WHERE "+who); err != nil {
			drop()
			return nil, nil, chError("erasure work table", err)
		}
		rollup := d.table(r.table)
		refill[r.table] = func() error {
			if err := d.CH.Exec(ctx, "ALTER TABLE "+rollup+" DELETE WHERE ("+r.key+") IN (SELECT "+r.key+" FROM "+keys+")"); err != nil {
				return chError("erase rows of "+r.table, err)
			}
			if err := d.CH.Exec(ctx, r.refill(rollup, d.table(store.RequestsTable), keys)); err != nil {
				return chError("rebuild rows of "+r.table, err)
			}
			return nil
		}
	}
	return refill, drop, nil
}
