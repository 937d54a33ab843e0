// Package logformat parses access-log lines. New returns the Parser of a
// format: combined and common (below), Apache's vhost_combined, nginx's
// "main", nginx JSON (escape=json), Caddy's JSON access log, any nginx
// log_format definition given as its format string (CompileNginx), or
// auto-detection (Auto).
//
// The NCSA common and combined formats that nginx and Apache httpd write by
// default are the fast path:
//
//	common:   %h %l %u %t "%r" %>s %b
//	combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
//
// ParseCombined accepts both; a line that ends after the size is common and
// has no referrer or user agent. Fields after the user agent (nginx's "main"
// format adds X-Forwarded-For, others add timings) are ignored.
//
// Strings are kept exactly as the server wrote them, escapes included:
// nginx and Apache write `"` as \" or \x22, `\` as \\ and bytes outside
// printable ASCII as \xHH, so an escaped quote does not end a field.
//
// The parser scans bytes by hand (no regexp, no time.Parse) because ingest
// runs it on every line: it parses over a million lines a second on one core.
package logformat

import (
	"bytes"
	"unicode/utf8"

	"github.com/vakt-dev/vakt/internal/event"
)

// MaxLineBytes is the longest line accepted. Real request lines are a few
// kilobytes at most; anything longer is an attack or a broken writer.
const MaxLineBytes = 1 << 20

// Field names used in Error.Field.
const (
	fieldLine      = "line"
	fieldClient    = "client"
	fieldIdent     = "ident"
	fieldUser      = "user"
	fieldTimestamp = "timestamp"
	fieldRequest   = "request"
	fieldStatus    = "status"
	fieldBytes     = "bytes"
	fieldReferrer  = "referrer"
	fieldUserAgent = "user_agent"

	fieldForwardedFor = "forwarded_for"
	fieldVhost        = "vhost"
	fieldJSON         = "json"
	fieldLiteral      = "literal" // text between a custom format's variables
)

// ParseCombined parses one line in combined or common format (without its
// newline; trailing white space and "\r" are ignored) into r, overwriting
// every field ParseCombined sets and leaving Site, ForwardedFor and Host
// alone. Time is in UTC. "-" in the user, size, referrer and user-agent
// fields becomes "" or 0. RequestTime and UpstreamTime are set to
// event.Unknown: these formats do not log them.
//
// The request line is split into Method, Target and Protocol when it has
// the shape "METHOD target HTTP/x" (or "METHOD target" as in HTTP/0.9).
// Servers log other request lines too: "-" for a connection that sent
// nothing, escaped binary such as \x16\x03\x01 from TLS handshakes sent to a
// plain-HTTP port, or random bytes from scanners. Those are kept, because a
// security team wants to see them: Method is "", Protocol is "" and Target
// is the request text as logged ("" for "-"). Only a request text with
// control characters (which a server that escapes never writes) is
// rejected, as ReasonBadRequest.
//
// On failure r is left partly written and the error is a *Error.
func ParseCombined(line []byte, r *event.Raw) error {
	_, err := parseCombined(line, r)
	return err
}

// checkLine applies the checks every text format shares and returns the
// line without trailing white space.
func checkLine(line []byte) ([]byte, error) {
	if len(line) > MaxLineBytes {
		return nil, fail(ReasonTooLong, fieldLine, MaxLineBytes)
	}
	end := len(line)
	for end > 0 && isSpace(line[end-1]) {
		end--
	}
	if end == 0 {
		return nil, fail(ReasonEmpty, fieldLine, 0)
	}
	line = line[:end]
	if !utf8.Valid(line) {
		return nil, fail(ReasonInvalidUTF8, fieldLine, invalidUTF8At(line))
	}
	return line, nil
}

