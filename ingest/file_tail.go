package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vakt-dev/vakt/logformat"
)

// The per-file state machine: one tailFile reads one inode through as
// many generations as copytruncate gives it (see file_follow.go).

// errChanged reports that a file's content is no longer the generation
// being read: it was truncated (and possibly rewritten).
var errChanged = errors.New("file truncated or replaced")

// tailFile reads one file (one inode), through as many generations as
// copytruncate gives it.
type tailFile struct {
	s         *tailSource
	key       fileKey
	f         *os.File
	gz        bool
	drainOnly bool // no pattern matches it: read to its end, then stop
	initial   bool // found by the first scan of a source's first run
	missing   atomic.Bool

	pathMu sync.Mutex
	path   string

	// The generation being read.
	genMu sync.Mutex
	g     string
	fp    []byte // sha256 of the first fpN bytes
	fpN   int
	fpBuf []byte
	tr    *tracker
	sink  *sink
	lr    *lineReader

	quietSince time.Time
	readErr    bool
}

func (tf *tailFile) setPath(p string) {
	tf.pathMu.Lock()
	tf.path = p
	tf.pathMu.Unlock()
}

func (tf *tailFile) getPath() string {
	tf.pathMu.Lock()
	defer tf.pathMu.Unlock()
	return tf.path
}

func (tf *tailFile) generation() string {
	tf.genMu.Lock()
	defer tf.genMu.Unlock()
	return tf.g
}

// Read reads from the file and then checks that the content still is the
// generation being read; the bytes of a file changed under the reader are
// never used.
func (tf *tailFile) Read(p []byte) (int, error) {
	n, err := tf.f.Read(p)
	if n > 0 && !tf.sameGeneration() {
		return 0, errChanged
	}
	return n, err
}

func (tf *tailFile) sameGeneration() bool {
	if cap(tf.fpBuf) < tf.fpN {
		tf.fpBuf = make([]byte, fpBytes)
	}
	buf := tf.fpBuf[:tf.fpN]
	if n, _ := tf.f.ReadAt(buf, 0); n < tf.fpN {
		return false
	}
	sum := fpHash(buf)
	return bytes.Equal(sum[:], tf.fp)
}

type genStart int

const (
	genStarted genStart = iota
	genWait             // content too short to tell its generation
	genSkip             // nothing to read here now
)

// startGen identifies the content and prepares reading it from its
// checkpoint, or per the start policy when it has none.
func (tf *tailFile) startGen(ctx context.Context) (genStart, *skipEntry) {
	s, i := tf.s, tf.s.ing
	fi, err := tf.f.Stat()
	if err != nil {
		return genWait, nil
	}
	head, err := readHead(tf.f, false)
	if err != nil {
		return genWait, nil
	}
	g, n, ok := fingerprintOf(head)
	initial := tf.initial
	// Only content there before the first run started is skipped; a file
	// that had no complete first line then is read whole.
	tf.initial = false
	if !ok {
		return genWait, nil
	}
	if !s.fl.claim(g) {
		return genSkip, &skipEntry{size: fi.Size(), mtime: fi.ModTime(), g: g, copyOf: g}
	}
	cp, has := s.cps.get(g)
	var off int64
	switch {
	case has && (cp.Done || fi.Size() < cp.Offset):
		// Read before, to the end or beyond this file's end: a copy.
		s.fl.release(g)
		return genSkip, &skipEntry{size: fi.Size(), mtime: fi.ModTime(), g: g}
	case has:
		off = cp.Offset
	case initial && !i.cfg.FromStart:
		off = fi.Size()
	}
	if _, err := tf.f.Seek(off, io.SeekStart); err != nil {
		s.fl.release(g)
		return genWait, nil
	}
	path := tf.getPath()
	base := checkpoint{Offset: off, FPBytes: n, Path: path, Since: cp.Since}
	if !has {
		base.Since = time.Now().UTC()
	}
	base.Dev, base.Ino, _ = devIno(fi)
	sum := fpHash(head[:n])

	tf.genMu.Lock()
	tf.g, tf.fp, tf.fpN = g, sum[:], n
	tf.genMu.Unlock()
	tf.lr = newLineReader(tf, logformat.MaxLineBytes, off)
	if off > 0 {
		// Starting at the end of a half-written line: skip its rest.
		var b [1]byte
		if _, err := tf.f.ReadAt(b[:], off-1); err == nil && b[0] != '\n' {
			tf.lr.skip = true
		}
	}
	tf.tr = newTracker(i, s.cps, g, base)
	tf.sink = i.fileSink(s.src, path, g, true)
	tf.sink.emit = tf.tr.emit
	for _, e := range cp.Ends {
		if e > off {
			tf.sink.forced = append(tf.sink.forced, e)
		}
	}
	tf.tr.replay = tf.sink.replayForced()
	tf.quietSince = time.Time{}
	if !has {
		// Remember the position at once, so that a restart does not read
		// what was skipped, nor skip what is new.
		if err := s.cps.put(ctx, g, base); err != nil {
			tf.endGen(ctx)
			return genSkip, nil
		}
	}
	i.log.Info("reading log file", slog.String("file", path), slog.String("generation", g[:12]),
		slog.Int64("offset", off), slog.Int("replay_batches", len(tf.sink.forced)))
	return genStarted, nil
}

