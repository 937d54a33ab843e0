package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/logformat"
)

// A sink turns the lines of one source (a file, a syslog listener, the
// demo) into batches: parsed, checked against the age window, rejected with
// a reason or appended, and handed to the publisher when full or old.

// sink turns the lines of one source into batches and hands them to the
// publisher. It is used by one goroutine.
type sink struct {
	ing     *Ingest
	kind    string // source kind label
	name    string // for logs: a path or "demo"; never line content
	site    string
	subject string
	id      string // source identity, the prefix of message ids
	// ageFlush publishes a partial batch once it is FlushInterval old.
	// Imports do not, so that batch boundaries, and hence message ids, do
	// not depend on timing and a repeated import is deduplicated.
	ageFlush bool
	lines    prometheus.Counter
	// parse turns one line into a record: the one place the log format
	// matters. Each sink has its own (a detecting parser keeps state).
	parse func(line []byte, r *event.Raw) error
	// emit, when set, takes each batch instead of the publisher: a
	// checkpointed file records batch boundaries before publishing.
	emit func(ctx context.Context, b batch) error
	// forced are batch ends that a run before a restart may have
	// published: batches end exactly there, and nowhere else, until they
	// are passed, so that each gets the message id it had (see
	// file_checkpoint.go).
	forced []int64

	rec     event.Raw
	buf     []byte
	n       int   // records in buf
	open    bool  // a batch range is open: lines were taken since the last flush
	first   int64 // offset of the first line of the open range
	end     int64 // offset just past the last line taken
	started time.Time
	warned  map[string]bool // reasons already logged for this source
	// siteFromHost labels each record with the request's host ($host,
	// %v, JSON host) when the line has one, instead of site.
	siteFromHost bool
	// keyed: the source's ids name its content (files), see batch.keyed.
	keyed bool
	// Batches ending at or before replayUntil, or every batch with
	// replayAll, may have been published by an earlier run.
	replayUntil int64
	replayAll   bool
}

// batch is a range of lines [start, end) of a source and the records
// parsed from it; n may be 0 when every line was rejected.
type batch struct {
	start, end int64
	subject    string
	id         string // Nats-Msg-Id
	data       []byte
	n          int
	// keyed: id names the lines themselves (a file's identity and byte
	// range), so it goes in bus.HeaderBatch and the store keeps it.
	keyed bool
	// replay: the batch may have been published before (bus.HeaderReplay).
	replay bool
}

// replayForced marks the batches up to the last recorded end (forced) as
// possibly published before, and returns a copy of those ends for the
// tracker's replay.
func (s *sink) replayForced() []int64 {
	if n := len(s.forced); n > 0 {
		s.replayUntil = s.forced[n-1]
	}
	return slices.Clone(s.forced)
}

func (i *Ingest) newSink(kind, name, site, id string, ageFlush bool) *sink {
	return &sink{
		ing: i, kind: kind, name: name, site: site, subject: bus.RawSubject(site), id: id,
		ageFlush: ageFlush, lines: i.met.linesRead[kind], warned: map[string]bool{},
		parse: logformat.ParseCombined,
	}
}