// parseCombined is ParseCombined that also returns the offset where the
// fields it ignores start (the end of the trimmed line for a line that has
// none), for the formats that extend combined.
func parseCombined(line []byte, r *event.Raw) (int, error) {
	line, err := checkLine(line)
	if err != nil {
		return 0, err
	}

	// %h: client address.
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 0, fail(ReasonBadFormat, fieldIdent, len(line))
	}
	ip, ok := parseIP(line[:sp])
	if !ok {
		return 0, fail(ReasonBadIP, fieldClient, 0)
	}
	p := sp + 1

	// %l: identd name, always "-" in practice; ignored.
	sp = bytes.IndexByte(line[p:], ' ')
	if sp < 0 {
		return 0, fail(ReasonBadFormat, fieldUser, len(line))
	}
	p += sp + 1

	// %u: remote user, up to " [". It comes from the Authorization header,
	// so it may contain spaces.
	var user []byte
	if len(line)-p >= 3 && line[p] == '-' && line[p+1] == ' ' && line[p+2] == '[' {
		p += 3 // the usual "-"
	} else {
		i := bytes.Index(line[p:], []byte(" ["))
		if i < 0 {
			return 0, fail(ReasonBadFormat, fieldTimestamp, p)
		}
		user = line[p : p+i]
		p += i + 2
	}

	// %t: [02/Jan/2006:15:04:05 -0700]
	if len(line)-p < tsLen+1 || line[p+tsLen] != ']' {
		return 0, fail(ReasonBadTimestamp, fieldTimestamp, p)
	}
	t, ok := parseTime(line[p : p+tsLen])
	if !ok {
		return 0, fail(ReasonBadTimestamp, fieldTimestamp, p)
	}
	p += tsLen + 1

	// "%r": the request line.
	if len(line)-p < 2 || line[p] != ' ' || line[p+1] != '"' {
		return 0, fail(ReasonBadFormat, fieldRequest, p)
	}
	p += 2
	reqStart := p
	q := closingQuote(line, p)
	if q < 0 {
		return 0, fail(ReasonBadFormat, fieldRequest, p)
	}
	reqEnd := q
	p = q + 1

	// %>s: three digits.
	if p >= len(line) || line[p] != ' ' {
		return 0, fail(ReasonBadFormat, fieldStatus, p)
	}
	p++
	if len(line)-p < 3 || !isDigit(line[p]) || !isDigit(line[p+1]) || !isDigit(line[p+2]) ||
		(len(line)-p > 3 && line[p+3] != ' ') {
		return 0, fail(ReasonBadStatus, fieldStatus, p)
	}
	status := uint16(line[p]-'0')*100 + uint16(line[p+1]-'0')*10 + uint16(line[p+2]-'0')
	p += 3
	if p >= len(line) {
		return 0, fail(ReasonBadFormat, fieldBytes, p)
	}
	p++

	// %b: size or "-".
	bEnd := bytes.IndexByte(line[p:], ' ')
	if bEnd < 0 {
		bEnd = len(line)
	} else {
		bEnd += p
	}
	size, ok := parseSize(line[p:bEnd])
	if !ok {
		return 0, fail(ReasonBadBytes, fieldBytes, p)
	}
	p = bEnd

	// Combined adds "referrer" "user agent"; common ends here.
	refStart, refEnd, uaStart, uaEnd := -1, -1, -1, -1
	if p < len(line) {
		p++ // the space IndexByte found
		if line[p] != '"' {
			return 0, fail(ReasonBadFormat, fieldReferrer, p)
		}
		refStart = p + 1
		if refEnd = closingQuote(line, refStart); refEnd < 0 {
			return 0, fail(ReasonBadFormat, fieldReferrer, refStart)
		}
		p = refEnd + 1
		if len(line)-p < 2 || line[p] != ' ' || line[p+1] != '"' {
			return 0, fail(ReasonBadFormat, fieldUserAgent, p)
		}
		uaStart = p + 2
		if uaEnd = closingQuote(line, uaStart); uaEnd < 0 {
			return 0, fail(ReasonBadFormat, fieldUserAgent, uaStart)
		}
		p = uaEnd + 1
		// Extended formats log more fields after a space; ignore them.
		if p < len(line) && line[p] != ' ' {
			return 0, fail(ReasonBadFormat, fieldUserAgent, p)
		}
	}

	req := line[reqStart:reqEnd]
	rp, ok := splitRequest(req)
	if !ok {
		return 0, fail(ReasonBadRequest, fieldRequest, reqStart)
	}

	// One allocation holds the request, referrer and user agent; the
	// fields below are substrings of it. The client address comes before
	// this span, so the strings never hold a copy of it.
	spanEnd := reqEnd
	if uaEnd >= 0 {
		spanEnd = uaEnd
	}
	var s string
	if spanEnd > reqStart {
		s = string(line[reqStart:spanEnd])
	}

	r.Time = t
	r.ClientIP = ip
	r.User = ""
	if len(user) > 0 && !isDash(user) {
		r.User = string(user)
	}
	r.Method = internMethod(req[rp.m0:rp.m1], s[rp.m0:rp.m1])
	r.Target = s[rp.t0:rp.t1]
	r.Protocol = internProtocol(req[rp.p0:rp.p1], s[rp.p0:rp.p1])
	r.Status = status
	r.Bytes = size
	r.Referrer, r.UserAgent = "", ""
	if refStart >= 0 {
		if !isDash(line[refStart:refEnd]) {
			r.Referrer = s[refStart-reqStart : refEnd-reqStart]
		}
		if !isDash(line[uaStart:uaEnd]) {
			r.UserAgent = s[uaStart-reqStart : uaEnd-reqStart]
		}
	}
	r.RequestTime = event.Unknown
	r.UpstreamTime = event.Unknown
	return p, nil
}
