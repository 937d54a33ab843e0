package pseudonymize

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// Key layout of bus.SaltBucket.
const (
	// epochKeyPrefix + decimal epoch number holds that epoch's salt.
	epochKeyPrefix = "epoch."
	// epochLengthKey records the epoch length the salts were made with, so
	// that a replica configured differently refuses to start instead of
	// reading epoch numbers with another meaning (and destroying live salts
	// or keeping dead ones).
	epochLengthKey = "meta.epoch_length"
)

// janitorMaxSleep bounds how long the janitor sleeps, so that a salt removed
// or replaced out of schedule, keys other replicas created, and wall-clock
// jumps are noticed within it.
const janitorMaxSleep = time.Minute

var (
	// ErrSaltDestroyed reports an epoch whose salt has been, or is due to be,
	// destroyed: its ids can no longer be computed.
	ErrSaltDestroyed = errors.New("salt destroyed")
	// ErrEpochLengthMismatch reports a replica whose epoch length differs
	// from the one the salt bucket was set up with.
	ErrEpochLengthMismatch = errors.New("epoch length differs from the salt bucket's")
	// errScheduleChanged reports a rotation noticed while loading a salt.
	errScheduleChanged = errors.New("salt rotation schedule changed")
)

// SaltStore hands out the keys of the current epoch and destroys old salts.
// Several replicas share one store through the KV bucket.
//
// The epoch rule: an event is pseudonymised under the epoch of the processing
// time at the pseudonymiser, not the event's own timestamp, and the epoch of a
// time is ⌊t/L⌋ plus the number of rotations (`vakt salts rotate`) at or
// before it (schedule, in rotation.go). Like Plausible's
// daily salt, that means only the current salt is ever needed to write, so no
// old salt must be kept for late or replayed logs, and destruction at epoch
// end + grace never blocks the pipeline. A raw message redelivered across an
// epoch boundary gets ids of the new epoch but is still stored once: the
// events stream deduplicates by the message id, which is carried over from
// the raw message (within its duplicate window, bus.StreamConfig). Replicas
// read their own clocks, so keep them NTP-synchronised: skew makes an IP
// get two ids for that long around a boundary, and must stay well below
// Grace.
//
// Salt of epoch k: KV key "epoch.<k>", 32 bytes from crypto/rand, created with
// kv.Create so that exactly one of several racing replicas wins and the others
// read the winner's salt. Destruction: every message of the key's subject is
// deleted from the bucket's stream with SecureDeleteMsg, which overwrites its
// bytes in the file store (a purge would leave them in the block file) and
// leaves no delete or purge marker behind. Only the current epoch's keys are
// held in memory; they are dropped when the epoch ends, and when the janitor
// finds the key gone or replaced in the bucket.
type SaltStore struct {
	kv     jetstream.KeyValue
	stream jetstream.Stream // the bucket's backing stream, for purge by subject
	subj   string           // subject prefix of the bucket's keys
	length time.Duration
	grace  time.Duration
	log    *slog.Logger
	now    func() time.Time
	// onEpoch is told about each new current epoch (the metrics gauge).
	onEpoch func(uint32)
	// onConflict raises the alarm for an epoch whose salt changed (the
	// metric and the alert); nil in tools.
	onConflict func(k uint32, what string)
	conflicts  conflictSet
	// sealsSince is when this bucket started getting seals: a salt
	// written since then must have one (saltseal.go).
	sealsSince time.Time
	// purgeOnly is set for a bucket stream that denies message deletes, where
	// destruction can only purge.
	purgeOnly bool
	sched     atomic.Pointer[schedule] // the epoch rule in use

	mu      sync.Mutex // serialises KV round trips for the current salt
	current struct {
		sync.RWMutex
		keys *Keys
	}
}

// EpochInfo describes one stored salt, never its bytes.
type EpochInfo struct {
	Epoch     uint32
	Start     time.Time // epoch start
	End       time.Time // epoch end: the salt is no longer used for new events
	DestroyAt time.Time // End + grace: the janitor destroys the salt
	Created   time.Time // when the salt was written to the bucket
	Current   bool
	Rotated   bool // ended early by `vakt salts rotate`
}