// endGen stops reading the current generation: publishes what is open
// (unless replaying an earlier run's boundaries), waits for the
// acknowledgements, writes the checkpoint and releases the generation.
func (tf *tailFile) endGen(pubCtx context.Context) error {
	if tf.tr == nil {
		return nil
	}
	var err error
	if len(tf.sink.forced) == 0 {
		err = tf.sink.flush(pubCtx)
	} else {
		tf.sink.drop()
	}
	// The final checkpoint is written even when publishing gave up at
	// shutdown: what was acknowledged is kept.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(pubCtx), 5*time.Second)
	defer cancel()
	if ferr := tf.tr.finish(pubCtx, fctx, false); err == nil {
		err = ferr
	}
	tf.s.fl.release(tf.g)
	tf.genMu.Lock()
	tf.g, tf.tr, tf.sink = "", nil, nil
	tf.genMu.Unlock()
	return err
}

// run follows the file until it is rotated away and finished, or ctx
// ends. It returns a skip entry when the file is to be left alone.
func (tf *tailFile) run(ctx, pubCtx context.Context) *skipEntry {
	s, i := tf.s, tf.s.ing
	lastSize := int64(-1)
	for {
		if tf.tr == nil {
			switch st, skip := tf.startGen(pubCtx); st {
			case genSkip:
				return skip
			case genWait:
				if fi, err := tf.f.Stat(); err == nil && fi.Size() != lastSize {
					lastSize, tf.quietSince = fi.Size(), time.Now()
				}
				if tf.finished() {
					return nil
				}
			}
		}
		if tf.tr != nil {
			err := tf.poll(ctx, pubCtx)
			switch {
			case errors.Is(err, errChanged):
				g, cp := tf.g, checkpoint{}
				if err := tf.endGen(pubCtx); err != nil {
					return nil
				}
				i.log.Info("log file truncated or replaced; reading it from the start", slog.String("file", tf.getPath()))
				if c, ok := s.cps.get(g); ok {
					cp = c
				}
				// The lines not read yet may be in a copy no pattern matches.
				if cp.Path != "" {
					s.recover(ctx, pubCtx, g, cp)
				}
				if _, err := tf.f.Seek(0, io.SeekStart); err != nil {
					return nil
				}
				continue
			case err != nil:
				_ = tf.endGen(pubCtx)
				return nil // publishing gave up at shutdown
			}
			if tf.finished() {
				if tf.drainOnly || tf.missing.Load() {
					// Rotated: its last line is complete even without a
					// newline (and may complete a batch an earlier run
					// recorded).
					if line, off, long, ok := tf.lr.rest(); ok {
						if err := tf.sink.take(pubCtx, line, off, tf.lr.pos, long); err != nil {
							_ = tf.endGen(pubCtx)
							return nil
						}
					}
					i.log.Info("finished a rotated log file", slog.String("file", tf.getPath()), slog.Int64("offset", tf.lr.pos))
				}
				_ = tf.endGen(pubCtx)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			_ = tf.endGen(pubCtx)
			return nil
		case <-time.After(i.cfg.FlushInterval):
		}
	}
}

// finished reports whether the file is done: not matched by a pattern
// (or only being drained) and quiet for rotateGrace.
func (tf *tailFile) finished() bool {
	if !tf.drainOnly && !tf.missing.Load() {
		return false
	}
	if tf.quietSince.IsZero() {
		tf.quietSince = time.Now()
	}
	return tf.drainOnly || time.Since(tf.quietSince) >= max(rotateGrace, 2*tf.s.ing.cfg.FlushInterval)
}

// poll reads every complete line there is, publishes the batch in
// progress and writes the checkpoint. It returns errChanged when the file
// was truncated or replaced, another error when publishing gave up.
func (tf *tailFile) poll(ctx, pubCtx context.Context) error {
	before := tf.lr.pos
	for n := 1; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			break
		}
		line, off, long, err := tf.lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errChanged) {
			return err
		}
		if err != nil {
			// Try again at the next poll, from where reading stopped.
			if !tf.readErr {
				tf.s.ing.log.Warn("reading log file failed; retrying", slog.String("file", tf.getPath()),
					slog.Int64("offset", tf.lr.pos), slog.Any("err", err))
			}
			tf.readErr = true
			break
		}
		tf.readErr = false
		if err := tf.sink.take(pubCtx, line, off, tf.lr.lineStart, long); err != nil {
			return err
		}
	}
	if tf.lr.pos > before {
		tf.quietSince = time.Time{}
	}
	// Truncated to below what was read (and not yet rewritten past it).
	if fi, err := tf.f.Stat(); err == nil && fi.Size() < tf.lr.pos {
		return errChanged
	}
	if len(tf.sink.forced) == 0 {
		if err := tf.sink.flush(pubCtx); err != nil {
			return err
		}
	}
	if err := tf.tr.send(pubCtx); err != nil {
		return err
	}
	return tf.tr.commit(pubCtx)
}
