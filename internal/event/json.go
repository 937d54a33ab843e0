package event

import (
	"errors"
	"net/netip"
	"time"

	"github.com/vakt-dev/vakt/internal/jsonscan"
)

// The JSON contract (docs/nats-contract.md): besides protobuf batches, a
// message on vakt.raw.<site> may be JSON written by any shipper. This file
// decodes it into Raw records.

// A JSON record is rejected with the line reasons of reason.go (bad_json,
// bad_format, bad_ip...), the same strings as logformat's, so that a metric
// means one thing whichever path a line took.

// RecordError describes a rejected JSON record. Like logformat.Error it
// carries no content: only the reason and the field it concerns.
type RecordError struct {
	Reason string // one of the line reasons of reason.go
	Field  string // the contract field, e.g. "client_ip"
}

func (e *RecordError) Error() string { return "event: json record: " + e.Reason + ": field " + e.Field }

func recErr(reason, field string) error { return &RecordError{Reason: reason, Field: field} }

// ErrJSON is wrapped by RangeJSON's error for a message that is not valid
// JSON at all: none of its records can be trusted.
var ErrJSON = errors.New("event: invalid JSON message")

// JSONOptions tune DecodeJSON and RangeJSON.
type JSONOptions struct {
	// ParseLine, when set, parses records that carry a whole access-log
	// line (key "message", "log" or "line") and no client address: what
	// Vector's file source and Fluent Bit's tail input produce without a
	// parser. Without it such records are rejected.
	ParseLine func(line []byte, r *Raw) error
	// DefaultTime stamps records that carry no time of their own (for
	// example the time JetStream stored the message). Zero rejects them.
	DefaultTime time.Time
}

