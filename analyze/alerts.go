package analyze

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/metrics"
)

// AlertsBucket is the NATS KV bucket that remembers which offenders were
// alerted and when, so that a restarted (or second) `vakt run` does not
// alert them again within the rule's window. Keys are hashes of the alert
// id's parts (rule, site, scope, pseudonymous offender id, epoch); values
// are the time of the alert. Entries expire after the longest rule window.
// Its NATS user, vakt_ops, may use it (bus.Users).
const AlertsBucket = bus.AlertsBucket

// AlertSchema names the version of the alert message format.
const AlertSchema = "vakt.alert/v1"

// HeaderAlertID carries Alert.ID on the NATS message, for consumers that
// store alerts in a stream with deduplication.
const HeaderAlertID = "Vakt-Alert-Id"

// Alert is the JSON message published on vakt.alerts.<site> (and POSTed to
// the webhook) for each new offender, once per rule window. See
// analyze/rules/README.md for the schema.
type Alert struct {
	Schema      string             `json:"schema"`      // AlertSchema
	ID          string             `json:"id"`          // stable for one offender of one rule in one window
	Time        time.Time          `json:"time"`        // when the rule caught it
	Rule        string             `json:"rule"`        // rule name
	Category    string             `json:"category"`    // e.g. brute_force
	Severity    int                `json:"severity"`    // 1 to 5
	Description string             `json:"description"` // the rule's
	Scope       string             `json:"scope"`       // client, network or asn
	Site        string             `json:"site"`
	Offender    string             `json:"offender"` // pseudonymous client or network id, or the ASN
	Epoch       uint32             `json:"epoch"`    // salt epoch of a client or network id
	Requests    uint64             `json:"requests"` // in the window
	Evidence    map[string]float64 `json:"evidence"`
	FirstSeen   time.Time          `json:"first_seen"`
	LastSeen    time.Time          `json:"last_seen"`
	WindowStart time.Time          `json:"window_start"`
	WindowEnd   time.Time          `json:"window_end"`
	Country     string             `json:"country,omitempty"`
	ASN         uint32             `json:"asn,omitempty"`
	// Signatures name the exploit or probe signatures matched, with CVEs.
	Signatures []string `json:"signatures,omitempty"`
}

// NewAlert makes the alert for an offender caught by rule r over the
// window [start, end).
func NewAlert(r Rule, o Offender, start, end time.Time) Alert {
	ev := make(map[string]float64, len(o.Evidence))
	for k, v := range o.Evidence {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ev[k] = v
		}
	}
	return Alert{
		Schema: AlertSchema, ID: alertKey(r.Name, o), Time: end.UTC(),
		Rule: r.Name, Category: r.Category, Severity: r.Severity, Description: r.Description, Scope: o.Scope,
		Site: o.Site, Offender: o.ID, Epoch: o.Epoch, Requests: o.Requests, Evidence: ev,
		FirstSeen: o.FirstSeen.UTC(), LastSeen: o.LastSeen.UTC(), WindowStart: start.UTC(), WindowEnd: end.UTC(),
		Country: o.Country, ASN: o.ASN, Signatures: o.Signatures,
	}
}

// alertKey identifies an offender of a rule: a hash, usable as a KV key,
// of rule, site, scope, id and epoch.
// AlertKey is the key under which the alerts bucket remembers an alert on
// o by rule: `vakt subject erase` forgets an erased client's.
func AlertKey(rule string, o Offender) string { return alertKey(rule, o) }

func alertKey(rule string, o Offender) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%d", rule, o.Site, o.Scope, o.ID, o.Epoch))
	return hex.EncodeToString(h[:16])
}

