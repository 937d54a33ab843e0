package logformat

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/jsonscan"
)

// nvar is an nginx variable the custom-format parser understands.
type nvar uint8

const (
	vIgnored nvar = iota // any other variable: matched, not kept
	vRemoteAddr
	vRemoteUser
	vTimeLocal
	vTimeISO8601
	vMsec
	vRequest
	vRequestMethod
	vRequestURI
	vURI
	vArgs
	vServerProtocol
	vStatus
	vBodyBytesSent
	vBytesSent
	vReferer
	vUserAgent
	vXForwardedFor
	vRequestTime
	vUpstreamResponseTime
	vUpstreamList // other $upstream_* variables: lists, not kept
	vHost
	vHTTPHost
	vServerName
)

var nginxVars = map[string]nvar{
	"remote_addr":              vRemoteAddr,
	"realip_remote_addr":       vRemoteAddr,
	"remote_user":              vRemoteUser,
	"time_local":               vTimeLocal,
	"time_iso8601":             vTimeISO8601,
	"msec":                     vMsec,
	"request":                  vRequest,
	"request_method":           vRequestMethod,
	"request_uri":              vRequestURI,
	"uri":                      vURI,
	"document_uri":             vURI,
	"args":                     vArgs,
	"query_string":             vArgs,
	"server_protocol":          vServerProtocol,
	"status":                   vStatus,
	"body_bytes_sent":          vBodyBytesSent,
	"bytes_sent":               vBytesSent,
	"http_referer":             vReferer,
	"http_user_agent":          vUserAgent,
	"http_x_forwarded_for":     vXForwardedFor,
	"request_time":             vRequestTime,
	"upstream_response_time":   vUpstreamResponseTime,
	"upstream_connect_time":    vUpstreamList,
	"upstream_header_time":     vUpstreamList,
	"upstream_status":          vUpstreamList,
	"upstream_addr":            vUpstreamList,
	"upstream_bytes_sent":      vUpstreamList,
	"upstream_bytes_received":  vUpstreamList,
	"upstream_response_length": vUpstreamList,
	"upstream_cache_status":    vIgnored,
	"host":                     vHost,
	"http_host":                vHTTPHost,
	"server_name":              vServerName,
}

// nfield is one variable of a compiled format and the literal text after
// it.
type nfield struct {
	name   string // the variable's name, for errors
	v      nvar
	quoted bool   // between '"' and '"': ends at an unescaped quote
	lit    []byte // literal text up to the next variable or the end
}

// nginxFormat is a compiled log_format.
type nginxFormat struct {
	def    string
	prefix []byte // literal text before the first variable
	fields []nfield
	// keys maps JSON keys to variables when the format is a JSON template
	// (escape=json); fields is then unused.
	keys map[string]nfield
}

// CompileNginx compiles an nginx log_format definition into a parser that
// matches lines by their literal separators, once per format. The
// definition is the format string as in nginx.conf, e.g.
//
//	'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_response_time'
//
// with or without its quotes, several quoted strings (concatenated as nginx
// does), and an optional "log_format name escape=..." in front and ";"
// after. Variables kept: $remote_addr (or $realip_remote_addr),
// $remote_user, $time_local / $time_iso8601 / $msec, $request or
// $request_method + $request_uri (or $uri and $args), $server_protocol,
// $status, $body_bytes_sent (or $bytes_sent), $http_referer,
// $http_user_agent, $http_x_forwarded_for, $request_time,
// $upstream_response_time (a list: see event.ParseSeconds, which sums it),
// $host / $http_host / $server_name. Any other variable is matched and
// ignored; $upstream_* lists ("a, b : c") are matched as lists.
//
// A format must log the client address and a time. Two variables with no
// literal text between them cannot be told apart and are refused, unless
// the first has a fixed shape ($time_local, $time_iso8601, $msec, $status,
// a number). A template that is a JSON object (escape=json) is matched by
// key instead: each key whose value is one variable maps to it.
func CompileNginx(def string) (Parser, error) {
	text, err := formatText(def)
	if err != nil {
		return nil, err
	}
	f := &nginxFormat{def: text}
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") {
		if err := f.compileJSON(t); err != nil {
			return nil, err
		}
	} else if err := f.compileText(text); err != nil {
		return nil, err
	}
	return f, nil
}