// NewSaltStore binds to bus.SaltBucket (created by bus.Ensure) using the
// epoch length and grace of cfg (defaults applied). It refuses to work with a
// bucket set up for another epoch length.
func NewSaltStore(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (*SaltStore, error) {
	return newSaltStore(ctx, js, cfg, log, false)
}

func newSaltStore(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger, readOnly bool) (*SaltStore, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		return nil, fmt.Errorf("salt bucket %s (run bus.Ensure first): %w", bus.SaltBucket, err)
	}
	streamName := "KV_" + bus.SaltBucket
	stream, err := js.Stream(ctx, streamName)
	if err != nil {
		return nil, fmt.Errorf("salt bucket stream %s: %w", streamName, err)
	}
	s := &SaltStore{
		kv:      kv,
		stream:  stream,
		subj:    "$KV." + bus.SaltBucket + ".",
		length:  cfg.EpochLength,
		grace:   cfg.Grace,
		log:     log,
		now:     time.Now,
		onEpoch: func(uint32) {},
	}
	if readOnly {
		if err := s.readOnlyChecks(ctx); err != nil {
			return nil, err
		}
	} else {
		if err := s.checkEpochLength(ctx); err != nil {
			return nil, err
		}
		if s.sealsSince, err = s.readSealsSince(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.refreshSchedule(ctx); err != nil {
		return nil, fmt.Errorf("salt bucket %s: %w", bus.SaltBucket, err)
	}
	if stream.CachedInfo().Config.DenyDelete {
		s.purgeOnly = true
		log.Warn("the salt bucket's stream denies message deletes: destroyed salts are purged but their bytes may stay on disk; "+
			"let a current vakt set up JetStream (it migrates the bucket)", "stream", streamName)
	}
	return s, nil
}

// schedule returns the epoch rule in use.
func (s *SaltStore) schedule() *schedule {
	if sc := s.sched.Load(); sc != nil {
		return sc
	}
	return &schedule{}
}

// checkEpochLength records the epoch length in the bucket on first use and
// compares it afterwards.
func (s *SaltStore) checkEpochLength(ctx context.Context) error {
	want := s.length.String()
	_, err := s.kv.Create(ctx, epochLengthKey, []byte(want))
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("salt bucket %s: record epoch length: %w", bus.SaltBucket, err)
	}
	e, err := s.kv.Get(ctx, epochLengthKey)
	if err != nil {
		return fmt.Errorf("salt bucket %s: read epoch length: %w", bus.SaltBucket, err)
	}
	if got := string(e.Value()); got != want {
		return fmt.Errorf("%w: the salts in %s were made with pseudonymize.epoch=%s but this replica has %s; "+
			"set %s on every replica, or stop all pseudonymisers and delete the bucket's keys (all ids become unlinkable) before changing it",
			ErrEpochLengthMismatch, bus.SaltBucket, got, want, got)
	}
	return nil
}

// EpochOf returns the epoch t falls in under the rotation schedule in use.
func (s *SaltStore) EpochOf(t time.Time) (uint32, error) {
	return s.schedule().epochOf(t, s.length)
}

// Bounds returns the start and end of epoch k and when its salt is destroyed:
// end + grace, or at end for a salt a rotation destroyed at once.
func (s *SaltStore) Bounds(k uint32) (start, end, destroyAt time.Time) {
	return s.schedule().bounds(k, s.length, s.grace)
}

// Current returns the keys of the current epoch, creating its salt if no
// replica has yet. Only the current epoch's keys are kept in memory; they
// are dropped as soon as the epoch ends.
func (s *SaltStore) Current(ctx context.Context) (*Keys, error) {
	now := s.now()
	k, err := s.EpochOf(now)
	if err != nil {
		return nil, err
	}
	s.current.RLock()
	keys := s.current.keys
	s.current.RUnlock()
	if keys != nil && keys.epoch == k {
		return keys, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		s.current.RLock()
		keys = s.current.keys
		s.current.RUnlock()
		if keys != nil && keys.epoch == k {
			return keys, nil // another worker loaded it meanwhile
		}
		if s.inConflict(k) {
			return nil, fmt.Errorf("epoch %d: %w", k, ErrSaltConflict)
		}
		keys, err = s.loadOrCreate(ctx, k, now)
		if errors.Is(err, errScheduleChanged) && attempt == 0 {
			if k, err = s.EpochOf(now); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	s.current.Lock()
	if s.inConflict(k) { // found by the watch meanwhile
		s.current.Unlock()
		return nil, fmt.Errorf("epoch %d: %w", k, ErrSaltConflict)
	}
	s.current.keys = keys // the previous epoch's keys become garbage
	s.current.Unlock()
	s.log.Info("salt epoch in use", "epoch", k)
	s.onEpoch(k)
	return keys, nil
}

// Lookup returns the keys of epoch k while its salt lives, for tools that
// must find an IP's rows (access, erasure). It never creates a salt.
func (s *SaltStore) Lookup(ctx context.Context, k uint32) (*Keys, error) {
	if _, _, destroyAt := s.Bounds(k); !s.now().Before(destroyAt) {
		return nil, fmt.Errorf("epoch %d: %w at %s", k, ErrSaltDestroyed, destroyAt.Format(time.RFC3339))
	}
	e, err := s.kv.Get(ctx, epochKey(k))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("epoch %d: no salt in %s (never created, or %w)", k, bus.SaltBucket, ErrSaltDestroyed)
	}
	if err != nil {
		return nil, fmt.Errorf("epoch %d: read salt: %w", k, err)
	}
	if s.inConflict(k) {
		return nil, fmt.Errorf("epoch %d: %w", k, ErrSaltConflict)
	}
	if err := s.verify(ctx, k, e.Value(), e.Created()); err != nil {
		clear(e.Value())
		return nil, err
	}
	return keysFrom(k, e.Revision(), e.Value())
}

func (s *SaltStore) loadOrCreate(ctx context.Context, k uint32, now time.Time) (*Keys, error) {
	// Never (re)create a salt that is due for destruction: its ids must stay
	// uncomputable. Only a clock jump can get here.
	if _, _, destroyAt := s.Bounds(k); !now.Before(destroyAt) {
		return nil, fmt.Errorf("epoch %d: %w", k, ErrSaltDestroyed)
	}
	key := epochKey(k)
	e, err := s.kv.Get(ctx, key)
	if err == nil {
		return s.verified(ctx, k, e.Revision(), e.Value(), e.Created())
	}
	if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("epoch %d: read salt: %w", k, err)
	}
	// A sealed epoch has, or is about to have, its salt: making another
	// would be a second salt under its number.
	if sealed, err := s.sealed(ctx, k); err != nil {
		return nil, fmt.Errorf("epoch %d: read salt seal: %w", k, err)
	} else if sealed {
		return s.awaitSalt(ctx, k)
	}
	// Before creating a salt, make sure no rotation has ended this epoch
	// (the watch may not have delivered it yet): a salt created for an
	// ended epoch would be a second salt under its number.
	if err := s.refreshSchedule(ctx); err != nil {
		return nil, fmt.Errorf("epoch %d: %w", k, err)
	}
	if cur, err := s.EpochOf(now); err != nil || cur != k {
		return nil, fmt.Errorf("epoch %d: %w", k, errScheduleChanged)
	}
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("epoch %d: generate salt: %w", k, err)
	}
	// The seal first, then the salt: a salt in the bucket always has its
	// seal already, so no replica ever sees a pseudonymiser's salt unsealed
	// (however slow its creator), and the seal decides which of racing
	// replicas creates the salt.
	if _, err := s.kv.Create(ctx, sealKey(k), []byte(saltSeal(salt))); err != nil {
		clear(salt)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return s.awaitSalt(ctx, k) // another replica won the race: use its salt so ids agree
		}
		return nil, fmt.Errorf("epoch %d: seal salt: %w", k, err)
	}
	rev, err := s.kv.Create(ctx, key, salt)
	if err == nil {
		s.log.Info("salt created", "epoch", k)
		return s.verified(ctx, k, rev, salt, time.Time{})
	}
	clear(salt)
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("epoch %d: create salt: %w", k, err)
	}
	// A salt appeared under the seal this replica holds: not a
	// pseudonymiser's. verify refuses it (the seal does not match).
	e, err = s.kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("epoch %d: read salt: %w", k, err)
	}
	return s.verified(ctx, k, e.Revision(), e.Value(), e.Created())
}