// Alerter is the alert loop of `vakt run`: every interval it runs each rule
// over its window and publishes each offender not alerted within that
// window.
type Alerter struct {
	rules    []Rule
	conn     driver.Conn
	db       string
	nc       *nats.Conn
	kv       jetstream.KeyValue  // nil: memory only
	js       jetstream.JetStream // reads the restriction list; nil: none
	interval time.Duration
	hook     *webhook
	log      *slog.Logger
	m        *metrics.Pipeline
	now      func() time.Time

	mu   sync.Mutex
	sent map[string]time.Time // alert key → when alerted

	// actions carries out the rules' actions (bans); nil: alerts only.
	actions ActionSink
}

// ActionSink carries out a rule's action for a new offender: in `vakt
// run`, a decision in the decisions bucket that every decision endpoint
// enforces (enforce/).
type ActionSink interface {
	Ban(ctx context.Context, al Alert, a Action) error
}

// SetActions makes the alerter carry out the rules' actions through s.
func (a *Alerter) SetActions(s ActionSink) { a.actions = s }

// Config configures the analysis stage's alert loop (the alerts and rules
// sections of the configuration).
type Config struct {
	// Database holds the store's tables (clickhouse.database).
	Database string
	// RuleDirs add to or override the built-in rules (rules.dir).
	RuleDirs []string
	// Interval between evaluations of every rule (alerts.interval).
	Interval time.Duration
	// WebhookURL, if set, receives each alert as a POST; WebhookTimeout
	// bounds each attempt, WebhookRetries counts further attempts.
	WebhookURL     string
	WebhookTimeout time.Duration
	WebhookRetries int
	// BucketReplicas are the replicas of AlertsBucket (streams.replicas).
	BucketReplicas int
}

// New loads the rules and sets up the KV bucket and the webhook. js may be
// nil: alerts are then remembered in memory only.
func New(ctx context.Context, cfg Config, ch driver.Conn, nc *nats.Conn, js jetstream.JetStream, log *slog.Logger, m *metrics.Pipeline) (*Alerter, error) {
	rules, err := LoadRules(cfg.RuleDirs...)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	a := &Alerter{
		rules: rules, conn: ch, db: cfg.Database, nc: nc, js: js, interval: cfg.Interval,
		log: log.With("stage", "alerts"), m: m, now: time.Now, sent: map[string]time.Time{},
	}
	if js != nil {
		ttl := time.Duration(0)
		for _, r := range rules {
			ttl = max(ttl, r.Window)
		}
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      AlertsBucket,
			Description: "alerts already published: hashed rule, site and pseudonymous offender id → time",
			History:     1,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.BucketReplicas,
		})
		if err != nil {
			// Alerting still works; a restart may repeat an alert.
			a.log.Warn("alerts remembered in memory only", "bucket", AlertsBucket, "err", err)
		} else {
			a.kv = kv
		}
	}
	if cfg.WebhookURL != "" {
		a.hook = newWebhook(cfg.WebhookURL, cfg.WebhookTimeout, cfg.WebhookRetries, a.log, m)
	}
	return a, nil
}

// Rules returns the rules the alerter evaluates.
func (a *Alerter) Rules() []Rule { return a.rules }