// formatText extracts the format string from a definition as written in
// nginx.conf.
func formatText(def string) (string, error) {
	s := strings.TrimSpace(def)
	s = strings.TrimSuffix(s, ";")
	if rest, ok := strings.CutPrefix(s, "log_format"); ok && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		// log_format name [escape=...] 'string' ...
		rest = strings.TrimSpace(rest)
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			return "", fmt.Errorf("logformat: log_format definition without a format string")
		}
		rest = strings.TrimSpace(rest[i:])
		if strings.HasPrefix(rest, "escape=") {
			i := strings.IndexAny(rest, " \t")
			if i < 0 {
				return "", fmt.Errorf("logformat: log_format definition without a format string")
			}
			rest = strings.TrimSpace(rest[i:])
		}
		s = rest
	}
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return s, nil
	}
	// One or more quoted strings, as nginx's configuration syntax has them.
	var out strings.Builder
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		q := s[0]
		if q != '\'' && q != '"' {
			return "", fmt.Errorf("logformat: unquoted text between the format's strings")
		}
		i := 1
		for ; i < len(s) && s[i] != q; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				// nginx keeps the backslash except before a quote.
				if s[i] != q && s[i] != '\\' {
					out.WriteByte('\\')
				}
			}
			out.WriteByte(s[i])
		}
		if i == len(s) {
			return "", fmt.Errorf("logformat: unterminated quoted string in the format")
		}
		s = s[i+1:]
	}
	return out.String(), nil
}

// tokens splits a format string into literals and variable names.
func tokens(text string) (lits []string, names []string, err error) {
	var lit strings.Builder
	for i := 0; i < len(text); {
		if text[i] != '$' {
			lit.WriteByte(text[i])
			i++
			continue
		}
		j := i + 1
		var name string
		if j < len(text) && text[j] == '{' {
			k := strings.IndexByte(text[j:], '}')
			if k < 0 {
				return nil, nil, fmt.Errorf("logformat: unterminated ${ in the format")
			}
			name = text[j+1 : j+k]
			j += k + 1
		} else {
			for j < len(text) && (isAlnum(text[j]) || text[j] == '_') {
				j++
			}
			name = text[i+1 : j]
		}
		if name == "" {
			return nil, nil, fmt.Errorf("logformat: '$' without a variable name in the format")
		}
		lits = append(lits, lit.String())
		lit.Reset()
		names = append(names, strings.ToLower(name))
		i = j
	}
	lits = append(lits, lit.String())
	return lits, names, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (f *nginxFormat) compileText(text string) error {
	lits, names, err := tokens(text)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return fmt.Errorf("logformat: format %q has no $variables", text)
	}
	f.prefix = []byte(lits[0])
	for i, name := range names {
		fl := nfield{name: name, v: nginxVars[name], lit: []byte(lits[i+1])}
		fl.quoted = strings.HasSuffix(lits[i], `"`) && strings.HasPrefix(lits[i+1], `"`)
		if len(fl.lit) == 0 && i < len(names)-1 && !fixedShape(fl.v) {
			return fmt.Errorf("logformat: $%s and $%s have nothing between them; they cannot be told apart", name, names[i+1])
		}
		f.fields = append(f.fields, fl)
	}
	return f.checkVars(names)
}

// checkVars requires a client address and a time.
func (f *nginxFormat) checkVars(names []string) error {
	has := map[nvar]bool{}
	for _, n := range names {
		has[nginxVars[n]] = true
	}
	if !has[vRemoteAddr] {
		return fmt.Errorf("logformat: format has no $remote_addr; vakt needs the client address")
	}
	if !has[vTimeLocal] && !has[vTimeISO8601] && !has[vMsec] {
		return fmt.Errorf("logformat: format has no $time_local, $time_iso8601 or $msec; vakt needs the time")
	}
	return nil
}

// compileJSON maps the keys of a JSON template to its variables.
func (f *nginxFormat) compileJSON(text string) error {
	// Make the template valid JSON: a bare variable (as in "status":$status)
	// becomes a number placeholder.
	lits, names, err := tokens(text)
	if err != nil {
		return err
	}
	var b strings.Builder
	for i, lit := range lits {
		b.WriteString(lit)
		if i < len(names) {
			if strings.HasSuffix(lit, `"`) {
				fmt.Fprintf(&b, "\\u0000%d\\u0000", i)
			} else {
				fmt.Fprintf(&b, "%d", 1e9+i)
			}
		}
	}
	tmpl := []byte(b.String())
	kind, obj, rest, err := jsonscan.Value(tmpl)
	if err != nil || kind != jsonscan.Object || len(jsonscan.SkipSpace(rest)) != 0 {
		return fmt.Errorf("logformat: JSON log_format is not a JSON object once its variables are filled in")
	}
	f.keys = map[string]nfield{}
	var used []string
	err = jsonscan.EachMember(obj, func(key []byte, kind jsonscan.Kind, v []byte) error {
		var idx int
		switch kind {
		case jsonscan.Number:
			if _, err := fmt.Sscanf(string(v), "%d", &idx); err != nil {
				return nil
			}
			idx -= 1e9
		case jsonscan.String:
			s, err := jsonscan.AppendUnquote(nil, v)
			if err != nil {
				return err
			}
			var n int
			if c, err := fmt.Sscanf(string(s), "\x00%d\x00", &n); err != nil || c != 1 ||
				string(s) != fmt.Sprintf("\x00%d\x00", n) {
				return nil // not exactly one variable
			}
			idx = n
		default:
			return nil
		}
		if idx < 0 || idx >= len(names) {
			return nil
		}
		f.keys[string(key)] = nfield{name: names[idx], v: nginxVars[names[idx]]}
		used = append(used, names[idx])
		return nil
	})
	if err != nil {
		return fmt.Errorf("logformat: JSON log_format: %w", err)
	}
	return f.checkVars(used)
}

