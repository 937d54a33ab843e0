// Package enforce is the decision endpoint: web servers (nginx
// auth_request, Caddy forward_auth, Traefik forwardAuth) ask it about each
// request's client address, and it answers allow or deny from the
// decisions in the NATS KV bucket vakt_decisions.
//
// Decisions name pseudonymous ids (a client or network id of a salt
// epoch) or an AS number, never an address: the endpoint computes the ids
// of the address it is asked about under the living salts, in memory, and
// forgets the address once it has answered. It runs in the pseudonymiser's
// trust zone, since it holds the salts in memory.
package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// Scopes of a decision: what its id is.
const (
	ScopeClient  = "client"  // client id of a salt epoch
	ScopeNetwork = "network" // network id (/24, /48) of a salt epoch
	ScopeASN     = "asn"     // autonomous system number
)

// Origins of a decision.
const (
	OriginRule    = "rule"    // the alert loop, from a rule with a ban action
	OriginManual  = "manual"  // vakt decisions add
	OriginCarried = "carried" // a decision of an earlier epoch, carried to the id of the current one
)

// MaxDuration bounds a decision's life; the bucket keeps nothing longer.
const MaxDuration = 30 * 24 * time.Hour

// hitsPrefix starts the keys of the hit counters kept next to decisions.
const hitsPrefix = "hits."

