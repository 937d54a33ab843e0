package enforce

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// scope codes of the in-memory set.
const (
	codeClient uint8 = iota + 1
	codeNetwork
	codeASN
)

func scopeCode(s string) uint8 {
	switch s {
	case ScopeClient:
		return codeClient
	case ScopeNetwork:
		return codeNetwork
	case ScopeASN:
		return codeASN
	}
	return 0
}

// idKey finds a decision by what the endpoint computes from an address.
type idKey struct {
	scope uint8
	epoch uint32
	id    uint64
}

// entry is one decision in memory, with the hits counted since the last
// flush to the bucket.
type entry struct {
	d      Decision
	key    string
	id     idKey
	hits   atomic.Uint64 // not yet flushed
	status int
}

// active reports whether the decision covers a request for site at now.
func (e *entry) active(site string, now time.Time) bool {
	return now.Before(e.d.Expires) && (e.d.Site == "" || e.d.Site == site)
}

// snapshot is an immutable view of the decisions for the answer path:
// rebuilt on every change (decisions change rarely; answers are many).
type snapshot struct {
	byID map[idKey]*entry
	// epochs holds the salt epochs of client and network decisions,
	// newest first: the endpoint computes ids under each of them.
	epochs                  []uint32
	client, network, anyASN bool
	loaded                  bool // the bucket's content has been read once
}

// decisionSet is the endpoint's copy of the decisions bucket, kept current
// by a watch.
type decisionSet struct {
	mu   sync.Mutex
	book map[string]*entry // by bucket key
	snap atomic.Pointer[snapshot]
	// firstExpiry is the soonest expiry in the snapshot: rebuilding
	// before it would change nothing.
	firstExpiry time.Time
	now         func() time.Time
	onSet       func(perScope map[string]int) // the active gauge
}

func newDecisionSet(now func() time.Time, onSet func(map[string]int)) *decisionSet {
	s := &decisionSet{book: map[string]*entry{}, now: now, onSet: onSet}
	s.snap.Store(&snapshot{byID: map[idKey]*entry{}})
	return s
}

func (s *decisionSet) load() *snapshot { return s.snap.Load() }

// apply puts or removes one bucket entry; it does not rebuild.
func (s *decisionSet) apply(key string, value []byte, deleted bool) {
	if strings.HasPrefix(key, hitsPrefix) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if deleted {
		delete(s.book, key)
		return
	}
	var d Decision
	if err := json.Unmarshal(value, &d); err != nil || d.Check() != nil {
		return // not a decision vakt wrote: ignored
	}
	id, err := strconv.ParseUint(d.ID, 10, 64)
	if err != nil {
		return
	}
	if old, ok := s.book[key]; ok && old.d == d {
		return // the same decision: keep its counter
	}
	e := &entry{d: d, key: key, id: idKey{scopeCode(d.Scope), d.Epoch, id}, status: d.Status}
	if old, ok := s.book[key]; ok {
		e.hits.Store(old.hits.Load())
	}
	s.book[key] = e
}

// rebuild publishes a new snapshot without the expired decisions.
func (s *decisionSet) rebuild(loaded bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	sn := &snapshot{byID: make(map[idKey]*entry, len(s.book)), loaded: loaded || s.load().loaded}
	perScope := map[string]int{ScopeClient: 0, ScopeNetwork: 0, ScopeASN: 0}
	s.firstExpiry = time.Time{}
	for k, e := range s.book {
		if !now.Before(e.d.Expires) {
			delete(s.book, k)
			continue
		}
		if s.firstExpiry.IsZero() || e.d.Expires.Before(s.firstExpiry) {
			s.firstExpiry = e.d.Expires
		}
		sn.byID[e.id] = e
		perScope[e.d.Scope]++
		switch e.id.scope {
		case codeClient:
			sn.client = true
		case codeNetwork:
			sn.network = true
		case codeASN:
			sn.anyASN = true
		}
		if e.id.scope != codeASN && !slices.Contains(sn.epochs, e.id.epoch) {
			sn.epochs = append(sn.epochs, e.id.epoch)
		}
	}
	slices.Sort(sn.epochs)
	slices.Reverse(sn.epochs)
	s.snap.Store(sn)
	if s.onSet != nil {
		s.onSet(perScope)
	}
}

// dropExpired rebuilds when a decision has expired since the last
// rebuild (answers check expiry themselves; this frees the memory and
// updates the gauge).
func (s *decisionSet) dropExpired() {
	s.mu.Lock()
	due := !s.firstExpiry.IsZero() && !s.now().Before(s.firstExpiry)
	s.mu.Unlock()
	if due {
		s.rebuild(false)
	}
}

// entries returns the decisions in memory, for flushing hits.
func (s *decisionSet) entries() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*entry, 0, len(s.book))
	for _, e := range s.book {
		out = append(out, e)
	}
	return out
}

// watch keeps the set equal to the bucket until ctx ends: the current
// values first (then the set is loaded), every change after.
func (s *decisionSet) watch(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch decisions: %w", err)
	}
	defer w.Stop()
	loaded := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch decisions: stopped")
			}
			if e == nil {
				loaded = true
				s.rebuild(true)
				continue
			}
			s.apply(e.Key(), e.Value(), e.Operation() != jetstream.KeyValuePut)
			if !loaded {
				continue
			}
			// A burst of changes (an alert loop's many bans) is applied
			// whole, then published in one rebuild.
			for drained := false; !drained; {
				select {
				case e, ok := <-w.Updates():
					if !ok || e == nil {
						drained = true
						break
					}
					s.apply(e.Key(), e.Value(), e.Operation() != jetstream.KeyValuePut)
				default:
					drained = true
				}
			}
			s.rebuild(false)
		}
	}
}
