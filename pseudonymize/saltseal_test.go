package pseudonymize

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// assertNoSaltInLogs fails if any encoding of a salt is in logs.
func assertNoSaltInLogs(t *testing.T, logs string, salts ...[]byte) {
	t.Helper()
	for _, s := range salts {
		for _, enc := range []string{string(s), hex.EncodeToString(s), strings.ToUpper(hex.EncodeToString(s)),
			base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s)} {
			if strings.Contains(logs, enc) {
				t.Fatalf("a salt is in the logs (%d-char encoding)", len(enc))
			}
		}
	}
}

// TestSaltReplacedIsRefused is acceptance 2 of issue 12: a client with full
// rights on NATS replaces the current salt; the running pseudonymiser and
// one started afterwards refuse it, raise the alarm, publish nothing under
// it, and resume under a new salt after `vakt salts rotate`, losing nothing.
func TestSaltReplacedIsRefused(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	var logs1, logs2 testenv.SyncBuffer
	m1, m2 := metrics.New(), metrics.New()
	cfg := Config{Workers: 2, FetchBatch: 4}

	alerts := make(chan *nats.Msg, 16)
	sub, err := n.js.Conn().ChanSubscribe(bus.AlertsSubject(AlertSite), alerts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	r1 := startPseudonymizer(t, n.connect(t, "replica-1"), cfg, slog.New(slog.NewTextHandler(&logs1, nil)), m1)
	reader := newEventReader(t, n.js)
	ip := netip.MustParseAddr("203.0.113.99")
	publishRaw(t, n.js, testSite, "before", []event.Raw{rawRecord(ip, "/a")})
	before := reader.next(1, 10*time.Second)[0].Events[0]

	// The attacker: a separate client with every right.
	kv, err := n.connect(t, "attacker").KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	k := before.Epoch
	real, err := kv.Get(ctx, epochKey(k))
	if err != nil {
		t.Fatal(err)
	}
	realSalt := bytes.Clone(real.Value())
	forged := bytes.Repeat([]byte{'A'}, SaltSize)
	forgedKeys, err := newKeys(k, bytes.Clone(forged))
	if err != nil {
		t.Fatal(err)
	}
	if before.ClientID == forgedKeys.ClientID(ip) {
		t.Fatal("the forged salt gives the real id: the test proves nothing")
	}
	if _, err := kv.Put(ctx, epochKey(k), forged); err != nil {
		t.Fatal(err)
	}
	replacedAt := time.Now()

	// Within seconds: the metric, the ERROR log, the alert.
	conflicts := func(m *metrics.Pipeline) float64 {
		return counter(t, m.SaltConflicts.WithLabelValues(itoa(k)))
	}
	testenv.WaitFor(t, 5*time.Second, "the running replica's conflict metric", func() bool { return conflicts(m1) == 1 })
	t.Logf("refused %s after the replacement", time.Since(replacedAt).Round(time.Millisecond))
	if !strings.Contains(logs1.String(), "level=ERROR msg=\"SALT CONFLICT") {
		t.Fatalf("no ERROR log of the conflict:\n%s", logs1.String())
	}
	select {
	case msg := <-alerts:
		var al saltAlert
		if err := json.Unmarshal(msg.Data, &al); err != nil || al.Rule != SaltConflictRule || al.Epoch != k ||
			al.Severity != 5 || al.What != ConflictReplaced || al.Schema != "vakt.alert/v1" {
			t.Fatalf("alert %s: %+v, %v", msg.Data, al, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert on " + bus.AlertsSubject(AlertSite))
	}

	// Events that arrive now wait: nothing is published under either salt.
	later := []netip.Addr{ip, netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::1")}
	for i, a := range later {
		publishRaw(t, n.js, testSite, "during-"+itoa(uint32(i)), []event.Raw{rawRecord(a, "/b")})
	}
	reader.none(2 * time.Second)

	// A replica started after the replacement refuses too. Its own check
	// is the seal: remove the first replica's conflict record so that only
	// the seal can tell it.
	if err := kv.Purge(ctx, conflictKey(k)); err != nil {
		t.Fatal(err)
	}
	r2 := startPseudonymizer(t, n.connect(t, "replica-2"), cfg, slog.New(slog.NewTextHandler(&logs2, nil)), m2)
	testenv.WaitFor(t, 5*time.Second, "the fresh replica's conflict metric", func() bool { return conflicts(m2) == 1 })
	if !strings.Contains(logs2.String(), "level=ERROR msg=\"SALT CONFLICT") {
		t.Fatalf("fresh replica: no ERROR log of the conflict:\n%s", logs2.String())
	}
	reader.none(time.Second)

	// The operator rotates: both replicas resume under a new salt and the
	// waiting events are published, once each.
	cmd, err := NewSaltStore(ctx, n.connect(t, "vakt-salts"), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := cmd.Rotate(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Replaced != k {
		t.Fatalf("rotation replaced epoch %d, want %d", rot.Replaced, k)
	}
	got := reader.next(len(later), 30*time.Second)
	rotKeys, err := cmd.Lookup(ctx, rot.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]bool{}
	for _, a := range later {
		want[rotKeys.ClientID(a)] = true
	}
	for _, b := range got {
		for _, e := range b.Events {
			if e.Epoch != rot.Epoch || !want[e.ClientID] {
				t.Errorf("event after rotation: epoch %d, id %x; want epoch %d and an id of its salt", e.Epoch, e.ClientID, rot.Epoch)
			}
			delete(want, e.ClientID)
		}
	}
	if len(want) != 0 {
		t.Errorf("%d waiting events lost", len(want))
	}
	reader.none(time.Second)

	// No event ever carried an id of the forged salt.
	all := newEventReader(t, n.js).next(1+len(later), 10*time.Second)
	for _, b := range all {
		for _, e := range b.Events {
			for _, a := range later {
				if e.ClientID == forgedKeys.ClientID(a) || e.NetworkID == forgedKeys.NetworkID(a) {
					t.Fatal("an event carries an id computed with the forged salt")
				}
			}
		}
	}
	// The forged salt is gone with the replaced epoch (--destroy-now).
	if _, err := kv.Get(ctx, epochKey(k)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("forged salt still in the bucket after rotate --destroy-now: %v", err)
	}
	if conflicts(m1) != 1 || conflicts(m2) != 1 {
		t.Errorf("conflict counters %v, %v; want 1 each", conflicts(m1), conflicts(m2))
	}
	r1.stop(t)
	r2.stop(t)
	assertNoSaltInLogs(t, logs1.String()+logs2.String(), realSalt, forged)
}

func itoa(k uint32) string { return epochKey(k)[len(epochKeyPrefix):] }

// TestSaltSealAtLoad: a replica that loads a salt after it was replaced (no
// replica watching) refuses it through the seal; a removed salt is not
// recreated under the same epoch; an older vakt's salt is sealed on first
// use, a salt planted before any replica made one is refused.
func TestSaltSealAtLoad(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	kv, err := n.js.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	newStore := func() *SaltStore {
		s, err := NewSaltStore(ctx, n.connect(t, "replica"), Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// An older vakt's bucket: a salt without a seal, written before any
	// current vakt opened the bucket, is adopted and sealed.
	k, _ := (&SaltStore{length: DefaultEpochLength}).EpochOf(time.Now())
	if _, err := kv.Create(ctx, epochKey(k), bytes.Repeat([]byte{7}, SaltSize)); err != nil {
		t.Fatal(err)
	}
	s := newStore()
	if _, err := s.Current(ctx); err != nil {
		t.Fatalf("unsealed salt: %v", err)
	}
	if _, err := kv.Get(ctx, sealKey(k)); err != nil {
		t.Fatalf("salt not sealed on first use: %v", err)
	}
	if _, err := newStore().Current(ctx); err != nil {
		t.Fatalf("sealed salt refused: %v", err)
	}

	// Replaced while no replica watched.
	if _, err := kv.Put(ctx, epochKey(k), bytes.Repeat([]byte{'A'}, SaltSize)); err != nil {
		t.Fatal(err)
	}
	fresh := newStore()
	if _, err := fresh.Current(ctx); !errors.Is(err, ErrSaltConflict) {
		t.Fatalf("replaced salt: err = %v, want ErrSaltConflict", err)
	}
	if _, err := fresh.Lookup(ctx, k); !errors.Is(err, ErrSaltConflict) {
		t.Fatalf("Lookup of a replaced salt: err = %v, want ErrSaltConflict", err)
	}
	if _, err := kv.Get(ctx, conflictKey(k)); err != nil {
		t.Fatalf("conflict not recorded: %v", err)
	}

	// Removed: the epoch is refused rather than given a second salt.
	if err := kv.Purge(ctx, conflictKey(k)); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, epochKey(k)); err != nil {
		t.Fatal(err)
	}
	if _, err := newStore().Current(ctx); !errors.Is(err, ErrSaltConflict) {
		t.Fatalf("removed salt: err = %v, want ErrSaltConflict", err)
	}
	if e, err := kv.Get(ctx, epochKey(k)); err == nil {
		t.Fatalf("a second salt was created for the epoch (revision %d)", e.Revision())
	}

	// Planted: a salt written for the next epoch before any replica made
	// one has no seal, and is refused once its epoch comes.
	if _, err := kv.Create(ctx, epochKey(k+1), bytes.Repeat([]byte{'B'}, SaltSize)); err != nil {
		t.Fatal(err)
	}
	later := newStore()
	var alarms []string
	later.onConflict = func(_ uint32, what string) { alarms = append(alarms, what) }
	start, _, _ := later.Bounds(k + 1)
	later.now = func() time.Time { return start.Add(time.Minute) }
	if _, err := later.Current(ctx); !errors.Is(err, ErrSaltConflict) || len(alarms) != 1 || alarms[0] != ConflictUnsealed {
		t.Fatalf("planted salt: err = %v, alarms %v; want ErrSaltConflict and one %q alarm", err, alarms, ConflictUnsealed)
	}
}

// TestRevalidateRefusesChangedSalt: the minute check catches what a broken
// watch missed: a replaced or removed salt refuses the epoch; an unchanged
// one is kept.
func TestRevalidateRefusesChangedSalt(t *testing.T) {
	for _, what := range []string{ConflictReplaced, ConflictRemoved} {
		t.Run(what, func(t *testing.T) {
			n := startNATS(t)
			ctx := context.Background()
			s, err := NewSaltStore(ctx, n.js, Config{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var alarms []string
			s.onConflict = func(_ uint32, what string) { alarms = append(alarms, what) }
			before, err := s.Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Revalidate(ctx); err != nil {
				t.Fatal(err)
			}
			if k, _ := s.Current(ctx); k != before {
				t.Fatal("Revalidate dropped a salt that is still in the bucket")
			}
			kv, err := n.js.KeyValue(ctx, bus.SaltBucket)
			if err != nil {
				t.Fatal(err)
			}
			if what == ConflictRemoved {
				err = kv.Delete(ctx, epochKey(before.Epoch()))
			} else {
				_, err = kv.Put(ctx, epochKey(before.Epoch()), make([]byte, SaltSize))
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Revalidate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Current(ctx); !errors.Is(err, ErrSaltConflict) {
				t.Fatalf("Current after the salt was %s: err = %v, want ErrSaltConflict", what, err)
			}
			if !s.Blocked() || len(alarms) != 1 || alarms[0] != what {
				t.Fatalf("blocked %v, alarms %v; want blocked and one %q alarm", s.Blocked(), alarms, what)
			}
			if err := s.Revalidate(ctx); err != nil || len(alarms) != 1 {
				t.Fatalf("second Revalidate: %v, alarms %v; want one alarm in all", err, alarms)
			}
		})
	}
}
