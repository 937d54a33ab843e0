package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Syslog parsing: the header of RFC 5424 and RFC 3164 messages, and the
// framing of syslog over TCP (RFC 6587). Pure functions, fuzzed.

// errSyslog is a message whose header is not syslog. Like every ingest
// error it carries no message content.
var errSyslog = errors.New("syslog: malformed header")

// syslogMsg is a parsed syslog message. Its slices point into the
// received bytes.
type syslogMsg struct {
	pri      int
	hostname []byte // "" when absent
	appName  []byte // RFC 5424 APP-NAME or RFC 3164 TAG, without [pid]; "" when absent
	msg      []byte // the body: here, one access-log line
}

// parseSyslog parses one syslog message: RFC 5424 ("<PRI>1 TIMESTAMP
// HOSTNAME APP-NAME PROCID MSGID SD [MSG]") or RFC 3164 ("<PRI>Mmm dd
// hh:mm:ss HOSTNAME TAG[PID]: MSG", where senders such as nginx and logger
// differ in what they leave out). Trailing newlines and NULs are removed
// from the body.
func parseSyslog(b []byte) (syslogMsg, error) {
	var m syslogMsg
	if len(b) < 3 || b[0] != '<' {
		return m, errSyslog
	}
	i := 1
	for i < len(b) && i <= 4 && isDigitByte(b[i]) {
		m.pri = m.pri*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || i >= len(b) || b[i] != '>' || m.pri > 191 || (i > 2 && b[1] == '0') {
		return m, errSyslog
	}
	b = b[i+1:]
	var err error
	if len(b) >= 2 && b[0] == '1' && b[1] == ' ' {
		err = parse5424(b[2:], &m)
	} else {
		parse3164(b, &m)
	}
	if err != nil {
		return m, err
	}
	for len(m.msg) > 0 && (m.msg[len(m.msg)-1] == '\n' || m.msg[len(m.msg)-1] == '\r' || m.msg[len(m.msg)-1] == 0) {
		m.msg = m.msg[:len(m.msg)-1]
	}
	return m, nil
}

// parse5424 parses what follows "<PRI>1 ".
func parse5424(b []byte, m *syslogMsg) error {
	var fields [5][]byte // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
	for k := range fields {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			return errSyslog
		}
		f := b[:sp]
		for _, c := range f {
			if c < 33 || c > 126 {
				return errSyslog
			}
		}
		fields[k] = f
		b = b[sp+1:]
	}
	nil5424 := func(f []byte) []byte {
		if len(f) == 1 && f[0] == '-' {
			return nil
		}
		return f
	}
	m.hostname, m.appName = nil5424(fields[1]), nil5424(fields[2])
	// STRUCTURED-DATA: "-" or one or more [id param="value" ...].
	switch {
	case len(b) > 0 && b[0] == '-':
		b = b[1:]
	case len(b) > 0 && b[0] == '[':
		for len(b) > 0 && b[0] == '[' {
			end := sdElementEnd(b)
			if end < 0 {
				return errSyslog
			}
			b = b[end+1:]
		}
	default:
		return errSyslog
	}
	switch {
	case len(b) == 0:
	case b[0] == ' ':
		b = b[1:]
	default:
		return errSyslog
	}
	m.msg = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // the BOM of an UTF-8 MSG
	return nil
}

// sdElementEnd returns the index of the ']' closing the SD-ELEMENT that
// starts b, skipping quoted PARAM-VALUEs (where \" \\ and \] are escapes).
func sdElementEnd(b []byte) int {
	quoted := false
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ']':
			return i
		}
	}
	return -1
}