// Decision is one ban. It holds no address: Scope and ID say whom it
// covers (an id of salt epoch Epoch, or an ASN with Epoch 0).
type Decision struct {
	Scope    string `json:"scope"`
	ID       string `json:"id"` // decimal client or network id, or the ASN
	Epoch    uint32 `json:"epoch"`
	Site     string `json:"site,omitempty"` // empty: every site
	Rule     string `json:"rule"`           // the rule that made it, or "manual"
	Category string `json:"category,omitempty"`
	// Status is the HTTP status a denied request gets: 403, or 429.
	Status  int       `json:"status"`
	Origin  string    `json:"origin"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// CarriedFrom is the epoch of the decision this one was carried from.
	CarriedFrom uint32 `json:"carried_from,omitempty"`
}

// Key is the decision's key in the bucket: scope.epoch.id.
func (d Decision) Key() string { return decisionKey(d.Scope, d.Epoch, d.ID) }

func decisionKey(scope string, epoch uint32, id string) string {
	return scope + "." + strconv.FormatUint(uint64(epoch), 10) + "." + id
}

// Check reports what is wrong with d, naming the field.
func (d Decision) Check() error {
	var errs []error
	switch d.Scope {
	case ScopeClient, ScopeNetwork:
		if d.Epoch == 0 {
			errs = append(errs, errors.New("a client or network decision needs the salt epoch of its id"))
		}
	case ScopeASN:
		if d.Epoch != 0 {
			errs = append(errs, errors.New("an AS decision has no epoch"))
		}
	default:
		errs = append(errs, fmt.Errorf("scope %q: use client, network or asn", d.Scope))
	}
	if n, err := strconv.ParseUint(d.ID, 10, 64); err != nil || (d.Scope == ScopeASN && (n == 0 || n > 1<<32-1)) {
		errs = append(errs, fmt.Errorf("id %q: use the decimal id a report shows (an AS number for asn)", d.ID))
	}
	if d.Status != 403 && d.Status != 429 {
		errs = append(errs, fmt.Errorf("status %d: use 403 or 429", d.Status))
	}
	if life := d.Expires.Sub(d.Created); life <= 0 || life > MaxDuration+time.Minute {
		errs = append(errs, fmt.Errorf("duration %s: use 1s to %s", life, MaxDuration))
	}
	return errors.Join(errs...)
}

// Decisions is the decisions bucket.
type Decisions struct {
	kv  jetstream.KeyValue
	js  jetstream.JetStream
	now func() time.Time
}

// OpenDecisions binds to the decisions bucket, creating it if missing:
// file storage, replicated like the streams, with per-key TTLs so that
// every decision and its hit counter expire on their own.
func OpenDecisions(ctx context.Context, js jetstream.JetStream, replicas int) (*Decisions, error) {
	kv, err := js.KeyValue(ctx, bus.DecisionsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         bus.DecisionsBucket,
			Description:    "decisions of the decision endpoint: pseudonymous ids or ASNs, rule and expiry; never an address",
			History:        1,
			TTL:            MaxDuration + time.Hour,
			LimitMarkerTTL: time.Minute,
			Storage:        jetstream.FileStorage,
			Replicas:       max(replicas, 1),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, bus.DecisionsBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("decisions bucket %s: %w", bus.DecisionsBucket, err)
	}
	return &Decisions{kv: kv, js: js, now: time.Now}, nil
}

// Put stores d with a TTL to its expiry. A decision already there for the
// same id that lasts longer is kept (and reported false); one that ends
// earlier is replaced.
func (s *Decisions) Put(ctx context.Context, d Decision) (bool, error) {
	if err := d.Check(); err != nil {
		return false, err
	}
	ttl := time.Until(d.Expires)
	if ttl < time.Second {
		return false, nil // already (nearly) over
	}
	b, err := json.Marshal(d)
	if err != nil {
		return false, err
	}
	for range 5 {
		_, err = s.kv.Create(ctx, d.Key(), b, jetstream.KeyTTL(ttl.Round(time.Second)))
		if !errors.Is(err, jetstream.ErrKeyExists) {
			break
		}
		e, gerr := s.kv.Get(ctx, d.Key())
		if errors.Is(gerr, jetstream.ErrKeyNotFound) {
			continue // expired meanwhile
		}
		if gerr != nil {
			return false, gerr
		}
		var old Decision
		if json.Unmarshal(e.Value(), &old) == nil && !old.Expires.Before(d.Expires) {
			return false, nil
		}
		// A purge leaves a marker, after which Create succeeds.
		if err = s.kv.Purge(ctx, d.Key(), jetstream.LastRevision(e.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return false, err
		}
	}
	if err != nil {
		return false, fmt.Errorf("store decision: %w", err)
	}
	return true, nil
}

// Delete removes the decision with key (scope.epoch.id) and its hit
// counter. It reports whether there was one.
func (s *Decisions) Delete(ctx context.Context, key string) (bool, error) {
	if _, err := s.kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := s.kv.Purge(ctx, key); err != nil {
		return false, err
	}
	_ = s.kv.Purge(ctx, hitsPrefix+key)
	return true, nil
}

// Listed is a decision with the hits counted since it was made.
type Listed struct {
	Decision
	Key  string `json:"key"`
	Hits uint64 `json:"hits"`
}

// List returns the active decisions, soonest expiry last, each with its
// hits (as flushed by the endpoints every few seconds).
func (s *Decisions) List(ctx context.Context) ([]Listed, error) {
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list decisions: %w", err)
	}
	hits := map[string]uint64{}
	var ds []Listed
	now := s.now()
	for key := range keys.Keys() {
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read decision: %w", err)
		}
		if k, ok := strings.CutPrefix(key, hitsPrefix); ok {
			hits[k], _ = strconv.ParseUint(string(e.Value()), 10, 64)
			continue
		}
		var d Decision
		if err := json.Unmarshal(e.Value(), &d); err != nil || !now.Before(d.Expires) {
			continue
		}
		ds = append(ds, Listed{Decision: d, Key: key})
	}
	for i := range ds {
		ds[i].Hits = hits[ds[i].Key]
	}
	slices.SortFunc(ds, func(a, b Listed) int {
		if c := b.Expires.Compare(a.Expires); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return ds, nil
}

// addHits adds n to key's hit counter, which expires with its decision.
func (s *Decisions) addHits(ctx context.Context, key string, n uint64, expires time.Time) error {
	ttl := time.Until(expires).Round(time.Second)
	if ttl < time.Second {
		return nil
	}
	hk := hitsPrefix + key
	for range 5 {
		e, err := s.kv.Get(ctx, hk)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			_, err = s.kv.Create(ctx, hk, []byte(strconv.FormatUint(n, 10)), jetstream.KeyTTL(ttl))
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return err
		}
		if err != nil {
			return err
		}
		old, _ := strconv.ParseUint(string(e.Value()), 10, 64)
		// An update that keeps the counter's TTL: KeyValue.Update takes
		// none, so publish to the key's subject with the expected revision.
		_, err = s.js.Publish(ctx, "$KV."+bus.DecisionsBucket+"."+hk, []byte(strconv.FormatUint(old+n, 10)),
			jetstream.WithMsgTTL(ttl), jetstream.WithExpectLastSequencePerSubject(e.Revision()))
		if err == nil {
			return nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || (apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence && apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return err
		}
	}
	return errors.New("hit counter: too many concurrent updates")
}
