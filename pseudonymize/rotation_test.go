package pseudonymize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/testenv"
)

func sec(s float64) time.Time { return time.Unix(0, int64(s*1e9)).UTC() }

func TestScheduleRule(t *testing.T) {
	const L, G = 10 * time.Second, 5 * time.Second
	none := &schedule{}
	one := &schedule{Offset: 1, Rotations: []Rotation{{At: sec(123), Epoch: 13, Replaced: 12}}}
	now := &schedule{Offset: 1, Rotations: []Rotation{{At: sec(123), Epoch: 13, Replaced: 12, DestroyNow: true}}}
	two := &schedule{Offset: 2, Rotations: []Rotation{{At: sec(123), Epoch: 13, Replaced: 12}, {At: sec(125), Epoch: 14, Replaced: 13}}}
	boundary := &schedule{Offset: 1, Rotations: []Rotation{{At: sec(130), Epoch: 14, Replaced: 13}}}
	pruned := &schedule{Offset: 3, Rotations: []Rotation{{At: sec(503), Epoch: 53, Replaced: 52}}} // two older rotations dropped

	epochs := []struct {
		name string
		s    *schedule
		t    float64
		want uint32
	}{
		{"no rotation", none, 0, 0},
		{"no rotation", none, 129.999, 12},
		{"no rotation", none, 130, 13},
		{"before a rotation", one, 122.999, 12},
		{"at a rotation", one, 123, 13},
		{"rest of the period", one, 129.999, 13},
		{"next period one higher", one, 130, 14},
		{"earlier periods unchanged", one, 100, 10},
		{"two rotations", two, 124, 13},
		{"two rotations", two, 125, 14},
		{"two rotations", two, 131, 15},
		{"rotation at a boundary skips a number", boundary, 129.9, 12},
		{"rotation at a boundary skips a number", boundary, 130, 14},
		{"pruned rotations stay counted", pruned, 502, 52},
		{"pruned rotations stay counted", pruned, 503, 53},
		{"pruned rotations stay counted", pruned, 510, 54},
	}
	for _, tt := range epochs {
		got, err := tt.s.epochOf(sec(tt.t), L)
		if err != nil || got != tt.want {
			t.Errorf("%s: epochOf(%gs) = %d, %v; want %d", tt.name, tt.t, got, err, tt.want)
		}
	}

	bounds := []struct {
		name                  string
		s                     *schedule
		e                     uint32
		start, end, destroyAt float64
	}{
		{"no rotation", none, 12, 120, 130, 135},
		{"replaced epoch ends at the rotation", one, 12, 120, 123, 128},
		{"new epoch runs to the period's end", one, 13, 123, 130, 135},
		{"later epochs shifted", one, 14, 130, 140, 145},
		{"earlier epochs unchanged", one, 11, 110, 120, 125},
		{"destroyed at once", now, 12, 120, 123, 123},
		{"destroy-now applies to the replaced epoch only", now, 13, 123, 130, 135},
		{"two rotations", two, 13, 123, 125, 130},
		{"two rotations", two, 14, 125, 130, 135},
		{"skipped number is empty", boundary, 13, 130, 130, 135},
		{"pruned", pruned, 52, 500, 503, 508},
	}
	for _, tt := range bounds {
		start, end, destroyAt := tt.s.bounds(tt.e, L, G)
		if !start.Equal(sec(tt.start)) || !end.Equal(sec(tt.end)) || !destroyAt.Equal(sec(tt.destroyAt)) {
			t.Errorf("%s: bounds(%d) = %v %v %v; want %gs %gs %gs", tt.name, tt.e, start, end, destroyAt, tt.start, tt.end, tt.destroyAt)
		}
	}
}

// TestScheduleProperties: for random rotation histories, epochs never go
// back, and each epoch's bounds are exactly the times the rule maps to it.
func TestScheduleProperties(t *testing.T) {
	const L, G = 10 * time.Second, 5 * time.Second
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		s := &schedule{}
		at := 1000 * time.Second
		for range r.IntN(6) {
			at += time.Duration(r.Int64N(int64(3 * L)))
			next, _, err := s.rotated(time.Unix(0, int64(at)), L, G, r.IntN(2) == 0)
			if err != nil {
				t.Fatal(err)
			}
			s = next
		}
		prev := uint32(0)
		for ts := 990 * time.Second; ts < at+2*L; ts += time.Duration(1 + r.Int64N(int64(time.Second))) {
			tm := time.Unix(0, int64(ts))
			e, err := s.epochOf(tm, L)
			if err != nil {
				t.Fatal(err)
			}
			if e < prev {
				t.Fatalf("epoch went back from %d to %d at %v (%+v)", prev, e, tm, s)
			}
			prev = e
			start, end, _ := s.bounds(e, L, G)
			if tm.Before(start) || !tm.Before(end) {
				t.Fatalf("time %v in epoch %d outside its bounds [%v, %v) (%+v)", tm, e, start, end, s)
			}
		}
	}
}

