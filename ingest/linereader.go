package ingest

import (
	"bufio"
	"errors"
	"io"
)

// lineReader splits a byte stream into lines of at most max bytes and
// tracks the offset of each. Unlike bufio.Scanner it survives overlong
// lines (reported, then skipped to the next newline), and it keeps a partial
// last line across io.EOF so that a file being appended to can be read on
// as it grows.
type lineReader struct {
	r         *bufio.Reader
	max       int
	pos       int64  // offset just past the bytes consumed
	lineStart int64  // offset of the line being assembled
	buf       []byte // the line so far, when it spans reads
	long      bool   // the line being assembled exceeds max; skipping it
	skip      bool   // drop the line being assembled (joined mid-line)
}

func newLineReader(r io.Reader, max int, offset int64) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max, pos: offset, lineStart: offset}
}

// next returns the next complete line without its newline and the offset
// where it starts. An overlong line comes back as tooLong with no bytes.
// The line is valid until the next call. At the end of the data next
// returns io.EOF and keeps any partial line for later calls.
func (lr *lineReader) next() (line []byte, off int64, tooLong bool, err error) {
	for {
		frag, err := lr.r.ReadSlice('\n')
		lr.pos += int64(len(frag))
		complete := err == nil
		if complete {
			frag = frag[:len(frag)-1]
		}
		switch {
		case lr.long || lr.skip:
		case len(lr.buf)+len(frag) > lr.max:
			lr.long, lr.buf = true, lr.buf[:0]
		case !complete || len(lr.buf) > 0:
			lr.buf = append(lr.buf, frag...)
		}
		if complete {
			off, long, skip := lr.lineStart, lr.long, lr.skip
			lr.lineStart, lr.long, lr.skip = lr.pos, false, false
			switch {
			case skip:
				lr.buf = lr.buf[:0]
				continue
			case long:
				return nil, off, true, nil
			case len(lr.buf) > 0:
				line, lr.buf = lr.buf, lr.buf[:0]
				return line, off, false, nil
			}
			return frag, off, false, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return nil, 0, false, err
	}
}

// rest returns the partial line left at the end of the data, for a final
// line with no newline; ok is false when there is none.
func (lr *lineReader) rest() (line []byte, off int64, tooLong, ok bool) {
	off, long, skip := lr.lineStart, lr.long, lr.skip
	line, lr.buf = lr.buf, lr.buf[:0]
	lr.lineStart, lr.long, lr.skip = lr.pos, false, false
	if skip || (!long && len(line) == 0) {
		return nil, 0, false, false
	}
	if long {
		return nil, off, true, true
	}
	return line, off, false, true
}

// partial reports whether a line without its newline is pending.
func (lr *lineReader) partial() bool { return lr.pos > lr.lineStart }
