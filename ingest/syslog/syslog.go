// Package syslog is the syslog protocol of ingest's syslog source: the
// header of RFC 5424 and RFC 3164 messages, and the framing of syslog over
// TCP (RFC 6587). Pure functions, fuzzed; the listeners are in package
// ingest.
package syslog

import (
	"bytes"
	"errors"
)

// ErrMalformed is a message whose header is not syslog. Like every ingest
// error it carries no message content.
var ErrMalformed = errors.New("syslog: malformed header")

// Message is a parsed syslog message. Its slices point into the
// received bytes.
type Message struct {
	Pri      int
	Hostname []byte // "" when absent
	AppName  []byte // RFC 5424 APP-NAME or RFC 3164 TAG, without [pid]; "" when absent
	Msg      []byte // the body: here, one access-log line
}

// Parse parses one syslog message: RFC 5424 ("<PRI>1 TIMESTAMP
// HOSTNAME APP-NAME PROCID MSGID SD [MSG]") or RFC 3164 ("<PRI>Mmm dd
// hh:mm:ss HOSTNAME TAG[PID]: MSG", where senders such as nginx and logger
// differ in what they leave out). Trailing newlines and NULs are removed
// from the body.
func Parse(b []byte) (Message, error) {
	var m Message
	if len(b) < 3 || b[0] != '<' {
		return m, ErrMalformed
	}
	i := 1
	for i < len(b) && i <= 4 && isDigitByte(b[i]) {
		m.Pri = m.Pri*10 + int(b[i]-'0')
		i++
	}
	if i == 1 || i >= len(b) || b[i] != '>' || m.Pri > 191 || (i > 2 && b[1] == '0') {
		return m, ErrMalformed
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
	for len(m.Msg) > 0 && (m.Msg[len(m.Msg)-1] == '\n' || m.Msg[len(m.Msg)-1] == '\r' || m.Msg[len(m.Msg)-1] == 0) {
		m.Msg = m.Msg[:len(m.Msg)-1]
	}
	return m, nil
}

// parse5424 parses what follows "<PRI>1 ".
func parse5424(b []byte, m *Message) error {
	var fields [5][]byte // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
	for k := range fields {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			return ErrMalformed
		}
		f := b[:sp]
		for _, c := range f {
			if c < 33 || c > 126 {
				return ErrMalformed
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
	m.Hostname, m.AppName = nil5424(fields[1]), nil5424(fields[2])
	// STRUCTURED-DATA: "-" or one or more [id param="value" ...].
	switch {
	case len(b) > 0 && b[0] == '-':
		b = b[1:]
	case len(b) > 0 && b[0] == '[':
		for len(b) > 0 && b[0] == '[' {
			end := sdElementEnd(b)
			if end < 0 {
				return ErrMalformed
			}
			b = b[end+1:]
		}
	default:
		return ErrMalformed
	}
	switch {
	case len(b) == 0:
	case b[0] == ' ':
		b = b[1:]
	default:
		return ErrMalformed
	}
	m.Msg = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // the BOM of an UTF-8 MSG
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
func parse3164(b []byte, m *Message) {
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
		m.AppName, m.Msg = tag, skipOneSpace(b[len(t1):])
		return
	}
	if len(t1) == 0 || len(t1) == len(b) {
		m.Msg = b
		return
	}
	rest := b[len(t1)+1:]
	t2 := tok(rest)
	if tag, ok := tagOf(t2); ok {
		m.Hostname, m.AppName, m.Msg = t1, tag, skipOneSpace(rest[len(t2):])
		return
	}
	// No tag: the content starts after the host name.
	m.Hostname, m.Msg = t1, rest
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
