package pseudonymize

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// Salts are write-once. An epoch's salt may be created once and destroyed
// once; a different value under the same epoch (an attacker who can write
// the bucket putting a salt of their own, or deleting one so that vakt makes
// another) is refused instead of adopted: whoever wrote it could compute
// every id of the epoch.
//
// Detection, in layers:
//   - a running replica watches the epoch keys and compares any change with
//     the salt it holds (within moments; Revalidate re-reads every minute);
//   - "seal.<k>" holds a commitment to epoch k's salt (HMAC-SHA256 keyed by
//     the salt over a constant, 16 bytes, hex), written once just before the
//     salt (so a pseudonymiser's salt is never seen unsealed, and the seal
//     decides which of racing replicas writes the salt).
//     A replica that loads a salt compares it, so one started after the
//     replacement refuses too. A bucket from an older vakt has no seals: the
//     first replica to load a salt written before "meta.seals_since" seals
//     it (trust on first use); a later salt without a seal was put there
//     before any replica made one, and is refused;
//   - "conflict.<k>" records a conflict a replica found, so every replica,
//     present or future, refuses the epoch even if the seal was replaced too.
//
// The server is not asked to refuse a second message per subject
// (DiscardNewPerSubject): the setting is stream-wide and meta.rotation is
// updated in place by compare-and-set; and a client with the rights to
// replace a salt may also change the stream's configuration. Who may write
// the bucket is decided by the NATS permissions (only the pseudonymiser);
// this package detects what gets through.
//
// A refused epoch stays refused: no event is published under either salt,
// raw messages stay in the RAW stream, and `vakt salts rotate` starts a new
// epoch under which the pipeline resumes. The forged salt is destroyed on the
// replaced epoch's schedule (at once with --destroy-now).
const (
	sealsSinceKey     = "meta.seals_since"
	saltAwait         = time.Minute
	sealPoll          = 50 * time.Millisecond
	sealKeyPrefix     = "seal."
	conflictKeyPrefix = "conflict."
	sealContext       = "vakt salt seal v1"
)

// ErrSaltConflict reports an epoch whose salt changed in the bucket after a
// replica had seen it: the epoch is refused until `vakt salts rotate`.
var ErrSaltConflict = errors.New("salt of this epoch was replaced or removed in the bucket; refused until `vakt salts rotate`")

// Conflict kinds, the "what" of an alarm.
const (
	ConflictReplaced = "replaced" // a different value under the epoch key
	ConflictRemoved  = "removed"  // the salt vanished before its destruction time
	ConflictUnsealed = "unsealed" // a salt written before any replica made one
	ConflictReported = "reported" // another replica found it (conflict key)
)

// saltSeal is the commitment stored under seal.<k>. It reveals nothing about
// the salt: a keyed hash of a constant.
func saltSeal(salt []byte) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(sealContext))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func sealKey(k uint32) string     { return sealKeyPrefix + epochKey(k)[len(epochKeyPrefix):] }
func conflictKey(k uint32) string { return conflictKeyPrefix + epochKey(k)[len(epochKeyPrefix):] }

// conflictSet is the epochs this replica refuses.
type conflictSet struct {
	sync.Mutex
	epochs map[uint32]bool
}

// inConflict reports whether epoch k is refused.
func (s *SaltStore) inConflict(k uint32) bool {
	s.conflicts.Lock()
	defer s.conflicts.Unlock()
	return s.conflicts.epochs[k]
}

// Blocked reports whether the current epoch is refused, so that workers stop
// pulling raw messages rather than handing each one back.
func (s *SaltStore) Blocked() bool {
	k, err := s.EpochOf(s.now())
	return err == nil && s.inConflict(k)
}

// Conflicts lists the refused epochs this replica knows of.
func (s *SaltStore) Conflicts() []uint32 {
	s.conflicts.Lock()
	defer s.conflicts.Unlock()
	out := make([]uint32, 0, len(s.conflicts.epochs))
	for k := range s.conflicts.epochs {
		out = append(out, k)
	}
	return out
}