// Run evaluates the rules every interval until ctx ends. Failing rules are
// logged and counted, never fatal: the pipeline matters more.
func (a *Alerter) Run(ctx context.Context) error {
	a.log.Info("alert loop started", "rules", len(a.rules), "interval", a.interval, "webhook", a.hook != nil)
	var wg sync.WaitGroup
	if a.hook != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.hook.run(ctx) }()
	}
	wg.Go(func() { a.keepLoop(ctx) })
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		a.Evaluate(ctx)
		select {
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Evaluate runs every rule once and publishes the new offenders. It
// returns how many alerts it published.
func (a *Alerter) Evaluate(ctx context.Context) int {
	now := a.now().UTC()
	published := 0
	if a.js != nil {
		// Restricted clients raise no alert; without the list, none is
		// raised this round rather than one about a restricted client.
		var err error
		if ctx, err = LoadRestricted(ctx, a.js); err != nil {
			a.log.Warn("alerts skipped this round", "err", err)
			return 0
		}
	}
	for _, r := range a.rules {
		if ctx.Err() != nil {
			return published
		}
		start := now.Add(-r.Window)
		t0 := time.Now()
		offs, err := r.Offenders(ctx, a.conn, a.db, Filter{Since: start, Until: now})
		a.m.RuleDuration.WithLabelValues(r.Name).Observe(time.Since(t0).Seconds())
		if err != nil {
			if ctx.Err() == nil {
				a.m.RuleErrors.WithLabelValues(r.Name).Inc()
				a.log.Warn("rule failed", "rule", r.Name, "err", err)
			}
			continue
		}
		for _, o := range offs {
			al := NewAlert(r, o, start, now)
			if !a.claim(ctx, al.ID, now, r.Window) {
				continue
			}
			if err := a.publish(al); err != nil {
				a.forget(ctx, al.ID)
				a.log.Warn("publish alert", "rule", r.Name, "site", o.Site, "err", err)
				continue
			}
			published++
			a.act(ctx, r, al)
		}
	}
	if published > 0 {
		if err := a.nc.FlushTimeout(5 * time.Second); err != nil {
			a.log.Warn("flush alerts", "err", err)
		}
		a.log.Info("alerts published", "count", published)
	}
	return published
}

// claim reports whether the alert key is new within window, and records it
// (in memory and the KV bucket) if so. With a KV bucket, of several vakt
// processes evaluating the same rules exactly one claims each alert.
func (a *Alerter) claim(ctx context.Context, key string, now time.Time, window time.Duration) bool {
	a.mu.Lock()
	last, ok := a.sent[key]
	a.mu.Unlock()
	if ok && now.Sub(last) < window {
		return false
	}
	if a.kv != nil {
		val := []byte(now.Format(time.RFC3339Nano))
		e, err := a.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = a.kv.Create(ctx, key, val)
		case err == nil:
			if t, perr := time.Parse(time.RFC3339Nano, string(e.Value())); perr == nil && now.Sub(t) < window {
				a.remember(key, t)
				return false
			}
			_, err = a.kv.Update(ctx, key, val, e.Revision())
		}
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				// Another process claimed it first.
				a.remember(key, now)
				return false
			}
			// The bucket is unreachable: alert anyway, remember in memory.
			a.log.Warn("alerts bucket", "err", err)
		}
	}
	a.remember(key, now)
	// Forget what no window can still cover.
	a.mu.Lock()
	for k, t := range a.sent {
		if now.Sub(t) > 7*24*time.Hour {
			delete(a.sent, k)
		}
	}
	a.mu.Unlock()
	return true
}

func (a *Alerter) remember(key string, t time.Time) {
	a.mu.Lock()
	a.sent[key] = t
	a.mu.Unlock()
}

// forget undoes a claim whose alert could not be published, so the next
// evaluation tries again.
func (a *Alerter) forget(ctx context.Context, key string) {
	a.mu.Lock()
	delete(a.sent, key)
	a.mu.Unlock()
	if a.kv != nil {
		_ = a.kv.Purge(ctx, key)
	}
}

func (a *Alerter) publish(al Alert) error {
	b, err := json.Marshal(al)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: bus.AlertsSubject(al.Site), Data: b, Header: nats.Header{}}
	msg.Header.Set(HeaderAlertID, al.ID)
	if err := a.nc.PublishMsg(msg); err != nil {
		return err
	}
	a.m.AlertsPublished.WithLabelValues(al.Rule, al.Site).Inc()
	if a.hook != nil {
		a.hook.enqueue(b)
	}
	return nil
}

// act carries out r's action for a new offender, once per alert: a ban
// outlives the alert loop's window only if its duration says so.
func (a *Alerter) act(ctx context.Context, r Rule, al Alert) {
	if a.actions == nil || !r.Action.Bans() {
		return
	}
	if err := a.actions.Ban(ctx, al, r.Action); err != nil {
		a.log.Warn("rule action", "rule", r.Name, "site", al.Site, "action", r.Action.String(), "err", err)
	}
}
