package bench

import (
	"runtime"
	"testing"
	"time"
)

// TestThreadCPUCountsWhatTheProcessSpends: CPU burnt after the first
// sample shows up under the threads' names, and no more than the process
// spent in all.
func TestThreadCPUCountsWhatTheProcessSpends(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread CPU times come from /proc")
	}
	tc := newThreadCPU()
	cpu0 := cpuTime()
	x := 0
	// Until the process has spent 300 ms of CPU, however long a busy
	// machine makes that take.
	for cpuTime()-cpu0 < 300*time.Millisecond {
		for range 1 << 16 {
			x++
		}
	}
	tc.sample()
	spent := cpuTime() - cpu0
	var sum time.Duration
	for _, r := range tc.result() {
		if r.Name == "" {
			t.Errorf("a thread without a name: %+v", r)
		}
		sum += r.CPU
	}
	// Ticks are 10 ms: allow one per thread's rounding either way.
	if sum < 200*time.Millisecond || sum > spent+100*time.Millisecond {
		t.Errorf("threads spent %s, the process %s (a busy loop to 300 ms of CPU, %d turns)", sum, spent, x)
	}
}
