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
// vakt_consumer_ack_pending) every interval until ctx ends. A consumer that
// cannot be read keeps its last value.
func pollLag(ctx context.Context, js jetstream.JetStream, m *metrics.Pipeline, every time.Duration) {
	bus.PollLag(ctx, js, every, func(consumer string, pending uint64, ackPending int) {
		m.ConsumerPending.WithLabelValues(consumer).Set(float64(pending))
		m.ConsumerAckPending.WithLabelValues(consumer).Set(float64(ackPending))
	})
}
