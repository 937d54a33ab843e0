// Package jsonscan walks JSON text without building values: it finds the
// extent and kind of each value, iterates over object members and array
// elements, and decodes strings on demand. Access-log decoders use it to
// pick the few keys they know out of a record at several times the speed of
// encoding/json, with no reflection and no map per record.
//
// It validates what it walks as RFC 8259 JSON, with one deliberate
// extension: a string may contain the escape \xHH (two hex digits), which
// nginx writes in a JSON log_format without escape=json. Nesting deeper than
// MaxDepth is refused, so hostile input cannot exhaust the stack.
package jsonscan

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the kind of a JSON value.
type Kind uint8

// Kinds of JSON values.
const (
	Invalid Kind = iota
	Null
	False
	True
	Number
	String
	Object
	Array
)

// MaxDepth bounds the nesting of arrays and objects.
const MaxDepth = 64

// Error is a syntax error. It carries a position and never any input.
type Error struct {
	Pos int    // byte offset of the problem in the text given
	Msg string // what was expected
}

func (e *Error) Error() string { return "json: " + e.Msg + " at byte " + strconv.Itoa(e.Pos) }

func syntax(pos int, msg string) error { return &Error{Pos: pos, Msg: msg} }

// IsSpace reports whether c is JSON white space.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns b without leading white space.
func SkipSpace(b []byte) []byte {
	for len(b) > 0 && IsSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// Value returns the kind and bytes of the JSON value at the start of b
// (after white space) and what follows it. The value is validated whole,
// nested values included.
func Value(b []byte) (kind Kind, v, rest []byte, err error) {
	s := &scanner{data: b}
	s.space()
	start := s.pos
	kind, err = s.value(0)
	if err != nil {
		return Invalid, nil, nil, err
	}
	return kind, b[start:s.pos], b[s.pos:], nil
}

// EachMember calls fn for each member of the object obj, which must be one
// whole object as returned by Value (it is walked again, not trusted). key
// is the decoded member name; it and val are only valid during the call.
// A non-nil error from fn stops the walk and is returned.
func EachMember(obj []byte, fn func(key []byte, kind Kind, val []byte) error) error {
	s := &scanner{data: obj}
	s.space()
	if s.peek() != '{' {
		return syntax(s.pos, "expected object")
	}
	s.pos++
	var keyBuf [64]byte
	s.space()
	if s.peek() == '}' {
		s.pos++
		return s.end()
	}
	for {
		s.space()
		if s.peek() != '"' {
			return syntax(s.pos, "expected string key")
		}
		ks := s.pos
		esc, err := s.str()
		if err != nil {
			return err
		}
		key := obj[ks+1 : s.pos-1]
		if esc {
			if key, err = AppendUnquote(keyBuf[:0], obj[ks:s.pos]); err != nil {
				return err
			}
		}
		s.space()
		if s.peek() != ':' {
			return syntax(s.pos, "expected ':'")
		}
		s.pos++
		s.space()
		vs := s.pos
		kind, err := s.value(1)
		if err != nil {
			return err
		}
		if err := fn(key, kind, obj[vs:s.pos]); err != nil {
			return err
		}
		s.space()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return s.end()
		default:
			return syntax(s.pos, "expected ',' or '}'")
		}
	}
}

// EachElement calls fn for each element of the array arr, which must be one whole
// array as returned by Value.
func EachElement(arr []byte, fn func(kind Kind, val []byte) error) error {
	s := &scanner{data: arr}
	s.space()
	if s.peek() != '[' {
		return syntax(s.pos, "expected array")
	}
	s.pos++
	s.space()
	if s.peek() == ']' {
		s.pos++
		return s.end()
	}
	for {
		s.space()
		vs := s.pos
		kind, err := s.value(1)
		if err != nil {
			return err
		}
		if err := fn(kind, arr[vs:s.pos]); err != nil {
			return err
		}
		s.space()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return s.end()
		default:
			return syntax(s.pos, "expected ',' or ']'")
		}
	}
}

// AppendUnquote appends the decoded content of the JSON string str (quotes
// included) to dst. Invalid UTF-8 and lone surrogates become U+FFFD, as
// encoding/json does. \xHH is kept as the four characters it is written
// with, the way access-log text formats keep a server's escapes.
func AppendUnquote(dst, str []byte) ([]byte, error) {
	if len(str) < 2 || str[0] != '"' || str[len(str)-1] != '"' {
		return dst, syntax(0, "expected string")
	}
	b := str[1 : len(str)-1]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\\')
		if i < 0 {
			return appendValidUTF8(dst, b), nil
		}
		dst = appendValidUTF8(dst, b[:i])
		b = b[i:]
		if len(b) < 2 {
			return dst, syntax(len(str)-1, "unterminated escape")
		}
		switch c := b[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
			b = b[2:]
		case 'b':
			dst, b = append(dst, '\b'), b[2:]
		case 'f':
			dst, b = append(dst, '\f'), b[2:]
		case 'n':
			dst, b = append(dst, '\n'), b[2:]
		case 'r':
			dst, b = append(dst, '\r'), b[2:]
		case 't':
			dst, b = append(dst, '\t'), b[2:]
		case 'x':
			if len(b) < 4 || !isHex(b[2]) || !isHex(b[3]) {
				return dst, syntax(0, "bad \\x escape")
			}
			dst, b = append(dst, b[:4]...), b[4:]
		case 'u':
			r, ok := hex4(b[2:])
			if !ok {
				return dst, syntax(0, "bad \\u escape")
			}
			b = b[6:]
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if len(b) >= 6 && b[0] == '\\' && b[1] == 'u' {
					r2, ok = hex4(b[2:])
				}
				if d := utf16.DecodeRune(r, r2); ok && d != utf8.RuneError {
					r = d
					b = b[6:]
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, syntax(0, "bad escape")
		}
	}
	return dst, nil
}