// conflict refuses epoch k from now on: its keys leave memory, the alarm is
// raised once per replica (ERROR log, onConflict: metric and alert), and the
// conflict is recorded in the bucket for the other replicas. It never logs a
// salt or a seal.
func (s *SaltStore) conflict(ctx context.Context, k uint32, what string) {
	s.conflicts.Lock()
	if s.conflicts.epochs == nil {
		s.conflicts.epochs = map[uint32]bool{}
	}
	seen := s.conflicts.epochs[k]
	s.conflicts.epochs[k] = true
	s.conflicts.Unlock()
	s.current.Lock()
	if s.current.keys != nil && s.current.keys.epoch == k {
		s.current.keys = nil
	}
	s.current.Unlock()
	if seen {
		return
	}
	if cur, err := s.EpochOf(s.now()); what == ConflictReported && err == nil && k < cur {
		return // an ended epoch's record: alarmed when found, refused still
	}
	s.log.Error("SALT CONFLICT: the salt of an epoch changed in the bucket after it was in use; "+
		"no event is published for this epoch and raw messages wait in the RAW stream. "+
		"Whoever can write the salt bucket may know the new salt: check who has NATS access, then run `vakt salts rotate --destroy-now`",
		"epoch", k, "what", what, "bucket", bus.SaltBucket)
	if s.onConflict != nil {
		s.onConflict(k, what)
	}
	if what == ConflictReported {
		return
	}
	b, _ := json.Marshal(struct {
		At   time.Time `json:"at"`
		What string    `json:"what"`
	}{s.now().UTC(), what})
	if _, err := s.kv.Create(ctx, conflictKey(k), b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		s.log.Warn("cannot record the salt conflict in the bucket; other replicas detect it themselves", "epoch", k, "err", err)
	}
}

// verify checks a salt read from the bucket for epoch k against the
// recorded conflict and the seal. created is when the salt was written, or
// zero for a salt this replica has just created (and sealed). A salt
// without a seal is sealed on first use if it predates sealsSince (an older
// vakt's); a newer one is refused: pseudonymisers seal before they write,
// so someone else wrote it.
func (s *SaltStore) verify(ctx context.Context, k uint32, salt []byte, created time.Time) error {
	if _, err := s.kv.Get(ctx, conflictKey(k)); err == nil {
		s.conflict(ctx, k, ConflictReported)
		return fmt.Errorf("epoch %d: %w", k, ErrSaltConflict)
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("epoch %d: read conflict record: %w", k, err)
	}
	want := saltSeal(salt)
	for {
		e, err := s.kv.Get(ctx, sealKey(k))
		switch {
		case err == nil:
			if !hmac.Equal(e.Value(), []byte(want)) {
				s.conflict(ctx, k, ConflictReplaced)
				return fmt.Errorf("epoch %d: %w", k, ErrSaltConflict)
			}
			return nil
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return fmt.Errorf("epoch %d: read salt seal: %w", k, err)
		}
		// Pseudonymisers seal before they write a salt: a newer salt
		// without a seal was written by someone else.
		if !created.IsZero() && !created.Before(s.sealsSince) {
			s.conflict(ctx, k, ConflictUnsealed)
			return fmt.Errorf("epoch %d: %w", k, ErrSaltConflict)
		}
		_, err = s.kv.Create(ctx, sealKey(k), []byte(want))
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			// A tool without write access: the pseudonymiser seals it.
			s.log.Warn("cannot seal the salt", "epoch", k, "err", err)
			return nil
		}
		// Another replica sealed it meanwhile: compare with theirs.
	}
}

// readSealsSince returns when the bucket started getting seals, recording
// now if it has not.
func (s *SaltStore) readSealsSince(ctx context.Context) (time.Time, error) {
	if _, err := s.kv.Create(ctx, sealsSinceKey, []byte("salts written since this key must be sealed")); err != nil &&
		!errors.Is(err, jetstream.ErrKeyExists) {
		return time.Time{}, fmt.Errorf("salt bucket %s: record %s: %w", bus.SaltBucket, sealsSinceKey, err)
	}
	e, err := s.kv.Get(ctx, sealsSinceKey)
	if err != nil {
		return time.Time{}, fmt.Errorf("salt bucket %s: read %s: %w", bus.SaltBucket, sealsSinceKey, err)
	}
	return e.Created(), nil
}

