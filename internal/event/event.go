// Package event defines the one schema the stages exchange over NATS: Raw
// requests (with the client IP, between ingest and pseudonymize) and
// pseudonymised Events (between pseudonymize and store).
//
// A NATS message carries a batch of records in protobuf wire format (see
// event.proto for the schema a non-Go consumer can compile). Batching many
// records per message is what makes the pipeline fast; the wire format keeps
// it language-neutral.
package event

import (
	"net/netip"
	"time"
)

// Unknown marks a duration the log line did not carry (for example
// $request_time in a format without it). Zero is a real measurement.
const Unknown time.Duration = -1

// Raw is one request as a web server logged it. It carries the client IP and
// so may only live in ingest, the RAW stream (memory storage) and the
// pseudonymiser's memory.
type Raw struct {
	Time     time.Time
	Site     string
	ClientIP netip.Addr
	// ForwardedFor is the X-Forwarded-For value when the format logs it;
	// honoured only for trusted proxies.
	ForwardedFor string
	User         string // remote user from the log line; dropped by pseudonymize
	Method       string
	Target       string // request target as logged: path and query string
	Protocol     string
	Status       uint16
	Bytes        uint64
	Referrer     string
	UserAgent    string
	Host         string
	RequestTime  time.Duration // Unknown when not logged
	UpstreamTime time.Duration // Unknown when not logged
}

// Event is one pseudonymised request as stored in ClickHouse. It never
// carries an IP address.
type Event struct {
	Time      time.Time
	Site      string
	ClientID  uint64 // keyed PRF of the IP under the epoch's salt
	NetworkID uint64 // keyed PRF of the /24 or /48 prefix under the same salt
	IPVersion uint8  // 4 or 6
	Epoch     uint32 // salt epoch the ids belong to
	Country   string // ISO 3166 code, empty when unknown
	ASN       uint32
	ASOrg     string
	Method    string
	Path      string
	Query     string // scrubbed by policy
	Protocol  string
	Status    uint16
	Bytes     uint64
	Referrer  string // scrubbed by policy
	UserAgent string
	Host      string
	// RequestTime and UpstreamTime are Unknown when not logged.
	RequestTime  time.Duration
	UpstreamTime time.Duration
	Flags        Flags // threat signals computed from raw content before scrubbing
	// Signature is the id of the exploit (else probe) signature the raw
	// request matched, empty when none.
	Signature string
}

// Flags are threat signals the pseudonymiser derives from content that is
// scrubbed before storage.
type Flags uint32

// Threat signal bits. Values are stored in ClickHouse; never renumber.
const (
	FlagSQLInjection Flags = 1 << iota
	FlagXSS
	FlagPathTraversal
	FlagEncodedPayload
	FlagSensitiveFile
	FlagBadUserAgent
	// FlagExploit: the request matched an exploit signature
	// (analyze/rules/signatures/exploit.yaml); Event.Signature names it.
	FlagExploit
	// FlagProbe: a path only scanners ask for (signatures/probe.yaml).
	FlagProbe
	// FlagAllowed: a crawler, monitor or git client by its user agent
	// (signatures/allow.yaml), which the probe rules leave alone.
	FlagAllowed
)
