package ingest

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/logformat"
)

// expand resolves patterns to absolute paths of regular files, without
// duplicates. A pattern that matches nothing is an error (most likely a
// typo); a literal path is kept even if it does not exist, for the import
// to report.
func expand(patterns []string) ([]string, error) {
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
				return nil, err
			}
			continue
		}
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("ingest: files: pattern %q: %w", pat, err)
		}
		n := 0
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
				if err := add(m); err != nil {
					return nil, err
				}
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("ingest: files: pattern %q matches no regular file", pat)
		}
	}
	return out, nil
}

// CheckImportFiles checks, before an import starts, that every pattern
// names readable regular files, and says how to fix one that does not.
func CheckImportFiles(patterns []string) error {
	paths, err := expand(patterns)
	if err != nil {
		return err
	}
	for _, p := range paths {
		f, err := os.Open(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("ingest: %s does not exist: name an existing log file, or a glob in quotes", p)
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("ingest: %s: permission denied: run vakt as a user that may read it", p)
		case err != nil:
			return fmt.Errorf("ingest: %w", err)
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("ingest: %s is not a regular file: name a log file", p)
		}
	}
	return nil
}

// importItem is a file to import and the source it belongs to.
type importItem struct {
	path string
	src  Source
}

// importList expands every source's patterns; a file in two sources is
// imported once, with the first.
func (i *Ingest) importList() ([]importItem, error) {
	var out []importItem
	seen := map[string]bool{}
	for _, src := range i.cfg.sources() {
		paths, err := expand(src.Files)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			if !seen[p] {
				seen[p] = true
				out = append(out, importItem{p, src})
			}
		}
	}
	return out, nil
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
func (i *Ingest) importFiles(ctx, pubCtx context.Context, items []importItem) error {
	var errs []error
	for _, it := range items {
		p := it.path
		err := i.importFile(ctx, pubCtx, it)
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

func (i *Ingest) importFile(ctx, pubCtx context.Context, it importItem) error {
	path := it.path
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
	id := fileID(path, fi)
	s := i.fileSink(it.src, path, id, false)
	again, err := i.markImported(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ingest: import of %s interrupted at byte 0: %w", path, context.Cause(ctx))
		}
		// Without the mark, a repeated import could not be recognised:
		// let the stages check every batch instead.
		i.log.Warn("cannot record the import in the checkpoint bucket; every batch is checked against what is stored",
			slog.String("file", path), slog.Any("err", err))
		again = true
	}
	if again {
		// Every batch gets the same id as then; the stages drop those
		// already stored.
		s.replayAll = true
		i.log.Info("file was imported before, or partly: lines already stored are skipped", slog.String("file", path))
	}
	i.progress.file.Store(&path)
	defer func() {
		i.progress.file.Store(nil)
		i.progress.filesDone.Add(1)
	}()
	var r io.Reader = countingReader{f, &i.progress.read}
	if isGzip(path) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("ingest: %s: %w", path, err)
		}
		r = zr
	}
	lr := newLineReader(r, logformat.MaxLineBytes, 0)
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
		return s.tooLong(ctx, off, end)
	}
	return s.line(ctx, line, off, end)
}

// importedKeyPrefix prefixes the marks of imported files in
// bus.CheckpointBucket; checkpoint keys start with a host name instead.
const importedKeyPrefix = "_imported."

// markImported records in the checkpoint bucket that the file generation
// id is being imported, and reports whether an earlier import began it:
// its batches are then marked as replays (bus.HeaderReplay), which the
// store checks against what it has stored. A first import costs nothing
// downstream.
func (i *Ingest) markImported(ctx context.Context, id string) (again bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kv, err := i.js.KeyValue(ctx, bus.CheckpointBucket)
	if err != nil {
		return false, fmt.Errorf("kv bucket %s: %w", bus.CheckpointBucket, err)
	}
	_, err = kv.Create(ctx, importedKeyPrefix+id, []byte(time.Now().UTC().Format(time.RFC3339)))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true, nil
	}
	return false, err
}
