package logformat

import (
	"errors"
	"strconv"

	"github.com/vakt-dev/vakt/internal/event"
)

// Reason is a stable, snake_case name for why a line was rejected. Reasons
// are metric label values and appear in logs, so they never change meaning.
type Reason string

// Reasons a line can be rejected for: the line reasons of the one list in
// internal/event, typed for this package.
const (
	ReasonEmpty        Reason = event.ReasonEmpty
	ReasonTooLong      Reason = event.ReasonTooLong
	ReasonInvalidUTF8  Reason = event.ReasonInvalidUTF8
	ReasonBadFormat    Reason = event.ReasonBadFormat
	ReasonBadIP        Reason = event.ReasonBadIP
	ReasonBadTimestamp Reason = event.ReasonBadTimestamp
	ReasonBadRequest   Reason = event.ReasonBadRequest
	ReasonBadStatus    Reason = event.ReasonBadStatus
	ReasonBadBytes     Reason = event.ReasonBadBytes
	ReasonBadDuration  Reason = event.ReasonBadDuration
	ReasonBadJSON      Reason = event.ReasonBadJSON

	// ReasonOther is what ReasonOf returns for an error from elsewhere.
	ReasonOther Reason = event.ReasonOther
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
