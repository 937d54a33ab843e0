package ingest

// Following log files.
//
// Each source re-expands its patterns every FlushInterval (polling: no
// inotify limits, works on every file system, and a missed event cannot
// stall it). Every matching regular file is read by its own goroutine,
// known by device and inode, so a rename does not interrupt it. What is
// read is named by the content's generation id (checkpoint.go), which is
// what the checkpoints and message ids use:
//
//   - Rotation by rename: the renamed file keeps being read while it grows;
//     once no pattern matches it and it has not grown for rotateGrace, its
//     last line (even without a newline) is taken and it is closed. The new
//     file at the old path is another inode and is read from its start,
//     in parallel.
//   - Copytruncate: every read is checked against the generation id (the
//     first line is re-read and hashed) and the size against the offset,
//     so a truncated file is noticed even when it has grown past the old
//     offset again. Reading restarts at 0 as a new generation. The copy,
//     with the old generation id, is read from the old checkpoint: by the
//     patterns if they match it, or found next to the original (a file
//     whose name starts with the original's) if they do not, so the lines
//     not yet read when the file was truncated are taken from the copy.
//   - New files matching a pattern are read from their start.
//   - Compressed files (.gz) are read once, whole, as an import; a .gz of
//     a file already read (same generation id) continues after what was
//     read, which usually is nothing.
//   - A file with the generation id of one being read (a copy) waits until
//     that one is finished.
//
// A line is complete at its '\n'; a partial last line waits for the rest,
// except in a rotated file that is finished.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vakt-dev/vakt/ingest/logformat"
)

// rotateGrace is how long a rotated file (no longer matched by a pattern)
// must stay unchanged before it is closed: servers reopen their logs a
// moment after the rename (nginx on USR1, Apache on a graceful restart).
// A .gz file must be this old before it is read (it may still be written).
const rotateGrace = time.Second

// Fingerprint: the generation id covers the first line that ends at or
// after fpMinBytes, or the first fpBytes bytes if no line ends before.
// Content shorter than that has no id yet and is not read until it grows.
const (
	fpMinBytes = 48
	fpBytes    = 1024
)

// gcEvery is how often a source deletes checkpoints of generations that
// no file holds any more and that were not updated within MaxAge.
const gcEvery = 5 * time.Minute

// errChanged reports that a file's content is no longer the generation
// being read: it was truncated (and possibly rewritten).
var errChanged = errors.New("file truncated or replaced")

// fingerprintOf returns the generation id of content starting with head
// (at most fpBytes bytes) and how many bytes it covers; ok is false when
// head is too short to tell.
//
// The id is a hash of the first line with IP and e-mail addresses masked
// (maskLine): a plain hash of a log line could be reversed by trying every
// IPv4 address with the rest of the line, which the stored row gives away,
// and the id is kept at rest (checkpoints, message ids). The price: two
// files whose first lines differ only in the client address are taken for
// copies of one another.
func fingerprintOf(head []byte) (g string, n int, ok bool) {
	switch {
	case len(head) >= fpMinBytes && bytes.IndexByte(head[fpMinBytes-1:], '\n') >= 0:
		n = fpMinBytes + bytes.IndexByte(head[fpMinBytes-1:], '\n')
	case len(head) >= fpBytes:
		n = fpBytes
	default:
		return "", 0, false
	}
	sum := fpHash(head[:n])
	return hex.EncodeToString(sum[:16]), n, true
}

func fpHash(b []byte) [sha256.Size]byte { return sha256.Sum256(maskLine(b)) }

// readHead returns up to fpBytes of the start of a file's content,
// decompressed for a .gz file.
func readHead(f *os.File, gz bool) ([]byte, error) {
	buf := make([]byte, fpBytes)
	if !gz {
		n, err := f.ReadAt(buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		return buf[:n], nil
	}
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, err
	}
	n, err := io.ReadFull(zr, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

func isGzip(path string) bool { return strings.HasSuffix(path, ".gz") }

// otherCompressed reports a file compressed with something other than
// gzip, which is not read (a pattern like access.log* may match one).
func otherCompressed(path string) bool {
	switch filepath.Ext(path) {
	case ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".Z", ".zip", ".7z":
		return true
	}
	return false
}

// fileKey identifies an open file: device and inode (where the platform
// has them; elsewhere a hash of the path).
type fileKey struct{ dev, ino uint64 }

func keyOf(path string, fi os.FileInfo) fileKey {
	if dev, ino, ok := devIno(fi); ok {
		return fileKey{dev, ino}
	}
	h := fnv.New64a()
	h.Write([]byte(path))
	return fileKey{0, h.Sum64()}
}

// follower follows every source of an Ingest.
type follower struct {
	ing *Ingest

	mu     sync.Mutex
	owner  map[fileKey]*tailSource // which source reads a file
	active map[string]bool         // generations being read
}

// followSources follows every source until ctx ends.
func (i *Ingest) followSources(ctx, pubCtx context.Context) {
	fl := &follower{ing: i, owner: map[fileKey]*tailSource{}, active: map[string]bool{}}
	var wg sync.WaitGroup
	for _, src := range i.cfg.sources() {
		wg.Go(func() { fl.follow(ctx, pubCtx, src) })
	}
	wg.Wait()
}

// claim marks generation g as being read; false if it already is.
func (fl *follower) claim(g string) bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.active[g] {
		return false
	}
	fl.active[g] = true
	return true
}

func (fl *follower) release(g string) {
	fl.mu.Lock()
	delete(fl.active, g)
	fl.mu.Unlock()
}

func (fl *follower) isActive(g string) bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.active[g]
}