// IsJSON reports whether a RAW-stream message body is JSON rather than a
// protobuf batch. A batch starts with the tag byte 0x0a, which is also a
// newline: so a body starting with 0x0a is a batch, whatever follows (the
// next byte is a record length, and may well be '{' or '['). JSON starts
// with '{' or '[', after optional spaces, tabs or carriage returns.
func IsJSON(msg []byte) bool {
	for _, c := range msg {
		switch c {
		case ' ', '\t', '\r':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// RangeJSON decodes a JSON message and calls fn once per record, with the
// decoded record or the reason it was rejected (a *RecordError, or an
// error of opt.ParseLine). r is reused between calls. A message is one of:
//
//   - one object, or several separated by white space (NDJSON);
//   - an array of objects;
//   - an array of [time, object] pairs, as Fluent Bit's NATS output sends;
//     the time (Unix seconds) stamps a record that has none.
//
// A message that is not valid JSON returns an error wrapping ErrJSON
// before fn sees any of its records: the whole message is checked first.
// An error from fn stops the walk and is returned.
func RangeJSON(msg []byte, opt *JSONOptions, fn func(r *Raw, err error) error) error {
	if opt == nil {
		opt = &JSONOptions{}
	}
	var r Raw
	b := jsonscan.SkipSpace(msg)
	if len(b) == 0 {
		return wrapJSON(&jsonscan.Error{Pos: 0, Msg: "empty message"})
	}
	if b[0] == '[' {
		kind, arr, rest, err := jsonscan.Value(b)
		if err != nil {
			return wrapJSON(err)
		}
		if len(jsonscan.SkipSpace(rest)) != 0 || kind != jsonscan.Array {
			return wrapJSON(&jsonscan.Error{Pos: len(b) - len(rest), Msg: "data after array"})
		}
		return jsonscan.EachElement(arr, func(kind jsonscan.Kind, v []byte) error {
			switch kind {
			case jsonscan.Object:
				return fn(&r, DecodeJSON(v, opt, &r))
			case jsonscan.Array:
				return fn(&r, decodeTimedPair(v, opt, &r))
			}
			return fn(&r, recErr(ReasonBadJSON, "record"))
		})
	}
	// One object or several: check them all before decoding any.
	for p := b; len(p) > 0; {
		kind, _, rest, err := jsonscan.Value(p)
		if err != nil {
			return wrapJSON(err)
		}
		if kind != jsonscan.Object {
			return wrapJSON(&jsonscan.Error{Pos: len(msg) - len(p), Msg: "expected object"})
		}
		p = jsonscan.SkipSpace(rest)
	}
	for len(b) > 0 {
		_, obj, rest, _ := jsonscan.Value(b)
		if err := fn(&r, DecodeJSON(obj, opt, &r)); err != nil {
			return err
		}
		b = jsonscan.SkipSpace(rest)
	}
	return nil
}

func wrapJSON(err error) error { return errors.Join(ErrJSON, err) }

// decodeTimedPair decodes Fluent Bit's [time, {record}].
func decodeTimedPair(pair []byte, opt *JSONOptions, r *Raw) error {
	var (
		ts   time.Time
		obj  []byte
		n    int
		errT error
	)
	err := jsonscan.EachElement(pair, func(kind jsonscan.Kind, v []byte) error {
		switch n++; n {
		case 1:
			if kind != jsonscan.Number {
				errT = recErr(ReasonBadTimestamp, "time")
				return nil
			}
			ts, errT = numberTime(v)
		case 2:
			if kind == jsonscan.Object {
				obj = v
			}
		}
		return nil
	})
	if err != nil || n != 2 || obj == nil {
		return recErr(ReasonBadJSON, "record")
	}
	o := *opt
	if errT == nil {
		o.DefaultTime = ts
	}
	return DecodeJSON(obj, &o, r)
}

// Contract fields. Each JSON key maps to one of them; several keys may map
// to the same field (the vakt name, nginx's variable name, common shipper
// names), and then the one with the lowest rank wins.
type jsonField uint8

const (
	fNone jsonField = iota
	fClient
	fTime
	fMethod
	fTarget
	fProtocol
	fRequest
	fStatus
	fBytes
	fReferrer
	fUserAgent
	fRequestTime
	fUpstreamTime
	fHost
	fForwardedFor
	fUser
	fSite
	fLine
	nFields
)

var fieldNames = [nFields]string{
	fClient: "client_ip", fTime: "ts", fMethod: "method", fTarget: "target", fProtocol: "protocol",
	fRequest: "request", fStatus: "status", fBytes: "bytes", fReferrer: "referrer", fUserAgent: "user_agent",
	fRequestTime: "request_time", fUpstreamTime: "upstream_time", fHost: "host", fForwardedFor: "x_forwarded_for",
	fUser: "user", fSite: "site", fLine: "message",
}

type jsonKey struct {
	field jsonField
	rank  uint8
}

// jsonKeys lists every key the decoder knows, in order of preference per
// field. docs/nats-contract.md documents the same table.
var jsonKeys = func() map[string]jsonKey {
	m := map[string]jsonKey{}
	add := func(f jsonField, keys ...string) {
		for i, k := range keys {
			m[k] = jsonKey{f, uint8(i)}
		}
	}
	add(fClient, "client_ip", "remote_addr", "remote_ip", "ip", "client", "remote")
	add(fTime, "ts", "time", "timestamp", "@timestamp", "time_iso8601", "time_local", "msec", "date")
	add(fMethod, "method", "request_method")
	add(fTarget, "target", "uri", "request_uri", "url", "path")
	add(fProtocol, "protocol", "server_protocol", "proto")
	add(fRequest, "request")
	add(fStatus, "status", "status_code", "code")
	add(fBytes, "bytes", "body_bytes_sent", "bytes_sent", "size")
	add(fReferrer, "referrer", "referer", "http_referer", "http_referrer")
	add(fUserAgent, "user_agent", "http_user_agent", "agent", "ua")
	add(fRequestTime, "request_time", "duration")
	add(fUpstreamTime, "upstream_time", "upstream_response_time")
	add(fHost, "host", "server_name", "http_host", "vhost")
	add(fForwardedFor, "x_forwarded_for", "http_x_forwarded_for", "forwarded_for")
	add(fUser, "user", "remote_user")
	add(fSite, "site")
	add(fLine, "message", "log", "line")
	return m
}()

// jsonVal is the raw value of one field and the rank of its key.
type jsonVal struct {
	kind jsonscan.Kind
	v    []byte
	rank uint8
	set  bool
}

// DecodeJSON decodes one JSON object into r, overwriting every field. The
// keys it reads are in docs/nats-contract.md; others are ignored. A record
// needs a client address and a time (or opt.DefaultTime); everything else
// is optional. "-" and "" mean absent, as nginx writes them. Bytes that
// are not UTF-8 (nginx's escape=json passes them through, as from a TLS
// handshake sent to a plain-HTTP port) become U+FFFD. Errors are
// *RecordError (or from opt.ParseLine) and never contain record content.
func DecodeJSON(obj []byte, opt *JSONOptions, r *Raw) error {
	if opt == nil {
		opt = &JSONOptions{}
	}
	var vals [nFields]jsonVal
	err := jsonscan.EachMember(obj, func(key []byte, kind jsonscan.Kind, v []byte) error {
		k, ok := jsonKeys[string(key)]
		if !ok {
			return nil
		}
		if kind == jsonscan.Null || (kind == jsonscan.String && isAbsent(v)) {
			return nil
		}
		if cur := &vals[k.field]; !cur.set || k.rank < cur.rank {
			*cur = jsonVal{kind: kind, v: v, rank: k.rank, set: true}
		}
		return nil
	})
	if err != nil {
		return recErr(ReasonBadJSON, "record")
	}
	*r = Raw{RequestTime: Unknown, UpstreamTime: Unknown}

	// A record that is itself a Caddy access-log entry (its request is an
	// object): parse it as the log line it is.
	caddy := !vals[fClient].set && vals[fRequest].kind == jsonscan.Object && opt.ParseLine != nil
	if !vals[fClient].set && (vals[fLine].set || caddy) {
		// A whole log line: parse it with the configured format.
		return decodeLineRecord(obj, &vals, caddy, opt, r)
	}
	if err := decodeClientTime(&vals, opt, r); err != nil {
		return err
	}
	if err := decodeRequestFields(&vals, r); err != nil {
		return err
	}
	return decodeDurations(&vals, r)
}

// decodeLineRecord decodes a record that carries a whole log line (or is
// a Caddy access-log entry) with the configured line parser.
func decodeLineRecord(obj []byte, vals *[nFields]jsonVal, caddy bool, opt *JSONOptions, r *Raw) error {
	var line []byte
	switch {
	case caddy:
		line = obj
	case opt.ParseLine == nil || vals[fLine].kind != jsonscan.String:
		return recErr(ReasonBadFormat, fieldNames[fClient])
	default:
		var err error
		if line, err = jsonscan.AppendUnquote(nil, vals[fLine].v); err != nil {
			return recErr(ReasonBadJSON, fieldNames[fLine])
		}
	}
	if err := opt.ParseLine(line, r); err != nil {
		return err
	}
	if vals[fSite].set {
		s, err := str(vals[fSite])
		if err != nil {
			return recErr(ReasonBadFormat, fieldNames[fSite])
		}
		r.Site = s
	}
	return nil
}

// decodeClientTime decodes the client address and the time of a record.
func decodeClientTime(vals *[nFields]jsonVal, opt *JSONOptions, r *Raw) error {
	// Client address.
	cv := vals[fClient]
	if !cv.set || cv.kind != jsonscan.String {
		return recErr(ReasonBadIP, fieldNames[fClient])
	}
	var buf [64]byte
	ipText, err := jsonscan.AppendUnquote(buf[:0], cv.v)
	if err != nil {
		return recErr(ReasonBadIP, fieldNames[fClient])
	}
	ip, err := netip.ParseAddr(string(ipText))
	if err != nil || ip.Zone() != "" {
		return recErr(ReasonBadIP, fieldNames[fClient])
	}
	r.ClientIP = ip

	// Time.
	if tv := vals[fTime]; tv.set {
		t, err := jsonTime(tv)
		if err != nil {
			return err
		}
		r.Time = t
	} else if !opt.DefaultTime.IsZero() {
		r.Time = opt.DefaultTime.UTC()
	} else {
		return recErr(ReasonBadTimestamp, fieldNames[fTime])
	}

	return nil
}

// decodeRequestFields decodes the request, the other string fields, the
// status and the size of a record.
func decodeRequestFields(vals *[nFields]jsonVal, r *Raw) error {
	// Request: separate fields win over a request line.
	strField := func(f jsonField, dst *string) error {
		if !vals[f].set {
			return nil
		}
		s, err := str(vals[f])
		if err != nil {
			return recErr(ReasonBadFormat, fieldNames[f])
		}
		*dst = s
		return nil
	}
	if vals[fRequest].set && !vals[fMethod].set && !vals[fTarget].set {
		line, err := str(vals[fRequest])
		if err != nil {
			return recErr(ReasonBadFormat, fieldNames[fRequest])
		}
		r.Method, r.Target, r.Protocol = SplitRequest(line)
	}
	for _, f := range []struct {
		f   jsonField
		dst *string
	}{
		{fMethod, &r.Method}, {fTarget, &r.Target}, {fProtocol, &r.Protocol}, {fReferrer, &r.Referrer},
		{fUserAgent, &r.UserAgent}, {fHost, &r.Host}, {fForwardedFor, &r.ForwardedFor}, {fUser, &r.User},
		{fSite, &r.Site},
	} {
		if err := strField(f.f, f.dst); err != nil {
			return err
		}
	}
	if sv := vals[fStatus]; sv.set {
		n, ok := uintValue(sv)
		if !ok || n > 999 {
			return recErr(ReasonBadStatus, fieldNames[fStatus])
		}
		r.Status = uint16(n)
	}
	if bv := vals[fBytes]; bv.set {
		n, ok := uintValue(bv)
		if !ok {
			return recErr(ReasonBadBytes, fieldNames[fBytes])
		}
		r.Bytes = n
	}
	return nil
}

// decodeDurations decodes the request and upstream times of a record.
func decodeDurations(vals *[nFields]jsonVal, r *Raw) error {
	for _, d := range []struct {
		f   jsonField
		dst *time.Duration
	}{{fRequestTime, &r.RequestTime}, {fUpstreamTime, &r.UpstreamTime}} {
		v := vals[d.f]
		if !v.set {
			continue
		}
		var (
			dur time.Duration
			ok  bool
		)
		switch v.kind {
		case jsonscan.Number:
			dur, ok = ParseSeconds(v.v)
		case jsonscan.String:
			dur, ok = ParseSeconds(v.v[1 : len(v.v)-1])
		}
		if !ok {
			return recErr(ReasonBadDuration, fieldNames[d.f])
		}
		*d.dst = dur
	}
	return nil
}