// parse3164 parses what follows "<PRI>" in the BSD format. It cannot fail:
// RFC 3164 says any message is acceptable; the log-format parser judges the
// body.
func parse3164(b []byte, m *syslogMsg) {
	// TIMESTAMP: "Mmm dd hh:mm:ss " (day space-padded), or an RFC 3339
	// stamp as some daemons write.
	if len(b) >= 16 && b[3] == ' ' && b[6] == ' ' && b[9] == ':' && b[12] == ':' && b[15] == ' ' {
		b = b[16:]
	} else if len(b) > 0 && isDigitByte(b[0]) {
		if sp := bytes.IndexByte(b, ' '); sp > 10 && bytes.IndexByte(b[:sp], 'T') > 0 {
			b = b[sp+1:]
		}
	}
	// HOSTNAME and TAG: "host tag: msg", "host tag[pid]: msg", or, from
	// senders that leave the host name out (nginx with nohostname), "tag:
	// msg".
	tok := func(b []byte) []byte {
		if sp := bytes.IndexByte(b, ' '); sp >= 0 {
			return b[:sp]
		}
		return b
	}
	t1 := tok(b)
	if tag, ok := tagOf(t1); ok {
		m.appName, m.msg = tag, skipOneSpace(b[len(t1):])
		return
	}
	if len(t1) == 0 || len(t1) == len(b) {
		m.msg = b
		return
	}
	rest := b[len(t1)+1:]
	t2 := tok(rest)
	if tag, ok := tagOf(t2); ok {
		m.hostname, m.appName, m.msg = t1, tag, skipOneSpace(rest[len(t2):])
		return
	}
	// No tag: the content starts after the host name.
	m.hostname, m.msg = t1, rest
}

// tagOf recognises "tag:" and "tag[pid]:" and returns tag.
func tagOf(t []byte) ([]byte, bool) {
	if len(t) < 2 || t[len(t)-1] != ':' {
		return nil, false
	}
	t = t[:len(t)-1]
	if i := bytes.IndexByte(t, '['); i >= 0 {
		if t[len(t)-1] != ']' {
			return nil, false
		}
		t = t[:i]
	}
	if len(t) == 0 || len(t) > 48 {
		return nil, false
	}
	for _, c := range t {
		if c < 33 || c > 126 || c == '[' || c == ']' || c == ':' {
			return nil, false
		}
	}
	return t, true
}

func skipOneSpace(b []byte) []byte {
	if len(b) > 0 && b[0] == ' ' {
		return b[1:]
	}
	return b
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// errFraming is a TCP stream whose framing is broken: the connection
// cannot be resynchronised and is closed.
var errFraming = errors.New("syslog: broken framing")

// errFrameTooLong is a frame longer than the limit; it was skipped and the
// stream goes on.
var errFrameTooLong = errors.New("syslog: frame too long")

// frameReader splits a syslog TCP stream into messages. Each frame is
// either octet-counted ("LEN SP MSG", RFC 6587 3.4.1, as logger
// --octet-count and rsyslog send) or ends with a newline (non-transparent
// framing, 3.4.2, logger's default over TCP); the first byte of each frame
// tells which.
type frameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
	// partial is set while a frame has begun but not ended: a read error
	// then cut a message in half.
	partial bool
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next frame, valid until the next call. errFrameTooLong
// means one frame was skipped; errFraming and read errors end the stream.
func (f *frameReader) next() ([]byte, error) {
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
		if err == nil || errors.Is(err, errFrameTooLong) {
			f.partial = false
		}
		return frame, err
	}
}

func (f *frameReader) counted(first byte) ([]byte, error) {
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
			return nil, errFraming
		}
		n = n*10 + int(c-'0')
	}
	if n == 0 {
		return nil, errFraming
	}
	if n > f.max {
		if _, err := f.r.Discard(n); err != nil {
			return nil, err
		}
		return nil, errFrameTooLong
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

func (f *frameReader) line() ([]byte, error) {
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
				return nil, errFrameTooLong
			}
			return f.buf[:len(f.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(f.buf) > 0 && !long:
			if len(f.buf) > f.max {
				f.buf = f.buf[:0]
				return nil, errFrameTooLong
			}
			return f.buf, nil // a last frame without newline
		default:
			return nil, err
		}
	}
}
