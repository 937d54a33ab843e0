package pseudonymize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// rotationKey in bus.SaltBucket holds the rotation schedule (schedule as
// JSON). `vakt salts rotate` writes it with compare-and-set; every replica
// watches it and reads it again at least every janitorMaxSleep.
const rotationKey = "meta.rotation"

// rotateAttempts bounds compare-and-set retries when rotations race.
const rotateAttempts = 10

// Rotation is one early epoch change (`vakt salts rotate`, after a suspected
// leak of a salt). It holds times and epoch numbers, never a salt.
type Rotation struct {
	// At is when the new epoch started and the replaced one ended.
	At time.Time `json:"at"`
	// Epoch is the epoch that started at At; Replaced the one that ended.
	Epoch    uint32 `json:"epoch"`
	Replaced uint32 `json:"replaced"`
	// DestroyNow says the replaced epoch's salt was destroyed at At instead
	// of at At + grace.
	DestroyNow bool `json:"destroy_now,omitempty"`
}

// schedule is the content of rotationKey: the rule that maps a time to its
// epoch. With no rotation, epoch(t) = ⌊t/L⌋ for epoch length L, so 24 h
// epochs start at UTC midnight. Each rotation adds one from its time on:
//
//	epoch(t) = ⌊t/L⌋ + (number of rotations at or before t)
//
// A rotation at T in period k therefore ends epoch k+o at T, runs epoch
// k+o+1 from T to the period's regular end, and every later epoch number is
// one higher than it would have been. epoch(t) never decreases, every number
// names one contiguous time range and one salt, and the rule depends only on
// t and this key, so replicas and restarts agree.
type schedule struct {
	// Offset is the number of rotations ever made.
	Offset uint32 `json:"offset"`
	// Rotations are the recent rotations, oldest first: those whose replaced
	// epoch may still have a salt. Older ones are dropped; they stay counted
	// in Offset.
	Rotations []Rotation `json:"rotations,omitempty"`

	rev uint64 // KV revision read; 0 when the key does not exist
}

// offsetAt is the number of rotations at or before t.
func (s *schedule) offsetAt(t time.Time) int64 {
	o := int64(s.Offset)
	for i := len(s.Rotations) - 1; i >= 0 && s.Rotations[i].At.After(t); i-- {
		o--
	}
	return o
}

// epochOf applies the rule to t.
func (s *schedule) epochOf(t time.Time, length time.Duration) (uint32, error) {
	ns := t.UnixNano()
	if ns < 0 {
		return 0, fmt.Errorf("time %s is before 1970", t.UTC().Format(time.RFC3339))
	}
	k := ns/int64(length) + s.offsetAt(t)
	if k < 0 || k > math.MaxUint32 {
		return 0, fmt.Errorf("epoch of %s overflows 32 bits at epoch length %s", t.UTC().Format(time.RFC3339), length)
	}
	return uint32(k), nil
}

// firstAt is the earliest time whose epoch is at least e.
func (s *schedule) firstAt(e int64, length time.Duration) time.Time {
	// Between rotations the offset is constant, and within such a segment
	// epoch(t) >= e exactly when t >= (e - offset)·L.
	base := int64(s.Offset) - int64(len(s.Rotations))
	segStart := int64(0)
	for i := 0; ; i++ {
		cand := max(segStart, (e-(base+int64(i)))*int64(length))
		if i == len(s.Rotations) {
			return time.Unix(0, cand).UTC()
		}
		segEnd := s.Rotations[i].At.UnixNano()
		if cand < segEnd {
			return time.Unix(0, cand).UTC()
		}
		segStart = segEnd
	}
}

// bounds returns the start and end of epoch e and when its salt is due for
// destruction: end + grace, or end for a salt rotated out with DestroyNow.
func (s *schedule) bounds(e uint32, length, grace time.Duration) (start, end, destroyAt time.Time) {
	start = s.firstAt(int64(e), length)
	end = s.firstAt(int64(e)+1, length)
	destroyAt = end.Add(grace)
	if r, ok := s.rotationEnding(e); ok && r.DestroyNow && r.At.Equal(end) {
		destroyAt = end
	}
	return start, end, destroyAt
}

// rotationEnding returns the rotation that ended epoch e early, if any.
func (s *schedule) rotationEnding(e uint32) (Rotation, bool) {
	for _, r := range s.Rotations {
		if r.Replaced == e {
			return r, true
		}
	}
	return Rotation{}, false
}