// verified checks salt against the epoch's seal (sealing it if none) and
// derives its keys; the salt buffer is wiped either way.
func (s *SaltStore) verified(ctx context.Context, k uint32, rev uint64, salt []byte, created time.Time) (*Keys, error) {
	if err := s.verify(ctx, k, salt, created); err != nil {
		clear(salt)
		return nil, err
	}
	return keysFrom(k, rev, salt)
}

// Destroy destroys every stored salt whose epoch end + grace has passed and
// returns their epochs. Every message of the key's subject is erased: each
// revision's bytes are overwritten on disk, and no marker remains to say a
// salt existed.
func (s *SaltStore) Destroy(ctx context.Context) ([]uint32, error) {
	now := s.now()
	s.dropCurrentIfDue(now)
	epochs, err := s.storedEpochs(ctx)
	if err != nil {
		return nil, err
	}
	var destroyed []uint32
	var errs []error
	for _, k := range epochs {
		if _, _, destroyAt := s.Bounds(k); now.Before(destroyAt) {
			continue
		}
		// The salt first; the seal and any conflict record go with it.
		var err error
		for _, key := range []string{epochKey(k), sealKey(k), conflictKey(k)} {
			if err = s.erase(ctx, s.subj+key); err != nil {
				break
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("destroy salt of epoch %d: %w", k, err))
			continue
		}
		s.conflicts.Lock()
		delete(s.conflicts.epochs, k)
		s.conflicts.Unlock()
		destroyed = append(destroyed, k)
	}
	return destroyed, errors.Join(errs...)
}

