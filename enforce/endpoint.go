package enforce

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/httpguard"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// Request headers the web server snippets (configs/) send.
const (
	// HeaderKey carries the shared secret (enforce.auth: key). A header of
	// its own rather than Authorization, which forward_auth passes through
	// from the client.
	HeaderKey = "X-Vakt-Key"
	// HeaderSite names the site; without it X-Forwarded-Host is used.
	HeaderSite = "X-Vakt-Site"
	// HeaderDenyStatus: 403 asks for every denial as 403 (nginx
	// auth_request knows only 401 and 403), with the status meant in
	// HeaderStatus.
	HeaderDenyStatus = "X-Vakt-Deny-Status"
	// HeaderStatus, on a denial, is the status meant: 403 or 429.
	HeaderStatus = "X-Vakt-Status"
)

// Verdicts, as counted.
const (
	verdictAllow     = "allow"
	verdictDeny      = "deny"
	verdictAllowList = "allow_list"
	verdictUndecided = "undecided"
)

// Periods of the endpoint's background work.
const (
	refreshEvery = time.Second     // salts schedule, keys, expired decisions
	flushEvery   = 5 * time.Second // hit counters to the bucket
)

// Endpoint answers the web servers' decision requests.
type Endpoint struct {
	cfg       Config
	key       string // shared secret; empty with auth none
	keyBytes  []byte // key, for the constant-time comparison
	proxies   pseudonymize.TrustedProxies
	allow     []netip.Prefix
	geo       *pseudonymize.GeoIP // nil: AS decisions never match
	decisions *Decisions
	set       *decisionSet
	ring      *keyring
	guard     *httpguard.Guard
	m         *metrics.Enforce
	log       *slog.Logger
	now       func() time.Time

	answers map[string]prometheus.Counter // by verdict, resolved once

	carryMu  sync.Mutex
	carrying map[string]bool // old key + new epoch: carries under way or done
	carries  chan carry
}

// Deps are what an Endpoint runs on.
type Deps struct {
	// JS is a connection as vakt_enforce (bus.StageEnforce): it may read
	// the salts and use the decisions bucket, nothing else.
	JS jetstream.JetStream
	// Pseudonymize is the pseudonymize section: the epoch length and
	// grace of the salts, and trusted_proxies.
	Pseudonymize pseudonymize.Config
	// GeoIP resolves an address's AS for AS decisions; nil: none match.
	GeoIP *pseudonymize.GeoIP
	// Key is the shared secret (enforce.auth: key).
	Key string
	// Replicas of the decisions bucket (streams.replicas).
	Replicas int
	Metrics  *metrics.Enforce
	Log      *slog.Logger
}

// New checks cfg, reads the salt schedule and opens the decisions bucket.
func New(ctx context.Context, cfg Config, d Deps) (*Endpoint, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Problems().Err(""); err != nil {
		return nil, err
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("stage", "enforce")
	proxies, err := pseudonymize.ParseTrustedProxies(d.Pseudonymize.TrustedProxies)
	if err != nil {
		return nil, err
	}
	allow, err := ParseAllow(cfg.Allow)
	if err != nil {
		return nil, err
	}
	salts, err := pseudonymize.NewSaltReader(ctx, d.JS, d.Pseudonymize, log)
	if err != nil {
		return nil, err
	}
	ds, err := OpenDecisions(ctx, d.JS, d.Replicas)
	if err != nil {
		return nil, err
	}
	m := d.Metrics
	if m == nil {
		m = metrics.NewEnforce(prometheus.NewRegistry())
	}
	e := &Endpoint{
		cfg: cfg, key: d.Key, proxies: proxies, allow: allow, geo: d.GeoIP, decisions: ds,
		m: m, log: log, now: time.Now, carrying: map[string]bool{}, carries: make(chan carry, 256),
		guard: httpguard.New(httpguard.Options{Listen: cfg.Listen, AllowedHosts: cfg.AllowedHosts}),
	}
	if cfg.Auth == "none" {
		e.key = ""
	}
	e.keyBytes = []byte(e.key)
	e.answers = map[string]prometheus.Counter{}
	for _, v := range []string{verdictAllow, verdictDeny, verdictAllowList} {
		e.answers[v] = m.Answers.WithLabelValues(v)
	}
	e.set = newDecisionSet(e.now, func(per map[string]int) {
		for scope, n := range per {
			m.Active.WithLabelValues(scope).Set(float64(n))
		}
	})
	e.ring = newKeyring(salts, log, e.now)
	return e, nil
}

// Decisions is the bucket the endpoint reads.
func (e *Endpoint) Decisions() *Decisions { return e.decisions }

// verdict is the answer to one request.
type verdict struct {
	deny    *entry // nil: allow
	outcome string
}

// Decide answers for a request from ip to site: the decision that denies
// it, if any. The address is used for the ids and dropped.
func (e *Endpoint) decide(site string, ip netip.Addr) verdict {
	sn := e.set.load()
	if !sn.loaded {
		return verdict{outcome: verdictUndecided + ":starting"}
	}
	if !ip.IsValid() {
		return verdict{outcome: verdictUndecided + ":no_address"}
	}
	ip = ip.Unmap()
	for _, p := range e.allow {
		if p.Contains(ip) {
			return verdict{outcome: verdictAllowList}
		}
	}
	if len(sn.byID) == 0 {
		return verdict{outcome: verdictAllow}
	}
	now := e.now()
	cur := e.ring.current.Load()
	usable := 0
	for _, epoch := range sn.epochs {
		keys := e.ring.keys(epoch)
		if keys == nil {
			continue
		}
		usable++
		if sn.client {
			if en := sn.byID[idKey{codeClient, epoch, keys.ClientID(ip)}]; en != nil && en.active(site, now) {
				e.carryIfOld(en, cur, ip)
				return verdict{deny: en, outcome: verdictDeny}
			}
		}
		if sn.network {
			if en := sn.byID[idKey{codeNetwork, epoch, keys.NetworkID(ip)}]; en != nil && en.active(site, now) {
				e.carryIfOld(en, cur, ip)
				return verdict{deny: en, outcome: verdictDeny}
			}
		}
	}
	if usable == 0 && len(sn.epochs) > 0 && !sn.anyASN {
		// Decisions of epochs whose salts this endpoint cannot read (not
		// yet loaded, or destroyed): nothing could match.
		return verdict{outcome: verdictUndecided + ":no_salt"}
	}
	if sn.anyASN && e.geo != nil {
		var ev event.Event
		e.geo.Enrich(ip, &ev)
		if ev.ASN != 0 {
			if en := sn.byID[idKey{codeASN, 0, uint64(ev.ASN)}]; en != nil && en.active(site, now) {
				return verdict{deny: en, outcome: verdictDeny}
			}
		}
	}
	return verdict{outcome: verdictAllow}
}

// count records the verdict and the latency.
func (e *Endpoint) count(outcome string, took time.Duration) {
	if c := e.answers[outcome]; c != nil {
		c.Inc() // the usual verdicts: no label lookup per answer
	} else if verdict, reason, ok := strings.Cut(outcome, ":"); ok {
		e.m.Answers.WithLabelValues(verdict).Inc()
		e.m.Undecided.WithLabelValues(reason).Inc()
	} else {
		e.m.Answers.WithLabelValues(outcome).Inc()
	}
	e.m.Latency.Observe(took.Seconds())
	if took > e.cfg.SlowAnswer {
		e.m.SlowAnswers.Inc()
	}
}