// awaitSalt returns the salt of a sealed epoch k. Its creator writes it
// right after the seal, so an absent salt is on its way, however slow that
// replica is; one that was there and is gone (a delete or purge marker in
// the key's history) was removed, which refuses the epoch. A seal whose salt
// never comes (its creator stopped between the two writes) is an error,
// not a conflict: the epoch waits for `vakt salts rotate`.
func (s *SaltStore) awaitSalt(ctx context.Context, k uint32) (*Keys, error) {
	key := epochKey(k)
	deadline := time.Now().Add(saltAwait)
	for {
		e, err := s.kv.Get(ctx, key)
		if err == nil {
			return s.verified(ctx, k, e.Revision(), e.Value(), e.Created())
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("epoch %d: read salt: %w", k, err)
		}
		// (The salt may also have arrived since the Get: then the loop
		// reads it.)
		if h, err := s.kv.History(ctx, key); err == nil && len(h) > 0 && h[len(h)-1].Operation() != jetstream.KeyValuePut {
			s.conflict(ctx, k, ConflictRemoved)
			return nil, fmt.Errorf("epoch %d: %w", k, ErrSaltConflict)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("epoch %d: sealed, but its salt was not written within %s (the replica creating it stopped?): run `vakt salts rotate`", k, saltAwait)
		}
		sleep(ctx, sealPoll)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// sealed reports whether epoch k has a seal: its salt existed, so a missing
// salt was removed rather than never created.
func (s *SaltStore) sealed(ctx context.Context, k uint32) (bool, error) {
	_, err := s.kv.Get(ctx, sealKey(k))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// checkHeld compares an entry of the epoch key the replica holds with the
// keys in memory, and refuses the epoch if it differs or is gone.
func (s *SaltStore) checkHeld(ctx context.Context, keys *Keys, e jetstream.KeyValueEntry, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), err == nil && e.Operation() != jetstream.KeyValuePut:
		if _, _, destroyAt := s.Bounds(keys.epoch); !s.now().Before(destroyAt) {
			return nil // destroyed on schedule
		}
		s.conflict(ctx, keys.epoch, ConflictRemoved)
	case err != nil:
		return fmt.Errorf("epoch %d: check salt: %w", keys.epoch, err)
	case e.Revision() == keys.rev:
	default:
		v := e.Value()
		same := saltSeal(v) == keys.seal
		clear(v)
		if !same {
			s.conflict(ctx, keys.epoch, ConflictReplaced)
		}
	}
	return nil
}

// watchSalts follows the epoch and conflict keys until ctx ends, so that a
// replaced salt or another replica's conflict record is noticed at once.
func (s *SaltStore) watchSalts(ctx context.Context) {
	w, err := s.kv.WatchFiltered(ctx, []string{epochKeyPrefix + "*", conflictKeyPrefix + "*"})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cannot watch the salt bucket; checking every minute instead", "err", err)
		}
		return
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				s.onWatched(ctx, e)
			}
		}
	}
}

func (s *SaltStore) onWatched(ctx context.Context, e jetstream.KeyValueEntry) {
	if n, ok := strings.CutPrefix(e.Key(), conflictKeyPrefix); ok {
		if k, ok := parseEpochKey(epochKeyPrefix + n); ok && e.Operation() == jetstream.KeyValuePut {
			s.conflict(ctx, k, ConflictReported)
		}
		return
	}
	k, ok := parseEpochKey(e.Key())
	if !ok {
		return
	}
	s.current.RLock()
	keys := s.current.keys
	s.current.RUnlock()
	if keys == nil || keys.epoch != k {
		clear(e.Value())
		return // checked against its seal when loaded
	}
	if err := s.checkHeld(ctx, keys, e, nil); err != nil {
		s.log.Warn("salt watch", "err", err)
	}
}

// Salt conflict alerts go on bus.AlertsSubject(AlertSite) in the schema of
// the rule alerts (analyze/rules/README.md), so that whatever consumes
// vakt.alerts.> sees them: rule SaltConflictRule, severity 5, scope
// "epoch", offender "epoch-<k>". The site is vakt itself.
const (
	AlertSite        = "vakt"
	SaltConflictRule = "salt-replaced"
)

// saltAlert is the rule alert schema (analyze.Alert) with the fields a
// salt conflict has.
type saltAlert struct {
	Schema      string    `json:"schema"`
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Rule        string    `json:"rule"`
	Category    string    `json:"category"`
	Severity    int       `json:"severity"`
	Description string    `json:"description"`
	Scope       string    `json:"scope"`
	Site        string    `json:"site"`
	Offender    string    `json:"offender"`
	Epoch       uint32    `json:"epoch"`
	What        string    `json:"what"`
}

// saltAlarm is the onConflict of a running pseudonymiser: the metric, and
// an alert published on the alert subject.
func (p *Pseudonymizer) saltAlarm(k uint32, what string) {
	p.m.SaltConflicts.WithLabelValues(strconv.FormatUint(uint64(k), 10)).Inc()
	al := saltAlert{
		Schema: "vakt.alert/v1", ID: fmt.Sprintf("%s-%d", SaltConflictRule, k), Time: time.Now().UTC(),
		Rule: SaltConflictRule, Category: "integrity", Severity: 5,
		Description: "the salt of a pseudonymisation epoch was " + what + " in the salt bucket after use; " +
			"the epoch is refused and the pipeline waits: check NATS access, then run `vakt salts rotate --destroy-now`",
		Scope: "epoch", Site: AlertSite, Offender: fmt.Sprintf("epoch-%d", k), Epoch: k, What: what,
	}
	b, err := json.Marshal(al)
	if err == nil {
		msg := &nats.Msg{Subject: bus.AlertsSubject(AlertSite), Data: b, Header: nats.Header{}}
		msg.Header.Set("Vakt-Alert-Id", al.ID)
		err = p.js.Conn().PublishMsg(msg)
	}
	if err != nil {
		p.log.Error("cannot publish the salt conflict alert", "epoch", k, "err", err)
		return
	}
	p.m.AlertsPublished.WithLabelValues(SaltConflictRule, AlertSite).Inc()
}
