package pseudonymize

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

func TestEpochBounds(t *testing.T) {
	s := &SaltStore{length: 24 * time.Hour, grace: 48 * time.Hour}
	tests := []struct {
		t                      time.Time
		start, end, destroyAt  string
		sameEpochAsPreviousRow bool
	}{
		{t: time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), start: "2025-03-10T00:00:00Z", end: "2025-03-11T00:00:00Z", destroyAt: "2025-03-13T00:00:00Z"},
		{t: time.Date(2025, 3, 10, 23, 59, 59, 999999999, time.UTC), start: "2025-03-10T00:00:00Z", end: "2025-03-11T00:00:00Z", destroyAt: "2025-03-13T00:00:00Z", sameEpochAsPreviousRow: true},
		// Epochs follow UTC, not the local zone of the timestamp.
		{t: time.Date(2025, 3, 11, 0, 30, 0, 0, time.FixedZone("CET", 3600)), start: "2025-03-10T00:00:00Z", end: "2025-03-11T00:00:00Z", destroyAt: "2025-03-13T00:00:00Z", sameEpochAsPreviousRow: true},
		{t: time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC), start: "2025-03-11T00:00:00Z", end: "2025-03-12T00:00:00Z", destroyAt: "2025-03-14T00:00:00Z"},
	}
	var prev uint32
	for i, tt := range tests {
		k, err := s.EpochOf(tt.t)
		if err != nil {
			t.Fatal(err)
		}
		start, end, destroyAt := s.Bounds(k)
		if got := start.Format(time.RFC3339); got != tt.start {
			t.Errorf("row %d: start %s, want %s", i, got, tt.start)
		}
		if got := end.Format(time.RFC3339); got != tt.end {
			t.Errorf("row %d: end %s, want %s", i, got, tt.end)
		}
		if got := destroyAt.Format(time.RFC3339); got != tt.destroyAt {
			t.Errorf("row %d: destroy at %s, want %s", i, got, tt.destroyAt)
		}
		if i > 0 && (k == prev) != tt.sameEpochAsPreviousRow {
			t.Errorf("row %d: epoch %d vs previous %d", i, k, prev)
		}
		prev = k
	}
	if _, err := s.EpochOf(time.Unix(-1, 0)); err == nil {
		t.Error("EpochOf before 1970: no error")
	}
	short := &SaltStore{length: time.Second}
	if _, err := short.EpochOf(time.Unix(1<<33, 0)); err == nil {
		t.Error("EpochOf overflowing 32 bits: no error")
	}
}

func TestNextDestruction(t *testing.T) {
	s := &SaltStore{length: 10 * time.Second, grace: 5 * time.Second}
	tests := []struct {
		now  time.Duration // since the Unix epoch
		want time.Duration
	}{
		{now: 100 * time.Second, want: 5 * time.Second}, // epoch 9 ends at 100, destroyed at 105
		{now: 104 * time.Second, want: time.Second},
		{now: 105 * time.Second, want: 10 * time.Second}, // just destroyed; next at 115
		{now: 106 * time.Second, want: 9 * time.Second},
	}
	for _, tt := range tests {
		got := s.nextDestruction(time.Unix(0, int64(tt.now)))
		if want := tt.want + 5*time.Millisecond; got != want {
			t.Errorf("now %s: next destruction in %s, want %s", tt.now, got, want)
		}
	}
	long := &SaltStore{length: 24 * time.Hour, grace: 48 * time.Hour}
	if got := long.nextDestruction(time.Now()); got > janitorMaxSleep {
		t.Errorf("janitor sleeps %s, more than the %s cap", got, janitorMaxSleep)
	}
}