// nextDestruction is the earliest destruction time after now that a
// rotation set, or the zero time.
func (s *schedule) nextDestruction(now time.Time, grace time.Duration) time.Time {
	var next time.Time
	for _, r := range s.Rotations {
		d := r.At
		if !r.DestroyNow {
			d = d.Add(grace)
		}
		if d.After(now) && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	return next
}

// rotated returns the schedule with one more rotation at now (or just after
// the last one, whose clock may have been ahead), dropping rotations whose
// replaced epoch is past its destruction by more than an epoch length.
// Dropping one only moves computed bounds of epochs ended before it
// earlier, and those salts are due anyway.
func (s *schedule) rotated(now time.Time, length, grace time.Duration, destroyNow bool) (*schedule, Rotation, error) {
	at := now.UTC()
	if n := len(s.Rotations); n > 0 && !at.After(s.Rotations[n-1].At) {
		at = s.Rotations[n-1].At.Add(time.Nanosecond)
	}
	replaced, err := s.epochOf(at, length)
	if err != nil {
		return nil, Rotation{}, err
	}
	if replaced == math.MaxUint32 {
		return nil, Rotation{}, fmt.Errorf("epoch numbers exhausted at epoch length %s", length)
	}
	r := Rotation{At: at, Epoch: replaced + 1, Replaced: replaced, DestroyNow: destroyNow}
	next := &schedule{Offset: s.Offset + 1, rev: s.rev}
	for _, old := range s.Rotations {
		if old.At.Add(grace + length).After(now) {
			next.Rotations = append(next.Rotations, old)
		}
	}
	next.Rotations = append(next.Rotations, r)
	return next, r, nil
}

func parseSchedule(b []byte, rev uint64) (*schedule, error) {
	s := &schedule{rev: rev}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s in %s: %w", rotationKey, bus.SaltBucket, err)
	}
	if !slices.IsSortedFunc(s.Rotations, func(a, b Rotation) int { return a.At.Compare(b.At) }) ||
		uint64(len(s.Rotations)) > uint64(s.Offset) {
		return nil, fmt.Errorf("%s in %s is inconsistent; it is written only by `vakt salts rotate`", rotationKey, bus.SaltBucket)
	}
	return s, nil
}

// readSchedule reads rotationKey from the bucket.
func (s *SaltStore) readSchedule(ctx context.Context) (*schedule, error) {
	e, err := s.kv.Get(ctx, rotationKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return &schedule{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rotationKey, err)
	}
	return parseSchedule(e.Value(), e.Revision())
}

// refreshSchedule reads the schedule and makes it the one in use.
func (s *SaltStore) refreshSchedule(ctx context.Context) error {
	sc, err := s.readSchedule(ctx)
	if err != nil {
		return err
	}
	s.adopt(sc)
	return nil
}

// adopt installs a schedule read from the bucket and logs a rotation this
// replica learns of.
func (s *SaltStore) adopt(sc *schedule) bool {
	installed, rotated := s.setSchedule(sc)
	if rotated {
		s.log.Warn("salts rotated: a new epoch is in use", "rotations", sc.Offset)
	}
	return installed
}

// setSchedule installs sc unless the one in use is as new, and reports
// whether it did and whether sc has more rotations than the one it replaced.
// A schedule with fewer rotations is never installed: epoch numbers must not
// go back and name a second salt.
func (s *SaltStore) setSchedule(sc *schedule) (installed, rotated bool) {
	for {
		cur := s.sched.Load()
		if cur != nil && (sc.rev <= cur.rev || sc.Offset < cur.Offset) {
			return false, false
		}
		if s.sched.CompareAndSwap(cur, sc) {
			return true, cur != nil && cur.Offset != sc.Offset
		}
	}
}

// Rotate starts a new epoch now, after a suspected leak of the current salt:
// from now on every replica uses a new salt and gives every IP new ids. The
// replaced salt is kept until now + grace, like any salt after its epoch,
// so that access and erasure requests for its rows still work (whoever has
// the leaked copy can link them anyway); with destroyNow it is destroyed at
// once. Replicas switch within moments (they watch the bucket) and at most
// a janitor cycle later.
func (s *SaltStore) Rotate(ctx context.Context, destroyNow bool) (Rotation, error) {
	for range rotateAttempts {
		cur, err := s.readSchedule(ctx)
		if err != nil {
			return Rotation{}, err
		}
		next, r, err := cur.rotated(s.now(), s.length, s.grace, destroyNow)
		if err != nil {
			return Rotation{}, err
		}
		b, err := json.Marshal(next)
		if err != nil {
			return Rotation{}, err
		}
		var rev uint64
		if cur.rev == 0 {
			rev, err = s.kv.Create(ctx, rotationKey, b)
		} else {
			rev, err = s.kv.Update(ctx, rotationKey, b, cur.rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // another rotation won the race: rotate after it
		}
		if err != nil {
			return Rotation{}, fmt.Errorf("write %s: %w", rotationKey, err)
		}
		next.rev = rev
		s.setSchedule(next)
		s.log.Warn("salts rotated by command", "ended_epoch", r.Replaced, "new_epoch", r.Epoch, "destroy_now", destroyNow)
		if destroyNow {
			if _, err := s.Destroy(ctx); err != nil {
				return r, err
			}
		}
		return r, nil
	}
	return Rotation{}, fmt.Errorf("rotate: %d concurrent rotations; try again", rotateAttempts)
}

// Rotations lists the recent rotations, oldest first.
func (s *SaltStore) Rotations() []Rotation {
	return slices.Clone(s.schedule().Rotations)
}

// watchSchedule follows rotationKey until ctx ends and wakes the janitor on
// each change, so a rotation reaches this replica within moments.
func (s *SaltStore) watchSchedule(ctx context.Context, wake chan<- struct{}) {
	w, err := s.kv.Watch(ctx, rotationKey, jetstream.IgnoreDeletes())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cannot watch salt rotations; checking every minute instead", "err", err)
		}
		return
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				continue // end of the initial values
			}
			sc, err := parseSchedule(e.Value(), e.Revision())
			if err != nil {
				s.log.Error("salt rotation schedule", "err", err)
				continue
			}
			if s.adopt(sc) {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
	}
}
