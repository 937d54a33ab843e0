package event

// Reject reasons: the one list of why a line, record or batch is refused.
// They are the "reason" label of metrics.Pipeline.Rejected and appear in logs
// and quarantine samples, so each is a stable snake_case name that never
// changes meaning, whichever stage or path (text line, syslog, JSON contract)
// reported it. The parsers (logformat), the JSON contract (this package),
// ingest and the pseudonymiser all use these constants.
const (
	// Reasons of a single line or record, reported by the parsers and by
	// the JSON contract alike.
	ReasonEmpty        = "empty"         // nothing but white space
	ReasonTooLong      = "too_long"      // longer than the line limit
	ReasonInvalidUTF8  = "invalid_utf8"  // not valid UTF-8 (servers escape other bytes)
	ReasonBadFormat    = "bad_format"    // fields missing, misplaced, unterminated or of the wrong type
	ReasonBadIP        = "bad_ip"        // client address is not an IP (or has a zone)
	ReasonBadTimestamp = "bad_timestamp" // missing, unreadable or out of range time
	ReasonBadRequest   = "bad_request"   // unparseable request line with control characters
	ReasonBadStatus    = "bad_status"    // status is not a number from 0 to 999
	ReasonBadBytes     = "bad_bytes"     // size is neither "-" nor a non-negative integer that fits 64 bits
	ReasonBadDuration  = "bad_duration"  // request or upstream time is not seconds
	ReasonBadJSON      = "bad_json"      // not JSON, or not an object where one is needed
	// ReasonOther is an error from elsewhere than a parser.
	ReasonOther = "other"

	// Reasons of ingest.
	ReasonPastRetention   = "past_retention"   // older than ingest's max_age
	ReasonFutureTimestamp = "future_timestamp" // later than now + ingest's max_future
	ReasonBadSyslog       = "bad_syslog"       // a syslog header that is not syslog, or a broken frame
	ReasonRawStreamFull   = "raw_stream_full"  // dropped because the RAW stream was full (when_full: drop)

	// Reasons of the pseudonymiser.
	ReasonCorruptBatch = "corrupt_batch" // a RAW message that does not decode
	ReasonInvalidIP    = "invalid_ip"    // a decoded record whose client address is not an IP
	ReasonTooLarge     = "too_large"     // a pseudonymised batch over the stream's message limit
	// ReasonInvalidJSON is a JSON message (docs/nats-contract.md) that is
	// not valid JSON. Records of a valid JSON message are rejected with the
	// line reasons above instead (bad_ip, bad_timestamp...).
	ReasonInvalidJSON = "invalid_json"
)
