package store

import (
	"context"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/metrics"
)

// observingInserter fails its first attempts and records the store's
// insert health as each attempt begins.
type observingInserter struct {
	flakyInserter
	s    *Store
	seen []InsertHealth
}

func (o *observingInserter) insert(ctx context.Context, token string, r *rows) error {
	o.seen = append(o.seen, o.s.InsertHealth())
	return o.flakyInserter.insert(ctx, token, r)
}

// TestInsertHealth: failing since the first failure of a run, with the
// latest error, and healthy again after a commit.
func TestInsertHealth(t *testing.T) {
	t.Parallel()
	msgs := []*fakeMsg{{id: "1", data: batchMsg(0, 3)}}
	cfg := Config{ClickHouse: ClickHouseConfig{Addr: []string{"x:1"}}, MaxRetryBackoff: 50 * time.Millisecond}.withDefaults()
	s := &Store{cfg: cfg, log: discardLogger(), m: metrics.New()}
	ins := &observingInserter{flakyInserter: flakyInserter{failures: 3, msgs: msgs}, s: s}
	s.ins = ins
	if h := s.InsertHealth(); !h.LastSuccess.IsZero() || !h.FailingSince.IsZero() {
		t.Fatalf("before any insert: %+v", h)
	}
	w := &worker{s: s, keepAlive: time.Second, avgRowsPerMsg: 1, avgBytesPerRow: 1}
	for _, m := range msgs {
		w.add(m)
	}
	begin := time.Now()
	if err := w.commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ins.seen) != 4 {
		t.Fatalf("%d attempts observed, want 4", len(ins.seen))
	}
	first := ins.seen[1].FailingSince
	for i, h := range ins.seen[1:] {
		if h.FailingSince.IsZero() || !h.FailingSince.Equal(first) || first.Before(begin) || h.LastError != "server unavailable" {
			t.Errorf("before attempt %d: %+v; want failing since the first failure, with its error", i+2, h)
		}
	}
	if h := s.InsertHealth(); h.LastSuccess.Before(first) || !h.FailingSince.IsZero() || h.LastError != "" {
		t.Errorf("after the commit: %+v", h)
	}
}
