package logformat

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/jsonscan"
)

// jsonParser parses nginx JSON access logs, written with a log_format such
// as
//
//	log_format json escape=json '{"time_iso8601":"$time_iso8601","remote_addr":"$remote_addr",'
//	    '"request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,'
//	    '"http_referer":"$http_referer","http_user_agent":"$http_user_agent",'
//	    '"request_time":$request_time,"upstream_response_time":"$upstream_response_time","host":"$host"}';
//
// Keys are nginx's variable names (remote_addr, time_local / time_iso8601 /
// msec, request or request_method + request_uri, status, body_bytes_sent,
// http_referer, http_user_agent, request_time, upstream_response_time,
// host / server_name, http_x_forwarded_for, remote_user) or the names of
// vakt's JSON contract (docs/nats-contract.md): both decode through
// event.DecodeJSON. Values may be strings or numbers; "" and "-" are
// absent. For a template with other key names, give the template itself
// to New: it is compiled like any log_format (see CompileNginx).
type jsonParser struct{}

func (jsonParser) Format() string { return FormatNginxJSON }

func (jsonParser) Parse(line []byte, r *event.Raw) error {
	obj, err := jsonLine(line)
	if err != nil {
		return err
	}
	site := r.Site
	err = event.DecodeJSON(obj, nil, r)
	r.Site = site
	return fromRecordError(err)
}

// jsonLine checks a line that must hold exactly one JSON object. Unlike
// the text formats it does not require UTF-8: nginx's escape=json writes
// bytes above 0x7f as they are, and string values decode them to U+FFFD.
func jsonLine(line []byte) ([]byte, error) {
	if len(line) > MaxLineBytes {
		return nil, fail(ReasonTooLong, fieldLine, MaxLineBytes)
	}
	line = bytes.TrimRight(line, " \t\r\n")
	if len(line) == 0 {
		return nil, fail(ReasonEmpty, fieldLine, 0)
	}
	kind, obj, rest, err := jsonscan.Value(line)
	if err != nil {
		var se *jsonscan.Error
		pos := 0
		if errors.As(err, &se) {
			pos = se.Pos
		}
		return nil, fail(ReasonBadJSON, fieldJSON, pos)
	}
	if kind != jsonscan.Object || len(jsonscan.SkipSpace(rest)) != 0 {
		return nil, fail(ReasonBadJSON, fieldJSON, len(line)-len(rest))
	}
	return obj, nil
}

// fromRecordError turns an *event.RecordError into a *Error.
func fromRecordError(err error) error {
	if err == nil {
		return nil
	}
	var re *event.RecordError
	if errors.As(err, &re) {
		return &Error{Reason: Reason(re.Reason), Field: re.Field}
	}
	return err
}

// caddyParser parses Caddy's structured access log (the "http.log.access"
// logger with the JSON encoder):
//
//	{"level":"info","ts":1646861401.5241024,"logger":"http.log.access","msg":"handled request",
//	 "request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":"127.0.0.1","proto":"HTTP/1.1",
//	  "method":"GET","host":"localhost","uri":"/","headers":{"User-Agent":["curl/7.82.0"]}},
//	 "bytes_read":0,"user_id":"","duration":0.000929675,"size":10900,"status":200,"resp_headers":{}}
//
// client_ip (the client behind trusted proxies, Caddy 2.7+) is preferred
// over remote_ip. ts is Unix seconds (or, with another time_format, an ISO
// string); duration is seconds (or a Go duration string with
// duration_format string). Caddy does not log upstream time.
type caddyParser struct{}

func (caddyParser) Format() string { return FormatCaddy }