// AppendUnquoteLog is AppendUnquote for access-log values: control
// characters (below 0x20, and 0x7f) come out as \xHH, the way nginx and
// Apache escape them in text logs, so that a value reads the same whichever
// format it was logged in and never carries raw control bytes onwards.
func AppendUnquoteLog(dst, str []byte) ([]byte, error) {
	start := len(dst)
	dst, err := AppendUnquote(dst, str)
	if err != nil {
		return dst, err
	}
	i := start
	for ; i < len(dst) && dst[i] >= 0x20 && dst[i] != 0x7f; i++ {
	}
	if i == len(dst) {
		return dst, nil
	}
	out := append([]byte(nil), dst[start:i]...)
	const hex = "0123456789ABCDEF"
	for _, c := range dst[i:] {
		if c < 0x20 || c == 0x7f {
			out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
		} else {
			out = append(out, c)
		}
	}
	return append(dst[:start], out...), nil
}

// appendValidUTF8 appends b with each invalid byte replaced by U+FFFD.
func appendValidUTF8(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) space() {
	for s.pos < len(s.data) && IsSpace(s.data[s.pos]) {
		s.pos++
	}
}

// end checks that only white space follows.
func (s *scanner) end() error {
	s.space()
	if s.pos != len(s.data) {
		return syntax(s.pos, "unexpected data after value")
	}
	return nil
}

func (s *scanner) value(depth int) (Kind, error) {
	if depth > MaxDepth {
		return Invalid, syntax(s.pos, "nested too deeply")
	}
	switch c := s.peek(); c {
	case '{':
		s.pos++
		s.space()
		if s.peek() == '}' {
			s.pos++
			return Object, nil
		}
		for {
			s.space()
			if s.peek() != '"' {
				return Invalid, syntax(s.pos, "expected string key")
			}
			if _, err := s.str(); err != nil {
				return Invalid, err
			}
			s.space()
			if s.peek() != ':' {
				return Invalid, syntax(s.pos, "expected ':'")
			}
			s.pos++
			s.space()
			if _, err := s.value(depth + 1); err != nil {
				return Invalid, err
			}
			s.space()
			switch s.peek() {
			case ',':
				s.pos++
			case '}':
				s.pos++
				return Object, nil
			default:
				return Invalid, syntax(s.pos, "expected ',' or '}'")
			}
		}
	case '[':
		s.pos++
		s.space()
		if s.peek() == ']' {
			s.pos++
			return Array, nil
		}
		for {
			s.space()
			if _, err := s.value(depth + 1); err != nil {
				return Invalid, err
			}
			s.space()
			switch s.peek() {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return Array, nil
			default:
				return Invalid, syntax(s.pos, "expected ',' or ']'")
			}
		}
	case '"':
		_, err := s.str()
		return String, err
	case 't':
		return True, s.literal("true")
	case 'f':
		return False, s.literal("false")
	case 'n':
		return Null, s.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return Number, s.number()
		}
		return Invalid, syntax(s.pos, "expected a value")
	}
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return syntax(s.pos, "expected "+lit)
	}
	s.pos += len(lit)
	return nil
}

// str scans a string starting at its opening quote and reports whether it
// holds escapes.
func (s *scanner) str() (escaped bool, err error) {
	s.pos++ // opening quote
	d := s.data
	for i := s.pos; i < len(d); {
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				return false, syntax(i, "unterminated string")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(d[i+2:]); !ok {
					return false, syntax(i, "bad \\u escape")
				}
				i += 6
			case 'x':
				if i+3 >= len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) {
					return false, syntax(i, "bad \\x escape")
				}
				i += 4
			default:
				return false, syntax(i, "bad escape")
			}
		case c < 0x20:
			return false, syntax(i, "control character in string")
		default:
			i++
		}
	}
	return false, syntax(len(d), "unterminated string")
}

func (s *scanner) number() error {
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return syntax(i, "bad number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		n := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == n {
			return syntax(i, "bad number")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		n := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == n {
			return syntax(i, "bad number")
		}
	}
	s.pos = i
	return nil
}
