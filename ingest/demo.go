package ingest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vakt-dev/vakt/internal/loggen"
)

// demo feeds generated lines with current timestamps at DemoRate lines per
// second through the same parse and publish path as files, under site
// "demo", until ctx ends.
func (i *Ingest) demo(ctx, pubCtx context.Context) {
	seed := rand.Uint64()
	gen := loggen.New(loggen.Config{Seed: seed, Clients: i.cfg.DemoClients, Sites: []string{DemoSite}, Now: time.Now})
	// Each run is a new source: its message ids must not collide with an
	// earlier run's.
	s := i.newSink(sourceDemo, "demo", DemoSite, fmt.Sprintf("demo-%016x", seed), true)
	rate := i.cfg.DemoRate
	tick := time.NewTicker(i.cfg.FlushInterval)
	defer tick.Stop()
	last := time.Now()
	var (
		owed float64
		seq  int64
		buf  = make([]byte, 0, 1024)
	)
	for {
		select {
		case <-ctx.Done():
			_ = s.flush(pubCtx)
			return
		case now := <-tick.C:
			// At most a second's worth after a stall, not a burst.
			owed = min(owed+now.Sub(last).Seconds()*rate, max(rate, 1))
			last = now
		}
		for ; owed >= 1; owed-- {
			buf = gen.AppendLine(buf[:0])
			if s.line(pubCtx, buf, seq, seq+1) != nil {
				return
			}
			seq++
		}
		if s.flush(pubCtx) != nil {
			return
		}
	}
}