// erase removes every message on subject, overwriting its bytes in the
// stream's store. A stream that denies deletes can only be purged.
func (s *SaltStore) erase(ctx context.Context, subject string) error {
	if s.purgeOnly {
		return s.stream.Purge(ctx, jetstream.WithPurgeSubject(subject))
	}
	for seq := uint64(1); ; {
		m, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		clear(m.Data)
		if err := s.stream.SecureDeleteMsg(ctx, m.Sequence); err != nil && !s.gone(ctx, m.Sequence) {
			return err
		}
		seq = m.Sequence + 1
	}
}

// gone reports whether the message at seq no longer exists: a delete that
// failed because another replica (or `vakt salts rotate` while the
// pseudonymisers run) erased it first. nats.go flattens the server's
// "sequence not found" into a string, so the stream is asked instead.
func (s *SaltStore) gone(ctx context.Context, seq uint64) bool {
	_, err := s.stream.GetMsg(ctx, seq)
	return errors.Is(err, jetstream.ErrMsgNotFound)
}

func (s *SaltStore) dropCurrentIfDue(now time.Time) {
	s.current.Lock()
	defer s.current.Unlock()
	if s.current.keys == nil {
		return
	}
	if _, end, _ := s.Bounds(s.current.keys.epoch); !now.Before(end) {
		s.current.keys = nil
	}
}

// storedEpochs lists the epochs with anything stored under their salt,
// seal or conflict key: values and also any delete or purge markers a person
// may have left.
func (s *SaltStore) storedEpochs(ctx context.Context) ([]uint32, error) {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(s.subj+">"))
	if err != nil {
		return nil, fmt.Errorf("list salts in %s: %w", bus.SaltBucket, err)
	}
	epochs := make([]uint32, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		key := strings.TrimPrefix(subj, s.subj)
		if strings.HasPrefix(key, "meta.") {
			continue
		}
		for _, p := range []string{sealKeyPrefix, conflictKeyPrefix} {
			if n, ok := strings.CutPrefix(key, p); ok {
				key = epochKeyPrefix + n
			}
		}
		k, ok := parseEpochKey(key)
		if !ok {
			s.log.Warn("unexpected key in salt bucket", "bucket", bus.SaltBucket, "subject", subj)
			continue
		}
		if !slices.Contains(epochs, k) {
			epochs = append(epochs, k)
		}
	}
	slices.Sort(epochs)
	return epochs, nil
}

