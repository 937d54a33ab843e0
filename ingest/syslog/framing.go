package syslog

import (
	"bufio"
	"errors"
	"io"
)

// ErrFraming is a TCP stream whose framing is broken: the connection
// cannot be resynchronised and is closed.
var ErrFraming = errors.New("syslog: broken framing")

// ErrFrameTooLong is a frame longer than the limit; it was skipped and the
// stream goes on.
var ErrFrameTooLong = errors.New("syslog: frame too long")

// FrameReader splits a syslog TCP stream into messages. Each frame is
// either octet-counted ("LEN SP MSG", RFC 6587 3.4.1, as logger
// --octet-count and rsyslog send) or ends with a newline (non-transparent
// framing, 3.4.2, logger's default over TCP); the first byte of each frame
// tells which.
type FrameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
	// partial is set while a frame has begun but not ended: a read error
	// then cut a message in half (Partial).
	partial bool
}

// NewFrameReader reads frames of at most max bytes from r.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next frame, valid until the next call. ErrFrameTooLong
// means one frame was skipped; ErrFraming and read errors end the stream.
func (f *FrameReader) Next() ([]byte, error) {
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == '\n' || c == '\r' || c == 0 {
			continue // empty frames between messages
		}
		f.partial = true
		var frame []byte
		if isDigitByte(c) {
			frame, err = f.counted(c)
		} else {
			_ = f.r.UnreadByte()
			frame, err = f.line()
		}
		if err == nil || errors.Is(err, ErrFrameTooLong) {
			f.partial = false
		}
		return frame, err
	}
}

func (f *FrameReader) counted(first byte) ([]byte, error) {
	n := int(first - '0')
	for digits := 1; ; digits++ {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == ' ' {
			break
		}
		if !isDigitByte(c) || digits >= 8 || (digits == 1 && first == '0') {
			return nil, ErrFraming
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 {
		return nil, ErrFraming
	}
	if n > f.max {
		if _, err := f.r.Discard(n); err != nil {
			return nil, err
		}
		return nil, ErrFrameTooLong
	}
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, err
	}
	return f.buf, nil
}

func (f *FrameReader) line() ([]byte, error) {
	f.buf = f.buf[:0]
	long := false
	for {
		frag, err := f.r.ReadSlice('\n')
		if !long {
			if len(f.buf)+len(frag) > f.max+1 {
				long, f.buf = true, f.buf[:0]
			} else {
				f.buf = append(f.buf, frag...)
			}
		}
		switch {
		case err == nil:
			if long {
				return nil, ErrFrameTooLong
			}
			return f.buf[:len(f.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(f.buf) > 0 && !long:
			if len(f.buf) > f.max {
				f.buf = f.buf[:0]
				return nil, ErrFrameTooLong
			}
			return f.buf, nil // a last frame without newline
		default:
			return nil, err
		}
	}
}

// Partial reports that the last Next ended inside a frame: a read error
// cut a message in half.
func (f *FrameReader) Partial() bool { return f.partial }

// Buffered is how many bytes were read from the stream but not yet
// returned as frames.
func (f *FrameReader) Buffered() int { return f.r.Buffered() }
