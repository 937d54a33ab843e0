package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// Quarantine limits.
const (
	// QuarantinePerHour is how many samples of one reason one ingest
	// process keeps per hour; every rejection is counted regardless.
	QuarantinePerHour = 10
	// QuarantineSampleBytes bounds a sample's text.
	QuarantineSampleBytes = 512
)

// QuarantineSample is one rejected line as the quarantine keeps it: masked
// (see maskLine) and cut short, never the raw line.
type QuarantineSample struct {
	Time   time.Time `json:"time"`
	Site   string    `json:"site"`
	Source string    `json:"source"` // file path, "syslog", ...
	Offset int64     `json:"offset"` // byte offset of the line in its source
	Reason string    `json:"reason"`
	// Sample is the masked line, at most QuarantineSampleBytes, with
	// control characters and invalid UTF-8 as \xNN; empty when the line
	// was not kept (too_long).
	Sample    string `json:"sample"`
	Length    int    `json:"length"` // of the original line in bytes; 0 when unknown
	Truncated bool   `json:"truncated,omitempty"`
}

// quarantine publishes a few masked samples per reason and hour to the
// quarantine stream. Publishing is fire-and-forget on the core NATS
// connection: a sample that does not arrive costs nothing, and ingest never
// waits for it.
type quarantine struct {
	nc  *nats.Conn // nil: samples are dropped
	now func() time.Time

	mu   sync.Mutex
	hour map[string]int64 // reason → hour of the current window
	n    map[string]int   // reason → samples in the current window
}

func newQuarantine(nc *nats.Conn) *quarantine {
	return &quarantine{nc: nc, now: time.Now, hour: map[string]int64{}, n: map[string]int{}}
}

// take reports whether a sample of reason may be kept now.
func (q *quarantine) take(reason string) bool {
	h := q.now().Unix() / 3600
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.hour[reason] != h {
		q.hour[reason], q.n[reason] = h, 0
	}
	if q.n[reason] >= QuarantinePerHour {
		return false
	}
	q.n[reason]++
	return true
}

// offer keeps a masked sample of a rejected line if the reason's budget
// for this hour allows. line may be nil (its content is not at hand).
func (q *quarantine) offer(reason, site, source string, off int64, line []byte) {
	if q == nil || q.nc == nil || !q.take(reason) {
		return
	}
	s := QuarantineSample{Time: q.now().UTC(), Site: site, Source: source, Offset: off, Reason: reason, Length: len(line)}
	s.Sample, s.Truncated = printable(maskLine(line), QuarantineSampleBytes)
	data, err := json.Marshal(s)
	if err != nil {
		return
	}
	_ = q.nc.Publish(bus.QuarantineSubject(site), data)
}

// QuarantineFilter selects samples for ReadQuarantine; zero values match
// everything.
type QuarantineFilter struct {
	Site   string
	Reason string
	Since  time.Time
	Limit  int // the newest Limit samples; 0 means all
}

// ReadQuarantine returns the samples in the quarantine stream, oldest
// first.
func ReadQuarantine(ctx context.Context, js jetstream.JetStream, f QuarantineFilter) ([]QuarantineSample, error) {
	stream, err := js.Stream(ctx, bus.QuarantineStream)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	subject := bus.QuarantineSubjectRoot + ".>"
	if f.Site != "" {
		subject = bus.QuarantineSubject(f.Site)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !f.Since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &f.Since
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	var out []QuarantineSample
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("quarantine: %w", err)
		}
		got := 0
		var last uint64
		for msg := range batch.Messages() {
			got++
			if md, err := msg.Metadata(); err == nil {
				last = md.Sequence.Stream
			}
			var s QuarantineSample
			if json.Unmarshal(msg.Data(), &s) != nil || (f.Reason != "" && s.Reason != f.Reason) {
				continue
			}
			out = append(out, s)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("quarantine: %w", err)
		}
		if got == 0 || last >= info.State.LastSeq {
			break
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}
