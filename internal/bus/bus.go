// Package bus is where the stages meet: the NATS subjects, JetStream streams,
// durable consumers and KV buckets of the pipeline are all defined here and
// nowhere else.
package bus

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Streams, subjects, consumers and buckets of the pipeline.
const (
	RawStream      = "VAKT_RAW"
	RawSubjectRoot = "vakt.raw"

	EventsStream      = "VAKT_EVENTS"
	EventsSubjectRoot = "vakt.events"

	AlertsSubjectRoot = "vakt.alerts"

	// PseudonymizeConsumer is the durable pull consumer on RawStream that
	// every pseudonymiser replica shares.
	PseudonymizeConsumer = "pseudonymize"
	// StoreConsumer is the durable pull consumer on EventsStream that every
	// store replica shares.
	StoreConsumer = "store"

	// SaltBucket is the KV bucket holding the salt of each epoch. Salts live
	// here and in pseudonymiser memory only.
	SaltBucket = "vakt_salts"

	// CheckpointBucket is the KV bucket where ingest keeps, per followed log
	// file, the offset up to which JetStream has acknowledged every line
	// (and the batch boundaries published beyond it). It holds offsets,
	// paths and content hashes, never a line.
	CheckpointBucket = "vakt_ingest_offsets"

	// SubjectsBucket holds what data subjects' requests leave behind for
	// the pipeline (subject/marks): erasure tombstones the store checks
	// before inserting, and the restriction list every report applies.
	// Keys expire with the rows they cover.
	SubjectsBucket = "vakt_subjects"

	// QuarantineStream keeps a few samples of rejected lines per reason,
	// with anything IP-like masked, for a day: enough for an operator to
	// see what went wrong. Subjects: vakt.quarantine.<site>.
	QuarantineStream      = "VAKT_QUARANTINE"
	QuarantineSubjectRoot = "vakt.quarantine"
	// QuarantineMaxAge and QuarantineMaxMsgs bound the quarantine.
	QuarantineMaxAge  = 24 * time.Hour
	QuarantineMaxMsgs = 10_000
)

// Message headers.
const (
	// HeaderRecords is the number of records in a batch message, so that
	// progress can be counted without decoding.
	HeaderRecords = "Vakt-Records"
	// HeaderBatch names the lines a batch holds, independent of when and
	// how often it is published: ingest sets it to the message id of a
	// batch read from a file (the file's identity and the byte range), the
	// pseudonymiser copies it to the events (or, for other sources, names
	// them by the raw message's id), and the store keeps it with every
	// row, so that a batch published or delivered again after a crash can
	// be recognised as already stored (see HeaderReplay).
	HeaderBatch = "Vakt-Batch"
	// HeaderReplay marks a batch that may have been published before: read
	// again after a crash or a restart of NATS, imported again, or
	// redelivered. The store looks such a batch up by HeaderBatch before
	// inserting it; other batches skip that cost.
	HeaderReplay = "Vakt-Replay"
)

// RawSubject is the subject raw events of site are published on.
func RawSubject(site string) string { return RawSubjectRoot + "." + SubjectToken(site) }

// EventsSubject is the subject pseudonymised events of site are published on.
func EventsSubject(site string) string { return EventsSubjectRoot + "." + SubjectToken(site) }

// QuarantineSubject is the subject rejected-line samples of site go to.
func QuarantineSubject(site string) string { return QuarantineSubjectRoot + "." + SubjectToken(site) }

// AlertsSubject is the subject alerts for site are published on.
func AlertsSubject(site string) string { return AlertsSubjectRoot + "." + SubjectToken(site) }

// SiteFromSubject returns the site token of a vakt.<kind>.<site> subject.
func SiteFromSubject(subject string) string {
	parts := strings.SplitN(subject, ".", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

// SubjectToken turns a site name (usually a host name) into one NATS subject
// token: dots, wildcards and white space become '_'. Empty becomes "default".
func SubjectToken(site string) string {
	if site == "" {
		return "default"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, site)
}

// UnnamedSite labels events whose site name was address-like.
const UnnamedSite = "unnamed"

// AddressLike reports whether a site name is a network address: an IP, with
// or without brackets and port, also in subject-token form ('_' for '.').
// Site names can come from a request's Host header or a syslog hostname,
// which a client can make its own IP; such a name must not label events,
// subjects or logs.
func AddressLike(site string) bool {
	s := strings.TrimSpace(site)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.Trim(s, "[]")
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(strings.ReplaceAll(s, "_", "."))
	return err == nil
}

// StreamConfig sets the limits of the pipeline's streams.
// It is the streams section of the configuration file.
type StreamConfig struct {
	// RawMaxAge bounds how long a raw event (with its IP) can wait for a
	// pseudonymiser. Kept short: raw IPs must not linger.
	RawMaxAge time.Duration `yaml:"raw_max_age"`
	// RawMaxBytes bounds the RAW stream's memory; when full, ingest waits.
	// The default, 32 MiB, is about half a second of an import at full
	// speed: 64 MiB imported no faster and held ~60 MB more heap.
	RawMaxBytes int64 `yaml:"raw_max_bytes"`
	// EventsMaxAge and EventsMaxBytes bound the pseudonymised events waiting
	// for the store; when full, pseudonymisers wait.
	EventsMaxAge   time.Duration `yaml:"events_max_age"`
	EventsMaxBytes int64         `yaml:"events_max_bytes"`
	// DuplicateWindow is how long JetStream remembers message ids.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// Replicas is the stream replication factor (3 on a NATS cluster).
	Replicas int `yaml:"replicas"`
	// AckWait is how long a consumer waits for an ack before redelivering.
	AckWait time.Duration `yaml:"ack_wait"`
}

// DefaultStreamConfig returns the defaults documented in DESIGN.md.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{
		RawMaxAge:       15 * time.Minute,
		RawMaxBytes:     32 << 20,
		EventsMaxAge:    7 * 24 * time.Hour,
		EventsMaxBytes:  4 << 30,
		DuplicateWindow: 10 * time.Minute,
		Replicas:        1,
		AckWait:         60 * time.Second,
	}
}

