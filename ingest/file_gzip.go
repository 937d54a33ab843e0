package ingest

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/vakt-dev/vakt/logformat"
)

// Compressed files (.gz) matched by a followed pattern are read once,
// whole, from their generation's checkpoint, as an import.

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
	tr, sk := tf.gzipSink(g, n, fi, off, cp, has)
	i.log.Info("importing compressed log file", slog.String("file", tf.path), slog.Int64("offset", off))
	lr := newLineReader(zr, logformat.MaxLineBytes, off)
	done, pubErr := tf.readCompressed(ctx, pubCtx, lr, sk)
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

// gzipSink returns the tracker and sink of generation g of a compressed
// file read from off, replaying the batch ends its checkpoint recorded.
func (tf *tailFile) gzipSink(g string, n int, fi os.FileInfo, off int64, cp checkpoint, has bool) (*tracker, *sink) {
	s, i := tf.s, tf.s.ing
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
	return tr, sk
}

// readCompressed takes every line of a compressed file into sk; done
// reports that the file was read to its end and its last batch published.
func (tf *tailFile) readCompressed(ctx, pubCtx context.Context, lr *lineReader, sk *sink) (done bool, pubErr error) {
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
			tf.s.ing.log.Warn("compressed log file ends early or is damaged; read what it holds", slog.String("file", tf.path),
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
	return done, pubErr
}