// tailSource follows the files of one source.
type tailSource struct {
	fl       *follower
	ing      *Ingest
	src      Source
	patterns []string // absolute
	cps      *checkpoints
	log      *slog.Logger

	scans int // scans done, by the source's goroutine

	mu    sync.Mutex
	files map[fileKey]*tailFile // being read
	skip  map[fileKey]skipEntry // matched, not to be read unless changed
	wg    sync.WaitGroup
}

// skipEntry is a matched file that is not read now: a generation already
// read to its end (or beyond this file's end), or a copy of a generation
// being read elsewhere (copyOf), which is looked at again once that one is
// finished.
type skipEntry struct {
	size   int64
	mtime  time.Time
	g      string
	copyOf string
}

func (s *tailSource) stale(e skipEntry, fi os.FileInfo) bool {
	return e.size != fi.Size() || !e.mtime.Equal(fi.ModTime()) || (e.copyOf != "" && !s.fl.isActive(e.copyOf))
}

func (fl *follower) follow(ctx, pubCtx context.Context, src Source) {
	i := fl.ing
	s := &tailSource{fl: fl, ing: i, src: src, files: map[fileKey]*tailFile{}, skip: map[fileKey]skipEntry{}}
	for _, p := range src.Files {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		s.patterns = append(s.patterns, p)
	}
	key := sourceKey(s.patterns)
	s.log = i.log.With(slog.String("site", src.Site))
	cps, started, err := openCheckpoints(ctx, i.js, key, s.log)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("cannot follow files without checkpoints", slog.Any("err", err))
		}
		return
	}
	s.cps = cps
	s.log.Info("following log files", slog.Any("patterns", s.patterns), slog.Bool("resumed", started),
		slog.Int("checkpoints", len(cps.all())))

	// The first scan of a source's first run finds the files that exist
	// before vakt: those are read from their end unless FromStart.
	s.scan(ctx, pubCtx, !started)
	if !started {
		if err := cps.markStarted(pubCtx); err != nil {
			s.wg.Wait() // only at shutdown: retried until then
			return
		}
	}
	s.recoverAll(ctx, pubCtx)
	lastGC := time.Now()
	t := time.NewTicker(i.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.wg.Wait()
			return
		case <-t.C:
		}
		if cps.lost.Load() {
			s.log.Error("stopped following these files: "+errNotOwner.Error()+
				"; run one ingest per set of files (if none other runs, a crashed one wrote late: restart vakt)",
				slog.Any("patterns", s.patterns))
			s.wg.Wait()
			return
		}
		s.scan(ctx, pubCtx, false)
		if time.Since(lastGC) > gcEvery {
			s.gc(pubCtx)
			lastGC = time.Now()
		}
	}
}