func TestRotatedPrunesAndOrders(t *testing.T) {
	const L, G = 10 * time.Second, 5 * time.Second
	s := &schedule{}
	var err error
	for _, at := range []float64{100, 200, 300} {
		if s, _, err = s.rotated(sec(at), L, G, false); err != nil {
			t.Fatal(err)
		}
	}
	// At 300 the rotations at 100 and 200 are long past their salts' end.
	if s.Offset != 3 || len(s.Rotations) != 1 || !s.Rotations[0].At.Equal(sec(300)) {
		t.Fatalf("after three rotations: %+v", s)
	}
	// A clock behind the last rotation still rotates after it.
	s, r, err := s.rotated(sec(250), L, G, false)
	if err != nil || !r.At.After(sec(300)) || r.Replaced != 33 || r.Epoch != 34 || s.Offset != 4 {
		t.Fatalf("rotation behind the last one: %+v %+v %v", r, s, err)
	}
}

// idsOf returns the client id each IP got in the stored batches.
func idsOf(t *testing.T, batches []stored, epoch uint32) map[int]uint64 {
	t.Helper()
	ids := map[int]uint64{}
	for _, b := range batches {
		for _, e := range b.Events {
			if e.Epoch != epoch {
				t.Fatalf("event %s in epoch %d, want %d", e.Path, e.Epoch, epoch)
			}
			var j, i int
			if _, err := fmt.Sscanf(e.Path, "/ip/%d/%d", &j, &i); err != nil {
				t.Fatal(err)
			}
			if id, ok := ids[j]; ok && id != e.ClientID {
				t.Fatalf("ip %d got two client ids in epoch %d", j, epoch)
			}
			ids[j] = e.ClientID
		}
	}
	return ids
}