// fixedShape reports whether a variable's extent is known without the
// literal after it.
func fixedShape(v nvar) bool {
	switch v {
	case vTimeLocal, vTimeISO8601, vMsec, vStatus, vBodyBytesSent, vBytesSent, vRequestTime:
		return true
	}
	return false
}

func (f *nginxFormat) Format() string { return FormatCustom }

// String returns the format string the parser was compiled from.
func (f *nginxFormat) String() string { return f.def }

// nstate collects the variables of one line before they are combined.
type nstate struct {
	uri, args                  []byte
	host, httpHost, serverName []byte
	bodyBytes                  bool
	hasTime, hasIP             bool
}

func (f *nginxFormat) Parse(line []byte, r *event.Raw) error {
	site := r.Site
	*r = event.Raw{Site: site, RequestTime: event.Unknown, UpstreamTime: event.Unknown}
	var st nstate
	var err error
	if f.keys != nil {
		err = f.parseJSON(line, r, &st)
	} else if line, err = checkLine(line); err == nil {
		err = f.parseText(line, r, &st)
	}
	if err != nil {
		return err
	}
	return f.finish(r, &st)
}

func (f *nginxFormat) parseText(line []byte, r *event.Raw, st *nstate) error {
	if !bytes.HasPrefix(line, f.prefix) {
		return fail(ReasonBadFormat, fieldLiteral, 0)
	}
	p := len(f.prefix)
	for i := range f.fields {
		fl := &f.fields[i]
		end := -1
		switch {
		case fl.quoted:
			end = closingQuote(line, p)
		case fl.v == vTimeLocal:
			if len(line)-p >= tsLen {
				end = p + tsLen
			}
		case fixedShape(fl.v):
			end = scanToken(line, p)
		case fl.v == vUpstreamResponseTime || fl.v == vUpstreamList:
			end = scanList(line, p)
		case len(fl.lit) == 0:
			end = len(line)
		default:
			if j := bytes.Index(line[p:], fl.lit); j >= 0 {
				end = p + j
			}
		}
		if end < 0 || !bytes.HasPrefix(line[end:], fl.lit) {
			if end < 0 {
				return fail(ReasonBadFormat, fl.name, p)
			}
			return fail(ReasonBadFormat, fieldLiteral, end)
		}
		if err := assign(fl, line[p:end], p, r, st); err != nil {
			return err
		}
		p = end + len(fl.lit)
	}
	if p != len(line) {
		return fail(ReasonBadFormat, fieldLiteral, p)
	}
	return nil
}

func (f *nginxFormat) parseJSON(line []byte, r *event.Raw, st *nstate) error {
	obj, err := jsonLine(line)
	if err != nil {
		return err
	}
	return jsonscan.EachMember(obj, func(key []byte, kind jsonscan.Kind, v []byte) error {
		fl, ok := f.keys[string(key)]
		if !ok {
			return nil
		}
		switch kind {
		case jsonscan.String:
			// Values are kept until finish: no shared buffer.
			if bytes.IndexByte(v, '\\') < 0 && bytes.IndexByte(v, 0x7f) < 0 && utf8.Valid(v) {
				v = v[1 : len(v)-1]
			} else {
				var err error
				if v, err = jsonscan.AppendUnquoteLog(nil, v); err != nil {
					return fail(ReasonBadJSON, fl.name, 0)
				}
			}
		case jsonscan.Null:
			v = nil
		}
		return assign(&fl, v, 0, r, st)
	})
}

// finish combines variables that depend on each other.
func (f *nginxFormat) finish(r *event.Raw, st *nstate) error {
	if !st.hasIP {
		return fail(ReasonBadIP, "remote_addr", 0)
	}
	if !st.hasTime {
		return fail(ReasonBadTimestamp, "time", 0)
	}
	if r.Target == "" && len(st.uri) > 0 {
		t := string(st.uri)
		if len(st.args) > 0 {
			t += "?" + string(st.args)
		}
		r.Target = t
	}
	switch {
	case len(st.host) > 0:
		r.Host = string(st.host)
	case len(st.httpHost) > 0:
		r.Host = string(st.httpHost)
	case len(st.serverName) > 0:
		r.Host = string(st.serverName)
	}
	return nil
}

