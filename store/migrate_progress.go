package store

import (
	"context"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// MigrateProgress hears how far a long migration step (one that copies
// rows) has got: rows done of total. It is called from another goroutine
// every progressPoll while the step runs, and once at its end.
type MigrateProgress func(step string, done, total uint64)

type migrateProgressKey struct{}

// WithMigrateProgress returns ctx carrying fn, for Migrate and
// MigrateReport to report long steps to (`vakt migrate`'s progress bar).
func WithMigrateProgress(ctx context.Context, fn MigrateProgress) context.Context {
	return context.WithValue(ctx, migrateProgressKey{}, fn)
}

// progressPoll is how often a copy's destination is counted.
const progressPoll = 250 * time.Millisecond

// copyRows runs stmt, an INSERT ... SELECT from src into dst. With a
// MigrateProgress in ctx it counts dst meanwhile (inserted blocks are
// visible as they are written, on a server and on the embedded engine
// alike) against the rows src had.
func copyRows(ctx context.Context, conn driver.Conn, step, stmt, src, dst string) error {
	fn, _ := ctx.Value(migrateProgressKey{}).(MigrateProgress)
	if fn == nil {
		return exec(ctx, conn, stmt)
	}
	total, err := queryCount(ctx, conn, "SELECT count() FROM "+src)
	if err != nil {
		return err
	}
	fn(step, 0, total)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if n, err := queryCount(ctx, conn, "SELECT count() FROM "+dst); err == nil {
					fn(step, min(n, total), total)
				}
			}
		}
	})
	err = exec(ctx, conn, stmt)
	close(done)
	wg.Wait()
	if err == nil {
		fn(step, total, total)
	}
	return err
}
