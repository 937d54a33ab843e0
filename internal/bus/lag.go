package bus

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// PollLag reports the lag of the pipeline's consumers (pseudonymize,
// store) from JetStream's consumer info every interval until ctx ends. A
// consumer that cannot be read is not reported.
func PollLag(ctx context.Context, js jetstream.JetStream, every time.Duration, report func(consumer string, pending uint64, ackPending int)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, sc := range [][2]string{{RawStream, PseudonymizeConsumer}, {EventsStream, StoreConsumer}} {
			qctx, cancel := context.WithTimeout(ctx, every)
			c, err := js.Consumer(qctx, sc[0], sc[1])
			if err == nil {
				var info *jetstream.ConsumerInfo
				if info, err = c.Info(qctx); err == nil {
					report(sc[1], info.NumPending, info.NumAckPending)
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
