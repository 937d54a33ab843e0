package ingest

// Following log files.
//
// Each source re-expands its patterns every FlushInterval (polling: no
// inotify limits, works on every file system, and a missed event cannot
// stall it). Every matching regular file is read by its own goroutine,
// known by device and inode, so a rename does not interrupt it. What is
// read is named by the content's generation id (file_checkpoint.go), which is
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
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// rotateGrace is how long a rotated file (no longer matched by a pattern)
// must stay unchanged before it is closed: servers reopen their logs a
// moment after the rename (nginx on USR1, Apache on a graceful restart).
// A .gz file must be this old before it is read (it may still be written).
const rotateGrace = time.Second

// gcEvery is how often a source deletes checkpoints of generations that
// no file holds any more and that were not updated within MaxAge.
const gcEvery = 5 * time.Minute

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
	// No reader starts once shutdown began: a scan that runs after ctx
	// ended (select picks among ready cases) would restart a reader that
	// just stopped, from its checkpoint, and read again every line not yet
	// handed over. s.mu is held: a reader removed for ctx is seen ended.
	if ctx.Err() != nil {
		return
	}
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
