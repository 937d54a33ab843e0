package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/ingest/logformat"
)

// expand resolves Config.Files to absolute paths, without duplicates. A
// pattern that matches nothing is an error for an import (most likely a
// typo) and returned in unmatched when following; a literal path that does
// not exist yet is fine when following.
func expand(patterns []string, follow bool) (paths, unmatched []string, err error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) error {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("ingest: files: %w", err)
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, abs)
		}
		return nil
	}
	for _, pat := range patterns {
		if !strings.ContainsAny(pat, `*?[\`) {
			if err := add(pat); err != nil {
				return nil, nil, err
			}
			continue
		}
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, nil, fmt.Errorf("ingest: files: pattern %q: %w", pat, err)
		}
		n := 0
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
				if err := add(m); err != nil {
					return nil, nil, err
				}
				n++
			}
		}
		if n == 0 {
			if !follow {
				return nil, nil, fmt.Errorf("ingest: files: pattern %q matches no regular file", pat)
			}
			unmatched = append(unmatched, pat)
		}
	}
	return out, unmatched, nil
}

// fileID identifies one generation of a file: its path, device and inode,
// and size and modification time when it was opened. Hashed, it names the
// source in message ids, so the same file imported twice gets the same ids
// while a file that has changed, or a new file on a reused inode, does not.
func fileID(abs string, fi os.FileInfo) string {
	h := sha256.New()
	h.Write([]byte(abs))
	var b [32]byte
	dev, ino, _ := devIno(fi)
	binary.BigEndian.PutUint64(b[0:], dev)
	binary.BigEndian.PutUint64(b[8:], ino)
	binary.BigEndian.PutUint64(b[16:], uint64(fi.Size()))
	binary.BigEndian.PutUint64(b[24:], uint64(fi.ModTime().UnixNano()))
	h.Write([]byte{0})
	h.Write(b[:])
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// importFiles reads each file to its end, one after the other. A file that
// cannot be read is reported and skipped; an ended ctx stops the import.
func (i *Ingest) importFiles(ctx, pubCtx context.Context, paths []string) error {
	var errs []error
	for _, p := range paths {
		err := i.importFile(ctx, pubCtx, p)
		if err != nil && ctx.Err() != nil {
			errs = append(errs, err)
			break
		}
		if err != nil {
			i.log.Error("import of a file failed", slog.String("file", p), slog.Any("err", err))
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (i *Ingest) importFile(ctx, pubCtx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("ingest: %s is not a regular file", path)
	}
	s := i.newSink(sourceFile, path, i.cfg.Site, fileID(path, fi), false)
	lr := newLineReader(f, logformat.MaxLineBytes, 0)
	interrupted := func() error {
		return fmt.Errorf("ingest: import of %s interrupted at byte %d: %w", path, lr.pos, context.Cause(ctx))
	}
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			_ = s.flush(pubCtx)
			return interrupted()
		}
		line, off, long, err := lr.next()
		if errors.Is(err, io.EOF) {
			// A last line without a newline still counts.
			if line, off, long, ok := lr.rest(); ok {
				if s.take(pubCtx, line, off, lr.pos, long) != nil {
					return interrupted()
				}
			}
			if s.flush(pubCtx) != nil {
				return interrupted()
			}
			return nil
		}
		if err != nil {
			_ = s.flush(pubCtx)
			return fmt.Errorf("ingest: read %s at byte %d: %w", path, lr.pos, err)
		}
		// take fails only when publishing gave up, after ctx ended.
		if s.take(pubCtx, line, off, lr.lineStart, long) != nil {
			return interrupted()
		}
	}
}

// take processes a line from a lineReader.
func (s *sink) take(ctx context.Context, line []byte, off, end int64, tooLong bool) error {
	if tooLong {
		s.tooLong(off)
		return nil
	}
	return s.line(ctx, line, off, end)
}

// tailer follows one path by polling: it reads what was appended, notices
// rotation by rename (the path names another file, or none) and truncation
// in place (copytruncate), and opens the new file from its start.
//
// Limits of polling: data written and truncated away between two polls is
// missed, and a file renamed by rotation is read until it has been quiet for
// rotateGrace, so a server still writing to it after that loses those lines.
// Progress is not checkpointed: a restart starts again as configured.
// rotateGrace is how long a rotated file must stay unchanged before it is
// closed: servers reopen their logs a moment after the rename (nginx on
// USR1, Apache on a graceful restart).
const rotateGrace = time.Second

type tailer struct {
	ing        *Ingest
	path       string
	f          *os.File
	fi         os.FileInfo // of f, when opened or truncated
	lr         *lineReader
	sink       *sink
	quietSince time.Time // since when f, no longer at path, has not grown
	readErr    bool      // the last read failed (logged once)
}

func (i *Ingest) follow(ctx, pubCtx context.Context, path string) {
	t := &tailer{ing: i, path: path, sink: i.newSink(sourceFile, path, i.cfg.Site, "", true)}
	defer t.close()
	fromStart := i.cfg.FromStart
	waiting := false
	for {
		if t.f == nil {
			err := t.open(pubCtx, fromStart)
			switch {
			case err != nil && !waiting:
				i.log.Warn("cannot open log file; retrying until it appears", slog.String("file", path), slog.Any("err", err))
				waiting = true
			case err == nil:
				i.log.Info("following log file", slog.String("file", path), slog.Int64("offset", t.lr.pos))
				waiting = false
			}
			// A file that appears later, or replaces this one, is new:
			// read all of it.
			fromStart = true
		}
		if t.f != nil && t.poll(ctx, pubCtx) != nil {
			return // publishing gave up at shutdown
		}
		if t.sink.flush(pubCtx) != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(i.cfg.FlushInterval):
		}
	}
}

func (t *tailer) open(ctx context.Context, fromStart bool) error {
	f, err := os.Open(t.path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", t.path)
	}
	var off int64
	if err == nil && !fromStart {
		off, err = f.Seek(fi.Size(), io.SeekStart)
	}
	if err != nil {
		f.Close()
		return err
	}
	t.f, t.fi = f, fi
	t.quietSince = time.Time{}
	t.lr = newLineReader(f, logformat.MaxLineBytes, off)
	if off > 0 {
		// Starting at the end of a half-written line: skip its rest.
		var b [1]byte
		if _, err := f.ReadAt(b[:], off-1); err == nil && b[0] != '\n' {
			t.lr.skip = true
		}
	}
	return t.sink.setID(ctx, fileID(t.path, fi))
}

func (t *tailer) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// poll reads what is new and then checks the path for rotation or
// truncation. It fails only if publishing gave up.
func (t *tailer) poll(ctx, pubCtx context.Context) error {
	before := t.lr.pos
	if err := t.readAvailable(ctx, pubCtx); err != nil {
		return err
	}
	if t.f == nil {
		return nil
	}
	grew := t.lr.pos > before
	st, err := os.Stat(t.path)
	if err == nil && os.SameFile(st, t.fi) {
		t.quietSince = time.Time{}
		if st.Size() >= t.lr.pos {
			return nil
		}
		// Truncated in place: what was read is gone from the file; start
		// over as a new generation.
		t.ing.log.Info("log file truncated; reading it from the start", slog.String("file", t.path))
		if err := t.finish(pubCtx); err != nil {
			return err
		}
		fi, err := t.f.Stat()
		if err == nil {
			_, err = t.f.Seek(0, io.SeekStart)
		}
		if err != nil {
			t.ing.log.Warn("cannot reread truncated log file; reopening", slog.String("file", t.path), slog.Any("err", err))
			t.close()
			return nil
		}
		t.fi = fi
		t.lr.reset(t.f, 0)
		return t.sink.setID(pubCtx, fileID(t.path, fi))
	}
	// The path is gone or names another file: rotated. The server may write
	// to the old file until it reopens its log, so drain it until it has
	// been quiet for a while.
	if grew || t.quietSince.IsZero() {
		t.quietSince = time.Now()
		return nil
	}
	if time.Since(t.quietSince) < max(rotateGrace, 2*t.ing.cfg.FlushInterval) {
		return nil
	}
	t.ing.log.Info("log file rotated; following the new file", slog.String("file", t.path))
	err = t.finish(pubCtx)
	t.close()
	return err
}

// finish processes a last line without newline and publishes the batch.
func (t *tailer) finish(ctx context.Context) error {
	if line, off, long, ok := t.lr.rest(); ok {
		if err := t.sink.take(ctx, line, off, t.lr.pos, long); err != nil {
			return err
		}
	}
	return t.sink.flush(ctx)
}

// readAvailable processes every complete line up to the current end of
// the file.
func (t *tailer) readAvailable(ctx, pubCtx context.Context) error {
	for n := 1; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return nil
		}
		line, off, long, err := t.lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			// Try again at the next poll, from where reading stopped.
			if !t.readErr {
				t.ing.log.Warn("reading log file failed; retrying", slog.String("file", t.path),
					slog.Int64("offset", t.lr.pos), slog.Any("err", err))
			}
			t.readErr = true
			return nil
		}
		t.readErr = false
		if err := t.sink.take(pubCtx, line, off, t.lr.lineStart, long); err != nil {
			return err
		}
	}
}
