// Package analyze is vakt's fourth stage: it answers the questions the
// security team and ops ask of the store (site health, threat detections
// over pseudonymous clients, top lists), runs the detection rules (YAML
// files embedded from rules/) for `vakt report` and the alert loop, and
// backs the dashboard (analyze/web), so each figure is computed in one
// place.
package analyze

import (
	"time"
)

// Filter narrows a report.
type Filter struct {
	Since, Until time.Time // [Since, Until); zero Until means now
	Site         string    // empty: every site
	// Bucket is the time bucket of health series (default: chosen from the
	// range, e.g. 1 minute for an hour, 1 hour for a week).
	Bucket time.Duration
}

// HealthPoint is one site's health in one time bucket.
type HealthPoint struct {
	Site                       string
	Time                       time.Time // bucket start
	Requests                   uint64
	RequestsPerSecond          float64
	Status2xx, Status3xx       uint64
	Status4xx, Status5xx       uint64
	ErrorRate                  float64 // 5xx / requests
	Bytes                      uint64
	P50, P95, P99              float64 // request time, seconds; NaN when not logged
	LatencyKnown               uint64  // requests that logged a request time
	ClientErrorRate            float64 // 4xx / requests
	StatusOther                uint64
	SlowestPaths, FailingPaths []PathStat
}

// PathStat is a path's share of requests, failures or latency.
type PathStat struct {
	Site     string
	Path     string
	Requests uint64
	Failures uint64  // 5xx (failing paths) or 4xx+5xx, as documented per list
	P95      float64 // seconds
}

// Health is `vakt report health`.
type Health struct {
	Filter Filter
	// Quantile is the ClickHouse function behind P50, P95 and P99:
	// QuantileExact, or QuantileTDigest for ranges of more than
	// ExactQuantileMaxRows requests.
	Quantile string
	// Source is where series and totals come from: SourceRequests, or the
	// per-minute rollup store.HealthTable for ranges too big or too old
	// for the requests table (Filter is then widened to whole minutes).
	Source string
	Series []HealthPoint // per site and bucket, ordered by site, time
	// Totals per site over the whole range.
	Totals       []HealthPoint
	FailingPaths []PathStat
	SlowestPaths []PathStat
}

// Offender is one client, network or AS caught by a rule.
type Offender struct {
	Rule     string // rule name, e.g. "sensitive-file-probe"
	Category string // e.g. "sensitive_file", "brute_force", "distributed"
	Scope    string // "client", "network" or "asn"
	Severity int    // the rule's, 1 to 5
	Site     string
	// ID is the pseudonymous client id, the network id, or the ASN, as text.
	ID        string
	Epoch     uint32 // salt epoch the id belongs to (client and network scope)
	Requests  uint64
	Evidence  map[string]float64 // the rule's named counts, e.g. distinct_404_paths
	FirstSeen time.Time
	LastSeen  time.Time
	Country   string
	ASN       uint32
	// Signatures are the exploit or probe signatures the offender's
	// requests matched, each as "id (CVE-...)" when it has a CVE, from a
	// rule's "signatures" column.
	Signatures []string
}

// Threats is `vakt report threats`.
type Threats struct {
	Filter    Filter
	Offenders []Offender // ordered by rule severity, then requests
	// Took is how long each rule's query ran, in the order run, to find
	// the rules that are slow on an installation's data.
	Took []RuleTime
	// Epochs is how the per-epoch rules' findings were come by.
	Epochs EpochUse `json:"-"`
}

// EpochUse says how a report came by its per-epoch rules' findings
// (epochcache.go): epochs read as kept, evaluated and kept, and the error
// that kept it from keeping them (a user that may not insert).
type EpochUse struct {
	Kept, Evaluated int
	// StageKept and StageEvaluated count epochs of the staged rules'
	// stages (Rule.EpochStage), summed over the rules.
	StageKept, StageEvaluated int
	KeepErr                   error
	PlanErr                   error // the epochs or kept findings could not be read
}

// RuleTime is how long one rule took.
type RuleTime struct {
	Rule string
	Took time.Duration
}

// TopEntry is one row of a top list.
type TopEntry struct {
	Key      string
	Label    string // e.g. the AS organisation of an ASN; often empty
	Requests uint64
	Share    float64
}

// Top is `vakt report top`: the biggest clients, networks, paths,
// countries, ASNs and user agents.
type Top struct {
	Filter     Filter
	Total      uint64 // requests in the range, the base of Share
	Clients    []TopEntry
	Networks   []TopEntry
	Paths      []TopEntry
	Countries  []TopEntry
	ASNs       []TopEntry
	UserAgents []TopEntry
}
