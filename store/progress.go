package store

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ReportProgress prints the row count of the requests table every
// interval until ctx ends, so `make run` shows events arriving.
func ReportProgress(ctx context.Context, conn driver.Conn, every time.Duration, out io.Writer) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := uint64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM vakt.requests").Scan(&n); err != nil {
			continue
		}
		if n != last {
			fmt.Fprintf(out, "%s  vakt.requests: %d rows (+%d)\n", time.Now().Format("15:04:05"), n, n-last)
			last = n
		}
	}
}
