package app

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/metrics"
)

// lagInterval is how often consumer lag is polled for /metrics.
const lagInterval = 5 * time.Second

// pollLag sets the consumer lag gauges (vakt_consumer_pending and
// vakt_consumer_ack_pending) from JetStream's consumer info every interval
// until ctx ends. A consumer that cannot be read keeps its last value.
func pollLag(ctx context.Context, js jetstream.JetStream, m *metrics.Pipeline, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, sc := range [][2]string{{bus.RawStream, bus.PseudonymizeConsumer}, {bus.EventsStream, bus.StoreConsumer}} {
			qctx, cancel := context.WithTimeout(ctx, every)
			c, err := js.Consumer(qctx, sc[0], sc[1])
			if err == nil {
				var info *jetstream.ConsumerInfo
				if info, err = c.Info(qctx); err == nil {
					m.ConsumerPending.WithLabelValues(sc[1]).Set(float64(info.NumPending))
					m.ConsumerAckPending.WithLabelValues(sc[1]).Set(float64(info.NumAckPending))
				}
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
