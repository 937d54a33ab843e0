package enforce

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync/atomic"
	"time"

	"github.com/vakt-dev/vakt/pseudonymize"
)

// keysRecheck is how often keys already held are read again: a salt
// destroyed, replaced or found in conflict is dropped within it.
const keysRecheck = 30 * time.Second

// heldKeys is one epoch's keys and when they were read.
type heldKeys struct {
	keys *pseudonymize.Keys
	read time.Time
}

// keyring holds the keys of the salt epochs the endpoint needs: the
// current one (to carry decisions to it) and those of the decisions. It
// reads salts, never creates one (pseudonymize.NewSaltReader).
type keyring struct {
	salts   *pseudonymize.SaltStore
	log     *slog.Logger
	now     func() time.Time
	held    atomic.Pointer[map[uint32]heldKeys]
	current atomic.Uint32 // the current epoch; 0 before the first refresh
	warned  map[uint32]bool
}

func newKeyring(salts *pseudonymize.SaltStore, log *slog.Logger, now func() time.Time) *keyring {
	k := &keyring{salts: salts, log: log, now: now, warned: map[uint32]bool{}}
	k.held.Store(&map[uint32]heldKeys{})
	return k
}

// keys returns the keys of epoch, or nil.
func (k *keyring) keys(epoch uint32) *pseudonymize.Keys {
	return (*k.held.Load())[epoch].keys
}

// count is the number of epochs held.
func (k *keyring) count() int { return len(*k.held.Load()) }

// refresh reads the rotation schedule, works out the current epoch and
// loads or drops keys so that exactly the epochs in need (the current one
// and those of decisions), whose salts live, are held.
func (k *keyring) refresh(ctx context.Context, need []uint32) {
	if err := k.salts.RefreshSchedule(ctx); err != nil && ctx.Err() == nil {
		k.log.Warn("decision endpoint: read the salt schedule", "err", err)
	}
	now := k.now()
	cur, err := k.salts.EpochOf(now)
	if err != nil {
		return
	}
	k.current.Store(cur)
	old := *k.held.Load()
	next := make(map[uint32]heldKeys, len(need)+1)
	for _, e := range append([]uint32{cur}, need...) {
		if _, done := next[e]; done {
			continue
		}
		h, ok := old[e]
		if ok && now.Sub(h.read) < keysRecheck {
			next[e] = h
			continue
		}
		keys, err := k.salts.Lookup(ctx, e)
		if err != nil {
			// No salt yet (no event pseudonymised in the epoch), or
			// destroyed: ids of that epoch cannot be computed.
			if !k.warned[e] && !errors.Is(err, context.Canceled) && e != cur {
				k.log.Info("decision endpoint: decisions of an epoch whose salt is gone no longer match", "epoch", e, "err", err)
				k.warned[e] = true
			}
			continue
		}
		next[e] = heldKeys{keys: keys, read: now}
	}
	if !maps.EqualFunc(old, next, func(a, b heldKeys) bool { return a == b }) {
		k.held.Store(&next)
	}
}
