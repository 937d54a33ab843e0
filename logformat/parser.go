package logformat

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/vakt-dev/vakt/internal/event"
)

// Parser parses access-log lines of one format.
type Parser interface {
	// Parse parses one line (without its newline; trailing white space is
	// ignored) into r, overwriting every field except Site. Fields the
	// format does not log are left empty, durations event.Unknown. On
	// failure the error is a *Error and r is unspecified.
	Parse(line []byte, r *event.Raw) error
	// Format names the format: one of Formats(), or "custom" for an nginx
	// log_format definition.
	Format() string
}

// Format names accepted by New.
const (
	FormatAuto          = "auto"           // detect from the lines; see NewAuto
	FormatCombined      = "combined"       // NCSA combined and common (nginx and Apache defaults)
	FormatVhostCombined = "vhost_combined" // Apache: %v:%p, then combined
	FormatMain          = "main"           // nginx "main": combined + "$http_x_forwarded_for"
	FormatNginxJSON     = "nginx_json"     // a JSON log_format (escape=json) with nginx's variable names
	FormatCaddy         = "caddy"          // Caddy's JSON access log
	FormatCustom        = "custom"         // an nginx log_format definition, given as its format string
)

// Formats lists the named formats New accepts (besides a log_format
// definition).
func Formats() []string {
	return []string{FormatAuto, FormatCombined, FormatVhostCombined, FormatMain, FormatNginxJSON, FormatCaddy}
}

// New returns the parser of a format: a name from Formats (also "common",
// an alias of combined, and "json", of nginx_json), "" for auto-detection,
// or an nginx log_format definition: anything holding a '$' variable, such
// as
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time
//
// optionally quoted and with the "log_format name escape=..." prefix and
// ";" it has in nginx.conf. Parsers are safe for concurrent use, except
// the auto-detecting one (see NewAuto): give each source its own.
func New(format string) (Parser, error) {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", FormatAuto:
		return NewAuto(nil), nil
	case FormatCombined, "common", "clf", "ncsa":
		return combinedParser{}, nil
	case FormatVhostCombined:
		return vhostParser{}, nil
	case FormatMain, "nginx_main":
		return mainParser{}, nil
	case FormatNginxJSON, "json":
		return jsonParser{}, nil
	case FormatCaddy:
		return caddyParser{}, nil
	}
	if strings.Contains(format, "$") {
		return CompileNginx(format)
	}
	return nil, fmt.Errorf("logformat: unknown format %q: use one of %s, or an nginx log_format string with $variables",
		format, strings.Join(Formats(), ", "))
}

// combinedParser is ParseCombined as a Parser.
type combinedParser struct{}

func (combinedParser) Format() string { return FormatCombined }

func (combinedParser) Parse(line []byte, r *event.Raw) error {
	r.ForwardedFor, r.Host = "", ""
	_, err := parseCombined(line, r)
	return err
}

// mainParser parses nginx's predefined-in-nginx.conf "main" format:
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"
//
// Fields after the X-Forwarded-For value are ignored, as in combined.
type mainParser struct{}

func (mainParser) Format() string { return FormatMain }

func (mainParser) Parse(line []byte, r *event.Raw) error {
	r.Host = ""
	line, err := checkLine(line)
	if err != nil {
		return err
	}
	p, err := parseCombined(line, r)
	if err != nil {
		return err
	}
	if len(line)-p < 3 || line[p] != ' ' || line[p+1] != '"' {
		return fail(ReasonBadFormat, fieldForwardedFor, p)
	}
	start := p + 2
	end := closingQuote(line, start)
	if end < 0 || (end+1 < len(line) && line[end+1] != ' ') {
		return fail(ReasonBadFormat, fieldForwardedFor, start)
	}
	r.ForwardedFor = ""
	if xff := line[start:end]; len(xff) > 0 && !isDash(xff) {
		r.ForwardedFor = string(xff)
	}
	return nil
}

// vhostParser parses Apache's vhost_combined:
//
//	%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"
//
// The server name (%v, without the port) becomes Host.
type vhostParser struct{}

func (vhostParser) Format() string { return FormatVhostCombined }

func (vhostParser) Parse(line []byte, r *event.Raw) error {
	r.ForwardedFor = ""
	line, err := checkLine(line)
	if err != nil {
		return err
	}
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return fail(ReasonBadFormat, fieldVhost, 0)
	}
	colon := bytes.LastIndexByte(line[:sp], ':')
	if colon <= 0 || !isPort(line[colon+1:sp]) {
		return fail(ReasonBadFormat, fieldVhost, 0)
	}
	host := line[:colon]
	if bytes.IndexByte(host, '"') >= 0 {
		return fail(ReasonBadFormat, fieldVhost, 0)
	}
	if _, err := parseCombined(line[sp+1:], r); err != nil {
		e := err.(*Error)
		e.Pos += sp + 1
		return e
	}
	r.Host = string(host)
	return nil
}

func isPort(b []byte) bool {
	if len(b) == 0 || len(b) > 5 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}