func TestSaltCreationRace(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	const replicas = 6
	ids := make([]uint64, replicas)
	var wg sync.WaitGroup
	ip := netip.MustParseAddr("198.51.100.7")
	for i := range replicas {
		js := n.connect(t, "replica")
		wg.Go(func() {
			s, err := NewSaltStore(ctx, js, Config{}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			k, err := s.Current(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ClientID(ip)
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("replica %d has id %x, replica 0 has %x: replicas raced to different salts", i, ids[i], ids[0])
		}
	}
	kv, err := n.js.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSaltStore(ctx, n.js, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := s.EpochOf(time.Now())
	h, err := kv.History(ctx, epochKey(k))
	if err != nil || len(h) != 1 || h[0].Revision() == 0 || len(h[0].Value()) != SaltSize {
		t.Fatalf("history of the epoch key: %d entries, err %v; want exactly one %d-byte salt", len(h), err, SaltSize)
	}
}

func TestEpochLengthMismatch(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	if _, err := NewSaltStore(ctx, n.js, Config{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSaltStore(ctx, n.js, Config{EpochLength: 24 * time.Hour}, nil); err != nil {
		t.Fatalf("same epoch length: %v", err)
	}
	_, err := NewSaltStore(ctx, n.js, Config{EpochLength: time.Hour}, nil)
	if !errors.Is(err, ErrEpochLengthMismatch) {
		t.Fatalf("other epoch length: err = %v, want ErrEpochLengthMismatch", err)
	}
}

// saltSubjectCount is how many messages the bucket's stream holds for key.
func saltSubjectCount(t *testing.T, js jetstream.JetStream, key string) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), "KV_"+bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter("$KV."+bus.SaltBucket+"."+key))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// assertDestroyed checks that no trace of key is left in the bucket.
func assertDestroyed(t *testing.T, js jetstream.JetStream, key string) {
	t.Helper()
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("Get(%s) err = %v, want ErrKeyNotFound", key, err)
	}
	if h, err := kv.History(ctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("History(%s) = %d entries, err %v; want none", key, len(h), err)
	}
	if c := saltSubjectCount(t, js, key); c != 0 {
		t.Errorf("stream holds %d messages for %s, want 0", c, key)
	}
}

func TestDestroyLeavesNoHistory(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	s, err := NewSaltStore(ctx, n.js, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const k = 20000 // 2024-10-04
	start, _, destroyAt := s.Bounds(k)
	now := start.Add(time.Hour)
	s.now = func() time.Time { return now }

	keys, err := s.Current(ctx)
	if err != nil || keys.Epoch() != k {
		t.Fatalf("Current: %v, %v", keys, err)
	}
	// A purge marker someone left by hand for an old epoch: destruction must
	// remove markers too.
	kv, err := n.js.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, epochKey(k-5), make([]byte, SaltSize)); err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, epochKey(k-5)); err != nil {
		t.Fatal(err)
	}
	if c := saltSubjectCount(t, n.js, epochKey(k-5)); c != 1 {
		t.Fatalf("purge marker count %d, want 1", c)
	}

	now = destroyAt.Add(-time.Nanosecond)
	got, err := s.Destroy(ctx)
	if err != nil || len(got) != 1 || got[0] != k-5 {
		t.Fatalf("Destroy before due = %v, %v; want only the old marker's epoch", got, err)
	}
	assertDestroyed(t, n.js, epochKey(k-5))
	if _, err := s.Lookup(ctx, k); err != nil {
		t.Fatalf("Lookup of a live salt: %v", err)
	}

	live, err := kv.Get(ctx, epochKey(k))
	if err != nil {
		t.Fatal(err)
	}
	salt := bytes.Clone(live.Value())
	now = destroyAt
	got, err = s.Destroy(ctx)
	if err != nil || len(got) != 1 || got[0] != k {
		t.Fatalf("Destroy when due = %v, %v; want [%d]", got, err, k)
	}
	assertDestroyed(t, n.js, epochKey(k))
	// Gone from the disk too, not only from the bucket's index.
	assertNotOnDisk(t, n.storeDir, salt)
	if _, err := s.Lookup(ctx, k); !errors.Is(err, ErrSaltDestroyed) {
		t.Errorf("Lookup after destruction: err = %v, want ErrSaltDestroyed", err)
	}
	if _, err := s.loadOrCreate(ctx, k, now); !errors.Is(err, ErrSaltDestroyed) {
		t.Errorf("recreating a destroyed epoch: err = %v, want ErrSaltDestroyed", err)
	}
	s.current.RLock()
	cached := s.current.keys
	s.current.RUnlock()
	if cached != nil {
		t.Errorf("keys of epoch %d still in memory after destruction", cached.Epoch())
	}

	next, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	if next.Epoch() <= k || next.ClientID(ip) == keys.ClientID(ip) {
		t.Errorf("after destruction: epoch %d, same id %v", next.Epoch(), next.ClientID(ip) == keys.ClientID(ip))
	}
}

func TestEpochs(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	s, err := NewSaltStore(ctx, n.js, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	keys, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.Epochs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("Epochs() = %+v, want one", list)
	}
	e := list[0]
	start, end, destroyAt := s.Bounds(keys.Epoch())
	if e.Epoch != keys.Epoch() || !e.Current || e.Start != start || e.End != end || e.DestroyAt != destroyAt ||
		e.Created.Before(before) || e.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("Epochs()[0] = %+v", e)
	}
	if e.DestroyAt.Sub(e.End) != DefaultGrace || e.End.Sub(e.Start) != DefaultEpochLength {
		t.Errorf("schedule %+v does not follow the defaults", e)
	}
}

// TestDestroyErasesLastMessage: a salt that is the last message written to
// the bucket is erased too, and stays erased after the server writes its
// state on shutdown.
func TestDestroyErasesLastMessage(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	s, err := NewSaltStore(ctx, n.js, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const k = 20000
	start, _, destroyAt := s.Bounds(k)
	now := start.Add(time.Hour)
	s.now = func() time.Time { return now }
	if _, err := s.Current(ctx); err != nil {
		t.Fatal(err)
	}
	kv, err := n.js.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, epochKey(k))
	if err != nil {
		t.Fatal(err)
	}
	salt := bytes.Clone(e.Value())
	now = destroyAt
	if got, err := s.Destroy(ctx); err != nil || len(got) != 1 {
		t.Fatalf("Destroy = %v, %v", got, err)
	}
	assertNotOnDisk(t, n.storeDir, salt)
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	assertNotOnDisk(t, n.storeDir, salt)
}

// TestConcurrentDestroy: replicas destroying the same due salt at once
// (each janitor, or `vakt salts rotate --destroy-now` while pseudonymisers
// run) all succeed; whoever erases a message first, the others find it gone.
func TestConcurrentDestroy(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	const replicas, k = 4, 20000
	stores := make([]*SaltStore, replicas)
	for i := range stores {
		s, err := NewSaltStore(ctx, n.connect(t, "replica"), Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	start, _, destroyAt := stores[0].Bounds(k)
	for _, s := range stores {
		s.now = func() time.Time { return start.Add(time.Hour) }
	}
	if _, err := stores[0].Current(ctx); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		// A salt per round, overwritten so that its key has several
		// messages to erase: the window for a lost race is wide.
		kv, err := n.js.KeyValue(ctx, bus.SaltBucket)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := kv.Put(ctx, epochKey(k), bytes.Repeat([]byte{byte(round)}, SaltSize)); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for _, s := range stores {
			s.now = func() time.Time { return destroyAt }
			wg.Go(func() {
				if _, err := s.Destroy(ctx); err != nil {
					t.Errorf("round %d: Destroy: %v", round, err)
				}
			})
		}
		wg.Wait()
		if _, err := kv.Get(ctx, epochKey(k)); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("round %d: salt still readable after destruction: %v", round, err)
		}
	}
}