// TestRotateAcrossReplicas is acceptance (1) for `vakt salts rotate`:
// replicas agree on ids, all switch to a new epoch within moments of a
// rotation, a restarted replica agrees, the replaced salt serves
// data-subject requests until its grace ends and is then destroyed by the
// replicas with no command, and a salt destroyed at once is gone from the
// bucket and the disk, and no replica reproduces its ids.
func TestRotateAcrossReplicas(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	// Epochs of about 41 days: an epoch boundary passing during the test
	// (an hour's would, now and then) would shift every epoch it expects.
	cfg := Config{EpochLength: 1000 * time.Hour, Grace: 2 * time.Second, Workers: 1, FetchBatch: 1}
	var replicas []*running
	for i := range 3 {
		replicas = append(replicas, startPseudonymizer(t, n.connect(t, fmt.Sprintf("replica-%d", i)), cfg, nil, nil))
	}
	reader := newEventReader(t, n.js)
	ips := testIPs(6, 2)
	round := 0
	send := func(msgs int) []stored {
		t.Helper()
		round++
		for i := range msgs {
			recs := make([]event.Raw, len(ips))
			for j, ip := range ips {
				recs[j] = rawRecord(ip, fmt.Sprintf("/ip/%d/%d", j, round*1000+i))
			}
			publishRaw(t, n.js, testSite, fmt.Sprintf("r%d-%d", round, i), recs)
		}
		return reader.next(msgs, 20*time.Second)
	}
	outs := func() []uint64 {
		var o []uint64
		for _, r := range replicas {
			o = append(o, r.p.Stats().EventsOut)
		}
		return o
	}
	// agree checks that every replica's in-memory keys give the stored ids:
	// whichever replica handles an IP, it gets the same id.
	agree := func(epoch uint32, ids map[int]uint64) {
		t.Helper()
		for i, r := range replicas {
			keys, err := r.p.Salts().Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for j, ip := range ips {
				if keys.Epoch() != epoch || keys.ClientID(ip.Unmap()) != ids[j] {
					t.Fatalf("replica %d: epoch %d, id of ip %d differs from the stored one (epoch %d)", i, keys.Epoch(), j, epoch)
				}
			}
		}
	}
	// shared checks that the stored batches came from several replicas.
	shared := func(before []uint64) {
		t.Helper()
		working := 0
		for i, o := range outs() {
			if o > before[i] {
				working++
			}
		}
		if working < 2 {
			t.Errorf("only %d replica did work: the test would not show that replicas agree", working)
		}
	}

	first := send(30)
	epoch0 := first[0].Events[0].Epoch
	ids0 := idsOf(t, first, epoch0)
	shared([]uint64{0, 0, 0})
	agree(epoch0, ids0)

	// The command: its own connection and salt store, as `vakt salts rotate`.
	cmd, err := NewSaltStore(ctx, n.connect(t, "vakt salts"), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := cmd.Rotate(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Replaced != epoch0 || rot.Epoch != epoch0+1 {
		t.Fatalf("rotation %+v from epoch %d", rot, epoch0)
	}
	start := time.Now()
	testenv.WaitFor(t, 5*time.Second, "every replica switching", func() bool {
		for _, r := range replicas {
			if k, err := r.p.Salts().EpochOf(time.Now()); err != nil || k != rot.Epoch {
				return false
			}
		}
		return true
	})
	t.Logf("all 3 replicas switched %s after the rotation was written", time.Since(start))

	// The replaced salt lives until its grace ends: access and erasure
	// requests for epoch0's rows still work.
	old, err := cmd.Lookup(ctx, epoch0)
	if err != nil {
		t.Fatalf("replaced salt before its destruction time: %v", err)
	}
	if old.ClientID(ips[0].Unmap()) != ids0[0] {
		t.Fatal("the replaced salt does not reproduce its epoch's ids")
	}

	before := outs()
	second := send(30)
	ids1 := idsOf(t, second, rot.Epoch)
	for j := range ips {
		if ids1[j] == ids0[j] {
			t.Errorf("ip %d kept its id across the rotation", j)
		}
	}
	shared(before)
	agree(rot.Epoch, ids1)

	// A restarted replica uses the rotated schedule and the new salt.
	replicas[0].stop(t)
	replicas[0] = startPseudonymizer(t, n.connect(t, "replica-0-restarted"), cfg, nil, nil)
	replicas[1].stop(t)
	replicas[2].stop(t)
	if got := idsOf(t, send(3), rot.Epoch); len(got) != len(ips) {
		t.Fatalf("after restart: %d ips", len(got))
	} else {
		for j := range ips {
			if got[j] != ids1[j] {
				t.Fatalf("ip %d: id changed across a restart after the rotation", j)
			}
		}
	}

	_, _, destroyAt := cmd.Bounds(epoch0)
	if want := rot.At.Add(cfg.Grace); !destroyAt.Equal(want) {
		t.Fatalf("replaced salt destroyed at %v, want rotation + grace %v", destroyAt, want)
	}
	// When its grace ends the replicas' janitors destroy it, with no command.
	testenv.WaitFor(t, time.Until(destroyAt)+3*time.Second, "the replaced salt's destruction", func() bool {
		return saltSubjectCount(t, n.js, epochKey(epoch0)) == 0
	})
	if early := time.Until(destroyAt); early > 0 {
		t.Fatalf("replaced salt destroyed %s early", early)
	}
	assertDestroyed(t, n.js, epochKey(epoch0))

	// A rotation that destroys the replaced salt at once.
	kv, err := n.js.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, epochKey(rot.Epoch))
	if err != nil {
		t.Fatal(err)
	}
	leaked := bytes.Clone(e.Value())
	rot2, err := cmd.Rotate(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if rot2.Replaced != rot.Epoch {
		t.Fatalf("second rotation %+v", rot2)
	}
	assertDestroyed(t, n.js, epochKey(rot.Epoch))
	assertNotOnDisk(t, n.storeDir, leaked)
	if _, err := cmd.Lookup(ctx, rot.Epoch); !errors.Is(err, ErrSaltDestroyed) {
		t.Errorf("Lookup of a salt destroyed at once: %v", err)
	}
	ids2 := idsOf(t, send(3), rot2.Epoch)
	for j := range ips {
		if ids2[j] == ids1[j] || ids2[j] == ids0[j] {
			t.Errorf("ip %d: an id of a destroyed salt came back", j)
		}
	}
}

// assertNotOnDisk fails if salt's bytes are in any file under dir.
func assertNotOnDisk(t *testing.T, dir string, salt []byte) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, part := range [][]byte{salt, salt[:16], salt[16:]} {
			if bytes.Contains(b, part) {
				return fmt.Errorf("destroyed salt bytes remain in %s", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no files scanned")
	}
}

func TestKeysOfEpochAfterRotation(t *testing.T) {
	// Lookup and Current agree with the rotated rule on one store.
	n := startNATS(t)
	ctx := context.Background()
	s, err := NewSaltStore(ctx, n.js, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k0, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Rotate(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := s.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.200")
	if k1.Epoch() != r.Epoch || k1.Epoch() != k0.Epoch()+1 || k1.ClientID(ip) == k0.ClientID(ip) {
		t.Fatalf("after Rotate: epoch %d (was %d, rotation %+v)", k1.Epoch(), k0.Epoch(), r)
	}
	list, err := s.Epochs(ctx)
	if err != nil || len(list) != 2 || !list[0].Rotated || list[0].Current || !list[1].Current || !list[0].End.Equal(r.At) {
		t.Fatalf("Epochs() = %+v, %v", list, err)
	}
	if got := s.Rotations(); len(got) != 1 || got[0] != r {
		t.Fatalf("Rotations() = %+v", got)
	}
}