// expandPattern returns the regular files a pattern names now.
func expandPattern(pat string) []string {
	var paths []string
	if strings.ContainsAny(pat, `*?[\`) {
		paths, _ = filepath.Glob(pat) // patterns were validated
	} else {
		paths = []string{pat}
	}
	return paths
}

// scan expands the patterns, starts readers for new files and tells open
// files whether a pattern still matches them.
func (s *tailSource) scan(ctx, pubCtx context.Context, initial bool) {
	type match struct {
		path string
		fi   os.FileInfo
	}
	matched := map[fileKey]match{}
	for _, pat := range s.patterns {
		n := 0
		for _, p := range expandPattern(pat) {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			n++
			if otherCompressed(p) {
				if s.scans == 0 {
					s.log.Warn("not reading a file compressed other than with gzip", slog.String("file", p))
				}
				continue
			}
			if k := keyOf(p, fi); matched[k].path == "" {
				matched[k] = match{p, fi}
			}
		}
		if n == 0 && s.scans == 0 {
			s.log.Warn("pattern matches no file yet; watching for files to appear", slog.String("pattern", pat))
		}
	}
	s.scans++
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, tf := range s.files {
		m, ok := matched[k]
		tf.missing.Store(!ok)
		if ok {
			tf.setPath(m.path)
		}
	}
	for k := range s.skip {
		if _, ok := matched[k]; !ok {
			delete(s.skip, k)
			s.fl.disown(k, s)
		}
	}
	for k, m := range matched {
		if s.files[k] != nil {
			continue
		}
		if e, ok := s.skip[k]; ok && !s.stale(e, m.fi) {
			continue
		}
		delete(s.skip, k)
		if !s.fl.own(k, s) {
			continue
		}
		gz := isGzip(m.path)
		if gz && time.Since(m.fi.ModTime()) < rotateGrace {
			continue // may still be being written
		}
		s.startLocked(ctx, pubCtx, k, m.path, gz, false, initial)
	}
}

// own makes s the reader of file k unless another source is; a file that
// two sources match is read by the first.
func (fl *follower) own(k fileKey, s *tailSource) bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if o, ok := fl.owner[k]; ok && o != s {
		return false
	}
	fl.owner[k] = s
	return true
}

func (fl *follower) disown(k fileKey, s *tailSource) {
	fl.mu.Lock()
	if fl.owner[k] == s {
		delete(fl.owner, k)
	}
	fl.mu.Unlock()
}

// startLocked opens a file and starts its reader; s.mu is held.
func (s *tailSource) startLocked(ctx, pubCtx context.Context, k fileKey, path string, gz, drainOnly, initial bool) {
	f, err := os.Open(path)
	if err != nil {
		return // gone since the scan; the next scan sees
	}
	fi, err := f.Stat()
	if err != nil || keyOf(path, fi) != k {
		f.Close()
		return
	}
	tf := &tailFile{s: s, key: k, path: path, f: f, gz: gz, drainOnly: drainOnly, initial: initial}
	tf.missing.Store(drainOnly)
	s.files[k] = tf
	s.wg.Go(func() {
		var next *skipEntry
		if gz {
			next = tf.importGzip(ctx, pubCtx)
		} else {
			next = tf.run(ctx, pubCtx)
		}
		f.Close()
		s.mu.Lock()
		delete(s.files, k)
		if next != nil {
			s.skip[k] = *next
		} else {
			s.fl.disown(k, s)
		}
		s.mu.Unlock()
	})
}

// recoverAll looks, after the first scan, for generations with unfinished
// checkpoints that no pattern matches any more: files rotated while vakt
// was not running. They are read to their end.
func (s *tailSource) recoverAll(ctx, pubCtx context.Context) {
	for g, cp := range s.cps.all() {
		if !cp.Done && cp.Path != "" && !s.fl.isActive(g) {
			s.recover(ctx, pubCtx, g, cp)
		}
	}
}

// rotatedName reports whether name is what rotation makes of base:
// base.1, base-20240101, base.1.gz, base_2.
func rotatedName(base, name string) bool {
	if !strings.HasPrefix(name, base) || len(name) < len(base)+2 {
		return false
	}
	rest := name[len(base):]
	return (rest[0] == '.' || rest[0] == '-' || rest[0] == '_') && rest[1]-'0' < 10
}

// recover looks next to where generation g was last read, among rotated
// files (see rotatedName) that no pattern matches, for the file holding g
// now, and reads it from its checkpoint to its end. Rotated files of
// generations never seen that were modified after g was first seen are
// read whole: they were written and rotated away between two looks (or
// while vakt was down).
func (s *tailSource) recover(ctx, pubCtx context.Context, g string, cp checkpoint) {
	dir, base := filepath.Dir(cp.Path), filepath.Base(cp.Path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !rotatedName(base, e.Name()) || !e.Type().IsRegular() || otherCompressed(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || fi.Size() == 0 {
			continue
		}
		k := keyOf(p, fi)
		s.mu.Lock()
		_, open := s.files[k]
		_, skipped := s.skip[k]
		s.mu.Unlock()
		if open || skipped {
			continue // matched by a pattern: scans take care of it
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		head, err := readHead(f, isGzip(p))
		f.Close()
		if err != nil {
			continue
		}
		fg, _, ok := fingerprintOf(head)
		if !ok {
			continue
		}
		switch _, known := s.cps.get(fg); {
		case fg == g:
			s.log.Info("reading the rest of a rotated log file", slog.String("file", p), slog.Int64("offset", cp.Offset))
		case !known && !s.fl.isActive(fg) && !cp.Since.IsZero() && fi.ModTime().After(cp.Since):
			s.log.Info("reading a rotated log file never seen", slog.String("file", p))
		default:
			continue
		}
		s.mu.Lock()
		if s.files[k] == nil && s.fl.own(k, s) {
			s.startLocked(ctx, pubCtx, k, p, isGzip(p), true, false)
		}
		s.mu.Unlock()
	}
}

// gc deletes checkpoints of generations that no file being followed or
// skipped holds and that were last updated more than MaxAge ago: the
// lines they cover are past the retention anyway.
func (s *tailSource) gc(ctx context.Context) {
	held := s.held()
	for g, cp := range s.cps.all() {
		if !held[g] && !s.fl.isActive(g) && time.Since(cp.Updated) > s.ing.cfg.MaxAge {
			if err := s.cps.delete(ctx, g); err != nil {
				s.log.Warn("deleting an old checkpoint failed", slog.Any("err", err))
				return
			}
		}
	}
}

// held returns the generations of the files being read or skipped.
func (s *tailSource) held() map[string]bool {
	held := map[string]bool{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tf := range s.files {
		if g := tf.generation(); g != "" {
			held[g] = true
		}
	}
	for _, e := range s.skip {
		if e.g != "" {
			held[e.g] = true
		}
		if e.copyOf != "" {
			held[e.copyOf] = true
		}
	}
	return held
}

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

// importGzip reads a compressed file once, from its generation's
// checkpoint to its end, and marks the generation done.
func (tf *tailFile) importGzip(ctx, pubCtx context.Context) *skipEntry {
	s, i := tf.s, tf.s.ing
	fi, err := tf.f.Stat()
	if err != nil {
		return nil
	}
	skip := &skipEntry{size: fi.Size(), mtime: fi.ModTime()}
	head, err := readHead(tf.f, true)
	if err != nil {
		i.log.Warn("cannot read compressed log file", slog.String("file", tf.path), slog.Any("err", err))
		return skip
	}
	g, n, ok := fingerprintOf(head)
	if !ok {
		return skip // too short to name; read when it changes
	}
	skip.g = g
	if !s.fl.claim(g) {
		skip.copyOf = g
		return skip
	}
	defer s.fl.release(g)
	cp, has := s.cps.get(g)
	var off int64
	switch {
	case has && cp.Done:
		return skip
	case has:
		off = cp.Offset
	case tf.initial && !i.cfg.FromStart:
		// Existing history is not read unless asked for.
		base := checkpoint{Offset: 0, FPBytes: n, Path: tf.path, Done: true}
		base.Dev, base.Ino, _ = devIno(fi)
		_ = s.cps.put(pubCtx, g, base)
		return skip
	}
	zr, err := gzip.NewReader(tf.f)
	if err == nil {
		_, err = io.CopyN(io.Discard, zr, off)
	}
	if err != nil {
		i.log.Warn("cannot read compressed log file", slog.String("file", tf.path), slog.Any("err", err))
		return skip
	}
	base := checkpoint{Offset: off, FPBytes: n, Path: tf.path, Since: cp.Since}
	if !has {
		base.Since = time.Now().UTC()
	}
	base.Dev, base.Ino, _ = devIno(fi)
	tr := newTracker(i, s.cps, g, base)
	sk := i.fileSink(s.src, tf.path, g, false)
	sk.emit = tr.emit
	for _, e := range cp.Ends {
		if e > off {
			sk.forced = append(sk.forced, e)
		}
	}
	tr.replay = sk.replayForced()
	i.log.Info("importing compressed log file", slog.String("file", tf.path), slog.Int64("offset", off))
	lr := newLineReader(zr, logformat.MaxLineBytes, off)
	done, pubErr := false, error(nil)
	for n := 1; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			break
		}
		line, off, long, err := lr.next()
		if errors.Is(err, io.EOF) {
			if line, off, long, ok := lr.rest(); ok {
				pubErr = sk.take(pubCtx, line, off, lr.pos, long)
			}
			done = pubErr == nil
			break
		}
		if err != nil {
			i.log.Warn("compressed log file ends early or is damaged; read what it holds", slog.String("file", tf.path),
				slog.Int64("offset", lr.pos), slog.Any("err", err))
			break
		}
		if pubErr = sk.take(pubCtx, line, off, lr.lineStart, long); pubErr != nil {
			break
		}
	}
	if done {
		pubErr = sk.flush(pubCtx)
	} else {
		sk.drop()
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(pubCtx), 5*time.Second)
	defer cancel()
	if err := tr.finish(pubCtx, fctx, done && pubErr == nil); err == nil && done {
		i.log.Info("imported compressed log file", slog.String("file", tf.path), slog.Int64("bytes", lr.pos))
	}
	if ctx.Err() != nil {
		return nil
	}
	return skip
}

// drop discards the open batch: its lines are read again after a restart.
func (s *sink) drop() {
	if s.buf != nil {
		s.ing.pub.release(s.buf)
	}
	s.buf, s.n, s.open = nil, 0, false
}