// Revalidate refuses the current epoch if its salt was removed or replaced
// in the bucket out of schedule (saltseal.go): the watch normally notices at
// once; this read covers a watch that broke.
func (s *SaltStore) Revalidate(ctx context.Context) error {
	// The watch normally delivers rotations at once; this read covers a
	// watch that broke.
	if err := s.refreshSchedule(ctx); err != nil {
		return err
	}
	s.dropCurrentIfDue(s.now())
	s.current.RLock()
	keys := s.current.keys
	s.current.RUnlock()
	if keys == nil {
		return nil
	}
	e, err := s.kv.Get(ctx, epochKey(keys.epoch))
	return s.checkHeld(ctx, keys, e, err)
}

// RunJanitor destroys due salts until ctx ends. It wakes at the next
// scheduled destruction, so salts go on time with no human action, at least
// every minute to revalidate the in-memory salt, and at once when a rotation
// is written to the bucket, which it watches. Errors are logged and retried.
func (s *SaltStore) RunJanitor(ctx context.Context) {
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.watchSchedule(ctx, wake) })
	wg.Go(func() { s.watchSalts(ctx) })
	for {
		destroyed, err := s.Destroy(ctx)
		for _, k := range destroyed {
			s.log.Info("salt destroyed", "epoch", k)
		}
		if rerr := s.Revalidate(ctx); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("salt janitor", "err", err)
		}
		wait := s.nextDestruction(s.now())
		if err != nil && wait > time.Second {
			wait = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// nextDestruction is how long until the next epoch's end + grace, capped.
func (s *SaltStore) nextDestruction(now time.Time) time.Duration {
	// Destruction times are (j+1)·L + G; the next is for the smallest j with
	// (j+1)·L + G > now.
	j := (now.UnixNano() - int64(s.grace)) / int64(s.length)
	next := time.Unix(0, (j+1)*int64(s.length)+int64(s.grace))
	for !next.After(now) {
		next = next.Add(s.length)
	}
	if r := s.schedule().nextDestruction(now, s.grace); !r.IsZero() && r.Before(next) {
		next = r // the replaced salt of a rotation
	}
	// A few milliseconds late, never early, despite timer rounding.
	wait := next.Sub(now) + 5*time.Millisecond
	return min(wait, janitorMaxSleep)
}

// Epochs lists the stored salts with their schedule, for a status command.
// It never returns salt bytes.
func (s *SaltStore) Epochs(ctx context.Context) ([]EpochInfo, error) {
	epochs, err := s.storedEpochs(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := s.EpochOf(s.now())
	if err != nil {
		return nil, err
	}
	out := make([]EpochInfo, 0, len(epochs))
	for _, k := range epochs {
		e, err := s.kv.Get(ctx, epochKey(k))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // only a marker: no salt
		}
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", k, err)
		}
		start, end, destroyAt := s.Bounds(k)
		_, rotated := s.schedule().rotationEnding(k)
		out = append(out, EpochInfo{
			Epoch: k, Start: start, End: end, DestroyAt: destroyAt,
			Created: e.Created().UTC(), Current: k == cur, Rotated: rotated,
		})
	}
	return out, nil
}

// keysFrom derives keys and wipes the salt buffer. Best effort only: Go may
// have copied it, but no long-lived copy is left by this package.
func keysFrom(k uint32, rev uint64, salt []byte) (*Keys, error) {
	keys, err := newKeys(k, salt)
	clear(salt)
	if err != nil {
		return nil, err
	}
	keys.rev = rev
	return keys, nil
}

func epochKey(k uint32) string { return epochKeyPrefix + strconv.FormatUint(uint64(k), 10) }

func parseEpochKey(key string) (uint32, bool) {
	n, ok := strings.CutPrefix(key, epochKeyPrefix)
	if !ok {
		return 0, false
	}
	k, err := strconv.ParseUint(n, 10, 32)
	return uint32(k), err == nil
}
