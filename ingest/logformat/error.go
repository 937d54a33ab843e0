package logformat

import (
	"errors"
	"strconv"

	"github.com/vakt-dev/vakt/internal/event"
)

// Reason is a stable, snake_case name for why a line was rejected. Reasons
// are metric label values and appear in logs, so they never change meaning.
type Reason string

// Reasons a line can be rejected for.
const (
	ReasonEmpty        Reason = "empty"         // nothing but white space
	ReasonTooLong      Reason = "too_long"      // longer than MaxLineBytes
	ReasonInvalidUTF8  Reason = "invalid_utf8"  // not valid UTF-8 (servers escape other bytes)
	ReasonBadFormat    Reason = "bad_format"    // fields missing, misplaced or unterminated
	ReasonBadIP        Reason = "bad_ip"        // client address is not an IP (or has a zone)
	ReasonBadTimestamp Reason = "bad_timestamp" // not [02/Jan/2006:15:04:05 -0700] or out of range
	ReasonBadRequest   Reason = "bad_request"   // unparseable request line with control characters
	ReasonBadStatus    Reason = "bad_status"    // status is not three digits
	ReasonBadBytes     Reason = "bad_bytes"     // size is neither "-" nor a number that fits 64 bits
	ReasonBadDuration  Reason = "bad_duration"  // request or upstream time is not seconds
	ReasonBadJSON      Reason = "bad_json"      // a JSON format's line is not a JSON object

	// ReasonOther is what ReasonOf returns for an error from elsewhere.
	ReasonOther Reason = "other"
)

// Reasons returns every Reason a Parser can report, for example to
// initialise metric label values.
func Reasons() []Reason {
	return []Reason{
		ReasonEmpty, ReasonTooLong, ReasonInvalidUTF8, ReasonBadFormat, ReasonBadIP,
		ReasonBadTimestamp, ReasonBadRequest, ReasonBadStatus, ReasonBadBytes,
		ReasonBadDuration, ReasonBadJSON,
	}
}

// Error describes a rejected line. It deliberately carries no part of the
// line: lines hold client IPs and errors end up in logs.
type Error struct {
	Reason Reason
	Field  string // the field being parsed, e.g. "timestamp"
	Pos    int    // byte offset in the line where parsing failed
}

func (e *Error) Error() string {
	return "logformat: " + string(e.Reason) + ": field " + e.Field + " at byte " + strconv.Itoa(e.Pos)
}

// ReasonOf returns the Reason of a *Error (or of an *event.RecordError,
// whose reasons are the same strings) in err's chain, ReasonOther for any
// other error and "" for nil.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	var re *event.RecordError
	if errors.As(err, &re) {
		return Reason(re.Reason)
	}
	return ReasonOther
}

func fail(reason Reason, field string, pos int) error {
	return &Error{Reason: reason, Field: field, Pos: pos}
}