func (caddyParser) Parse(line []byte, r *event.Raw) error {
	obj, err := jsonLine(line)
	if err != nil {
		return err
	}
	var (
		req, ts, status, size, dur, user []byte
		reqKind, tsKind, durKind         jsonscan.Kind
	)
	err = jsonscan.EachMember(obj, func(key []byte, kind jsonscan.Kind, v []byte) error {
		switch string(key) {
		case "request":
			req, reqKind = v, kind
		case "ts":
			ts, tsKind = v, kind
		case "status":
			status = v
		case "size":
			size = v
		case "duration":
			dur, durKind = v, kind
		case "user_id":
			if kind == jsonscan.String {
				user = v
			}
		}
		return nil
	})
	if err != nil {
		return fail(ReasonBadJSON, fieldJSON, 0)
	}
	if reqKind != jsonscan.Object {
		return fail(ReasonBadFormat, "request", 0)
	}
	site := r.Site
	*r = event.Raw{Site: site, RequestTime: event.Unknown, UpstreamTime: event.Unknown}

	var clientIP, remoteIP []byte
	err = jsonscan.EachMember(req, func(key []byte, kind jsonscan.Kind, v []byte) error {
		if kind != jsonscan.String && !(kind == jsonscan.Object && string(key) == "headers") {
			return nil
		}
		var err error
		switch string(key) {
		case "client_ip":
			clientIP = v
		case "remote_ip":
			remoteIP = v
		case "method":
			r.Method, err = jsonString(v)
		case "uri":
			r.Target, err = jsonString(v)
		case "proto":
			r.Protocol, err = jsonString(v)
		case "host":
			r.Host, err = jsonString(v)
		case "headers":
			err = caddyHeaders(v, r)
		}
		return err
	})
	if err != nil {
		return fail(ReasonBadJSON, "request", 0)
	}
	ipv := clientIP
	if len(ipv) <= 2 {
		ipv = remoteIP
	}
	if len(ipv) <= 2 {
		return fail(ReasonBadIP, "client_ip", 0)
	}
	ip, err := netip.ParseAddr(string(ipv[1 : len(ipv)-1]))
	if err != nil || ip.Zone() != "" {
		return fail(ReasonBadIP, "client_ip", 0)
	}
	r.ClientIP = ip

	switch tsKind {
	case jsonscan.Number:
		r.Time, err = unixSeconds(ts)
	case jsonscan.String:
		s := ts[1 : len(ts)-1]
		if t, ok := event.ParseTime(s); ok {
			r.Time = t
		} else {
			r.Time, err = unixSeconds(s)
		}
	default:
		err = errors.New("no ts")
	}
	if err != nil {
		return fail(ReasonBadTimestamp, "ts", 0)
	}
	if status != nil {
		n, err := strconv.ParseUint(string(status), 10, 16)
		if err != nil || n > 999 {
			return fail(ReasonBadStatus, "status", 0)
		}
		r.Status = uint16(n)
	}
	if size != nil {
		n, err := strconv.ParseUint(string(size), 10, 64)
		if err != nil {
			return fail(ReasonBadBytes, "size", 0)
		}
		r.Bytes = n
	}
	switch durKind {
	case jsonscan.Invalid, jsonscan.Null:
	case jsonscan.Number:
		d, ok := event.ParseSeconds(dur)
		if !ok {
			return fail(ReasonBadDuration, "duration", 0)
		}
		r.RequestTime = d
	case jsonscan.String:
		d, err := time.ParseDuration(string(dur[1 : len(dur)-1]))
		if err != nil || d < 0 {
			return fail(ReasonBadDuration, "duration", 0)
		}
		r.RequestTime = d.Truncate(time.Microsecond)
	default:
		return fail(ReasonBadDuration, "duration", 0)
	}
	if len(user) > 2 {
		if r.User, err = jsonString(user); err != nil {
			return fail(ReasonBadJSON, "user_id", 0)
		}
	}
	return nil
}

// caddyHeaders takes User-Agent, Referer and X-Forwarded-For from Caddy's
// request headers, each an array of strings (the first value is kept).
func caddyHeaders(h []byte, r *event.Raw) error {
	return jsonscan.EachMember(h, func(key []byte, kind jsonscan.Kind, v []byte) error {
		var dst *string
		switch {
		case bytes.EqualFold(key, []byte("User-Agent")):
			dst = &r.UserAgent
		case bytes.EqualFold(key, []byte("Referer")):
			dst = &r.Referrer
		case bytes.EqualFold(key, []byte("X-Forwarded-For")):
			dst = &r.ForwardedFor
		default:
			return nil
		}
		if kind != jsonscan.Array {
			return nil
		}
		first := true
		return jsonscan.EachElement(v, func(kind jsonscan.Kind, e []byte) error {
			if !first || kind != jsonscan.String {
				return nil
			}
			first = false
			s, err := jsonString(e)
			*dst = s
			return err
		})
	})
}

// jsonString decodes a JSON string value.
func jsonString(v []byte) (string, error) {
	if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 && bytes.IndexByte(v, 0x7f) < 0 && utf8.Valid(v) {
		return string(v[1 : len(v)-1]), nil
	}
	b, err := jsonscan.AppendUnquoteLog(nil, v)
	return string(b), err
}

// unixSeconds parses fractional Unix seconds, such as Caddy's ts or
// nginx's $msec, to the microsecond.
func unixSeconds(b []byte) (time.Time, error) {
	d, ok := event.ParseSeconds(b)
	if !ok || d < 0 || bytes.ContainsAny(b, ",:") {
		return time.Time{}, errors.New("not seconds")
	}
	return time.Unix(0, 0).Add(d).UTC(), nil
}