// line processes one line that starts at offset off and ends (newline
// included) at end. It fails only if publishing a full batch failed
// because ctx ended.
func (s *sink) line(ctx context.Context, line []byte, off, end int64) error {
	s.ing.linesRead.Add(1)
	s.lines.Inc()
	s.begin(off)
	if err := s.parse(line, &s.rec); err != nil {
		s.rejectAt(string(logformat.ReasonOf(err)), off, line)
		return s.taken(ctx, end)
	}
	now := time.Now()
	switch {
	case s.rec.Time.Before(now.Add(-s.ing.cfg.MaxAge)):
		s.rejectAt(event.ReasonPastRetention, off, line)
		return s.taken(ctx, end)
	case s.rec.Time.After(now.Add(s.ing.cfg.MaxFuture)):
		s.rejectAt(event.ReasonFutureTimestamp, off, line)
		return s.taken(ctx, end)
	}
	s.rec.Site = s.site
	if s.siteFromHost && s.rec.Host != "" && !bus.AddressLike(s.rec.Host) {
		s.rec.Site = s.rec.Host
	}

	mark := len(s.buf)
	if s.buf == nil {
		s.buf = s.ing.pub.buffer()
	}
	s.buf = event.AppendRaw(s.buf, &s.rec)
	if len(s.buf) > s.ing.maxBatchBytes {
		if len(s.buf)-mark > s.ing.maxBatchBytes {
			// The record alone exceeds the message size limit: it could
			// never be published.
			s.buf = s.buf[:mark]
			s.rejectAt(string(logformat.ReasonTooLong), off, line)
			return s.taken(ctx, end)
		}
		// The record starts the next batch: the range closes before
		// this line.
		next := append(s.ing.pub.buffer(), s.buf[mark:]...)
		s.buf = s.buf[:mark]
		if err := s.flush(ctx); err != nil {
			return err
		}
		s.buf = next
		s.begin(off)
	}
	if s.n == 0 {
		s.started = now
	}
	s.n++
	// While replaying the boundaries of an earlier run, batches end only
	// where they ended then.
	if len(s.forced) == 0 && (s.n >= s.ing.cfg.BatchLines || (s.ageFlush && now.Sub(s.started) >= s.ing.cfg.FlushInterval)) {
		s.end = end
		return s.flush(ctx)
	}
	return s.taken(ctx, end)
}

// begin opens a batch range at the line starting at off, unless one is
// open.
func (s *sink) begin(off int64) {
	if !s.open {
		s.open, s.first = true, off
	}
}

// taken records that the lines up to end are processed and closes the
// batch if end is a forced boundary.
func (s *sink) taken(ctx context.Context, end int64) error {
	s.end = end
	if len(s.forced) == 0 || s.forced[0] > end {
		return nil
	}
	for len(s.forced) > 0 && s.forced[0] <= end {
		if s.forced[0] != end && !s.warned["boundary"] {
			// The file differs from what the earlier run read; ids of
			// the batches around here may differ from then.
			s.warned["boundary"] = true
			s.ing.log.Warn("batch boundary of an earlier run is not at a line end; the file changed",
				slog.String("source", s.name), slog.Int64("offset", s.forced[0]))
		}
		s.forced = s.forced[1:]
	}
	return s.flush(ctx)
}

// tooLong counts a line that exceeded the length limit.
func (s *sink) tooLong(ctx context.Context, off, end int64) error {
	s.ing.linesRead.Add(1)
	s.lines.Inc()
	s.begin(off)
	s.rejectAt(string(logformat.ReasonTooLong), off, nil)
	return s.taken(ctx, end)
}

// rejectAt counts a rejected line and offers it to the quarantine; line
// is nil when its content is not at hand.
func (s *sink) rejectAt(reason string, off int64, line []byte) {
	s.ing.reject(reason)
	s.ing.quarantine.offer(reason, s.site, s.name, off, line)
	if !s.warned[reason] {
		// Once per reason and source: a wrong log format rejects every line.
		s.warned[reason] = true
		s.ing.log.Warn("line rejected; later rejections for this reason are only counted",
			slog.String("source", s.name), slog.String("reason", reason), slog.Int64("offset", off))
	}
}

// flush closes the open batch range, if any, and publishes its records.
// The message id is the source identity and the byte range, so the same
// lines batched the same way always get the same id.
func (s *sink) flush(ctx context.Context) error {
	if !s.open {
		return nil
	}
	b := batch{start: s.first, end: s.end, subject: s.subject, data: s.buf, n: s.n, keyed: s.keyed}
	b.id = fmt.Sprintf("%s:%d-%d", s.id, b.start, b.end)
	b.replay = s.replayAll || b.end <= s.replayUntil
	s.buf, s.n, s.open = nil, 0, false
	if s.emit != nil {
		return s.emit(ctx, b)
	}
	if b.n == 0 {
		return nil
	}
	return s.ing.pub.publish(ctx, b)
}

// drop discards the open batch: its lines are read again after a restart.
func (s *sink) drop() {
	if s.buf != nil {
		s.ing.pub.release(s.buf)
	}
	s.buf, s.n, s.open = nil, 0, false
}
