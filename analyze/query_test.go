package analyze

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRunAtOnce: at most n queries run at a time, started in their order
// (a report lists its longest first), and every error is returned.
func TestRunAtOnce(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		var mu sync.Mutex
		var started []int
		var running, most atomic.Int32
		fs := make([]func() error, 12)
		for i := range fs {
			fs[i] = func() error {
				mu.Lock()
				started = append(started, i)
				mu.Unlock()
				r := running.Add(1)
				for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
				}
				defer running.Add(-1)
				if i%5 == 4 {
					return errors.New("query " + string(rune('a'+i)))
				}
				return nil
			}
		}
		err := runAtOnce(n, fs...)
		if most.Load() > int32(n) {
			t.Errorf("n=%d: %d ran at once", n, most.Load())
		}
		// A query starts only once all before it have: with n at once,
		// the i-th to start is at most n-1 places from i.
		for pos, i := range started {
			if i > pos+n-1 {
				t.Errorf("n=%d: query %d started %dth: %v", n, i, pos, started)
			}
		}
		if n == 1 && !slices.IsSorted(started) {
			t.Errorf("n=1: started %v, want in order", started)
		}
		if err == nil || err.Error() != "query e\nquery j" {
			t.Errorf("n=%d: errors %v", n, err)
		}
	}
}
