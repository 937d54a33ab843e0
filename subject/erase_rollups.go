package subject

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/vakt-dev/vakt/store"
)

// prepareRebuilds notes, before the client's requests are deleted, the
// keys of each rebuilt rollup (store.RebuiltRollups) they counted in, in
// Memory tables (never on disk), and returns refill: by table, a function
// that deletes those rollup rows and rebuilds them from the rows left in
// its source, to be run after the requests' DELETE and its source's
// rebuild (in the order of store.RebuiltRollups). Without it a path or an
// agent only the erased client sent would outlive the erasure. A request
// of another client with one of those keys stored between the DELETE and
// the rebuild is counted twice in that day's figures.
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
	for _, r := range store.RebuiltRollups {
		var b [8]byte
		_, _ = rand.Read(b[:])
		keys := d.table("subject_erase_keys_" + hex.EncodeToString(b[:]))
		if err := d.CH.Exec(ctx, "CREATE TABLE "+keys+" ("+r.KeyColumns()+") ENGINE = Memory"); err != nil {
			drop()
			return nil, nil, chError("erasure work table", err)
		}
		drops = append(drops, func() { _ = d.CH.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+keys+" SYNC") })
		if err := d.CH.Exec(ctx, "INSERT INTO "+keys+" SELECT DISTINCT "+r.RowKey()+" FROM "+
			d.table(store.RequestsTable)+" WHERE "+who); err != nil {
			drop()
			return nil, nil, chError("erasure work table", err)
		}
		rollup := d.table(r.Table)
		refill[r.Table] = func() error {
			if err := d.CH.Exec(ctx, "ALTER TABLE "+rollup+" DELETE WHERE ("+r.Key()+") IN (SELECT "+r.Key()+" FROM "+keys+")"); err != nil {
				return chError("erase rows of "+r.Table, err)
			}
			if err := d.CH.Exec(ctx, r.RefillSQL(rollup, d.table(r.Source), keys)); err != nil {
				return chError("rebuild rows of "+r.Table, err)
			}
			return nil
		}
	}
	return refill, drop, nil
}