// scanToken returns the end of a run of non-space bytes.
func scanToken(line []byte, p int) int {
	i := p
	for i < len(line) && line[i] != ' ' && line[i] != '"' && line[i] != ',' && line[i] != ']' && line[i] != '\t' {
		i++
	}
	return i
}

// scanList returns the end of an $upstream_* list: items separated by ", "
// or " : ".
func scanList(line []byte, p int) int {
	i := scanToken(line, p)
	for {
		switch {
		case bytes.HasPrefix(line[i:], []byte(", ")) && i+2 < len(line) && line[i+2] != ' ':
			i = scanToken(line, i+2)
		case bytes.HasPrefix(line[i:], []byte(" : ")) && i+3 < len(line) && line[i+3] != ' ':
			i = scanToken(line, i+3)
		default:
			return i
		}
	}
}

// assign stores the value of one variable; p is its offset for errors.
func assign(fl *nfield, v []byte, p int, r *event.Raw, st *nstate) error {
	dash := len(v) == 0 || isDash(v)
	switch fl.v {
	case vRemoteAddr:
		ip, ok := parseIP(v)
		if !ok {
			return fail(ReasonBadIP, fl.name, p)
		}
		r.ClientIP, st.hasIP = ip, true
	case vRemoteUser:
		if !dash {
			r.User = string(v)
		}
	case vTimeLocal:
		t, ok := parseTime(v)
		if !ok {
			return fail(ReasonBadTimestamp, fl.name, p)
		}
		r.Time, st.hasTime = t, true
	case vTimeISO8601:
		t, ok := event.ParseTime(v)
		if !ok {
			return fail(ReasonBadTimestamp, fl.name, p)
		}
		r.Time, st.hasTime = t, true
	case vMsec:
		t, err := unixSeconds(v)
		if err != nil {
			return fail(ReasonBadTimestamp, fl.name, p)
		}
		r.Time, st.hasTime = t, true
	case vRequest:
		rp, ok := splitRequest(v)
		if !ok {
			return fail(ReasonBadRequest, fl.name, p)
		}
		if len(v) > 0 && !isDash(v) {
			s := string(v)
			r.Method = internMethod(v[rp.m0:rp.m1], s[rp.m0:rp.m1])
			r.Target = s[rp.t0:rp.t1]
			r.Protocol = internProtocol(v[rp.p0:rp.p1], s[rp.p0:rp.p1])
		}
	case vRequestMethod:
		if !dash {
			r.Method = internMethod(v, string(v))
		}
	case vRequestURI:
		if !dash {
			r.Target = string(v)
		}
	case vURI:
		if !dash {
			st.uri = v
		}
	case vArgs:
		if !dash {
			st.args = v
		}
	case vServerProtocol:
		if !dash {
			r.Protocol = internProtocol(v, string(v))
		}
	case vStatus:
		if len(v) != 3 || !isDigit(v[0]) || !isDigit(v[1]) || !isDigit(v[2]) {
			return fail(ReasonBadStatus, fl.name, p)
		}
		r.Status = uint16(v[0]-'0')*100 + uint16(v[1]-'0')*10 + uint16(v[2]-'0')
	case vBodyBytesSent, vBytesSent:
		n, ok := parseSize(v)
		if len(v) == 0 || !ok {
			return fail(ReasonBadBytes, fl.name, p)
		}
		// $body_bytes_sent is the size combined logs; $bytes_sent adds
		// the headers and is used only without it.
		if fl.v == vBodyBytesSent || !st.bodyBytes {
			r.Bytes = n
		}
		st.bodyBytes = st.bodyBytes || fl.v == vBodyBytesSent
	case vReferer:
		if !dash {
			r.Referrer = string(v)
		}
	case vUserAgent:
		if !dash {
			r.UserAgent = string(v)
		}
	case vXForwardedFor:
		if !dash {
			r.ForwardedFor = string(v)
		}
	case vRequestTime, vUpstreamResponseTime:
		d, ok := event.ParseSeconds(v)
		if !ok {
			return fail(ReasonBadDuration, fl.name, p)
		}
		if fl.v == vRequestTime {
			r.RequestTime = d
		} else {
			r.UpstreamTime = d
		}
	case vHost:
		if !dash {
			st.host = v
		}
	case vHTTPHost:
		if !dash {
			st.httpHost = v
		}
	case vServerName:
		if !dash {
			st.serverName = v
		}
	}
	return nil
}