// Ensure creates or updates every stream, durable consumer and bucket of the
// pipeline (EnsureFor with StageAll). It is idempotent and safe for several
// processes to run at once.
func Ensure(ctx context.Context, js jetstream.JetStream, c StreamConfig) error {
	_, err := EnsureFor(ctx, js, c, StageAll, nil)
	return err
}

// streamConfigs returns the pipeline's streams with the limits of c.
func streamConfigs(c StreamConfig) (raw, events, quarantine jetstream.StreamConfig) {
	raw = jetstream.StreamConfig{
		Name:        RawStream,
		Description: "raw access-log events with client IPs; memory only, removed once pseudonymised",
		Subjects:    []string{RawSubjectRoot + ".>"},
		// Memory storage: a raw IP is never written to disk by NATS.
		Storage:    jetstream.MemoryStorage,
		Retention:  jetstream.WorkQueuePolicy,
		Discard:    jetstream.DiscardNew,
		MaxAge:     c.RawMaxAge,
		MaxBytes:   c.RawMaxBytes,
		Duplicates: c.DuplicateWindow,
		Replicas:   c.Replicas,
	}
	events = jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "pseudonymised access-log events waiting for the store",
		Subjects:    []string{EventsSubjectRoot + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.InterestPolicy,
		Discard:     jetstream.DiscardNew,
		MaxAge:      c.EventsMaxAge,
		MaxBytes:    c.EventsMaxBytes,
		Duplicates:  c.DuplicateWindow,
		Replicas:    c.Replicas,
	}
	quarantine = jetstream.StreamConfig{
		Name:        QuarantineStream,
		Description: "masked samples of rejected log lines (IPs and e-mail addresses masked), kept a day",
		Subjects:    []string{QuarantineSubjectRoot + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      QuarantineMaxAge,
		MaxMsgs:     QuarantineMaxMsgs,
		MaxMsgSize:  8 << 10,
		Replicas:    c.Replicas,
	}
	return raw, events, quarantine
}

// consumerConfig is the durable pull consumer that a stage's replicas share.
func consumerConfig(c StreamConfig, name, desc string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       name,
		Description:   desc,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxAckPending: 1024,
		MaxDeliver:    -1,
		Replicas:      c.Replicas,
	}
}

func checkpointBucketConfig(c StreamConfig) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      CheckpointBucket,
		Description: "ingest: per log file, the offset every line before which JetStream has acknowledged",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}
}

// Drained reports whether both pipeline consumers have nothing pending and
// nothing awaiting ack: every event published so far has been stored.
func Drained(ctx context.Context, js jetstream.JetStream) (bool, error) {
	for _, sc := range [][2]string{{RawStream, PseudonymizeConsumer}, {EventsStream, StoreConsumer}} {
		c, err := js.Consumer(ctx, sc[0], sc[1])
		if err != nil {
			return false, fmt.Errorf("consumer %s: %w", sc[1], err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false, fmt.Errorf("consumer %s: %w", sc[1], err)
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return false, nil
		}
		// NumPending can lag a publish JetStream has just acknowledged; the
		// stream's last sequence cannot. Every message up to it must be
		// acknowledged by the consumer.
		st, err := js.Stream(ctx, sc[0])
		if err != nil {
			return false, fmt.Errorf("stream %s: %w", sc[0], err)
		}
		if info.AckFloor.Stream < st.CachedInfo().State.LastSeq {
			return false, nil
		}
	}
	return true, nil
}

// WaitAcknowledgedUpTo waits until everything published so far has passed
// both stages: the pseudonymisers acknowledged every RAW message up to the
// RAW stream's current last sequence, and then the stores every event up to
// the EVENTS stream's last sequence at that moment. Unlike WaitDrained it
// ends while other sources keep publishing (a `vakt run --demo` beside a
// `vakt import`): later messages are not waited for.
func WaitAcknowledgedUpTo(ctx context.Context, js jetstream.JetStream, every time.Duration) error {
	for _, sc := range [][2]string{{RawStream, PseudonymizeConsumer}, {EventsStream, StoreConsumer}} {
		st, err := js.Stream(ctx, sc[0])
		if err != nil {
			return fmt.Errorf("stream %s: %w", sc[0], err)
		}
		mark := st.CachedInfo().State.LastSeq
		c, err := js.Consumer(ctx, sc[0], sc[1])
		if err != nil {
			return fmt.Errorf("consumer %s: %w", sc[1], err)
		}
		t := time.NewTicker(every)
		for {
			info, err := c.Info(ctx)
			if err == nil && info.AckFloor.Stream >= mark {
				break
			}
			select {
			case <-ctx.Done():
				t.Stop()
				if err != nil {
					return fmt.Errorf("waiting for %s to acknowledge up to %d: %w", sc[1], mark, err)
				}
				return fmt.Errorf("waiting for %s to acknowledge up to %d: %w", sc[1], mark, ctx.Err())
			case <-t.C:
			}
		}
		t.Stop()
	}
	return nil
}
