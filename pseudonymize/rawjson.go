package pseudonymize

import (
	"time"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/logformat"
)

// rangeJSON decodes a JSON message of the RAW stream (docs/nats-contract.md)
// and calls fn with each record, or with the reason it was rejected.
// Records that carry a whole log line are parsed with the worker's
// auto-detecting parser; records without a time take the time JetStream
// stored the message. It fails only for a message that is not JSON.
func rangeJSON(data []byte, stored time.Time, w *workerState, fn func(r *event.Raw, reason string) error) error {
	if w.lines == nil {
		w.lines = logformat.NewAuto(nil)
	}
	opt := &event.JSONOptions{ParseLine: w.lines.Parse, DefaultTime: stored}
	return event.RangeJSON(data, opt, func(r *event.Raw, err error) error {
		if err != nil {
			return fn(nil, string(logformat.ReasonOf(err)))
		}
		return fn(r, "")
	})
}
