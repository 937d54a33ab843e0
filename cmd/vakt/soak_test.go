package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// soakDuration is how long TestSoakSteadyFollow follows its log.
const soakDuration = 3 * time.Minute

// soakRSSBound is the documented bound (BENCHMARKS.md, "Memory") on the
// resident memory of `vakt run` on the embedded engines under steady load:
// vakt's own memory under GOMEMLIMIT=256MiB, with the ClickHouse engine's
// heap (caches, merges) on top.
const soakRSSBound = 1 << 30

// TestSoakSteadyFollow follows a log written at a steady rate far above a
// busy site's (about 10,000 lines/s) for several minutes through `vakt
// run`: every line is stored exactly once, no batch is republished (NATS
// never restarts here, so a republish is a false reset), nothing is logged
// at warn or error level, and memory stays under the documented bound.
func TestSoakSteadyFollow(t *testing.T) {
	if testing.Short() {
		t.Skip("several minutes of steady load: skipped with -short")
	}
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logFile := filepath.Join(work, "access.log")
	metricsAddr := freeLoopbackAddr(t)
	cfg := faultConfig(t, work, "soak.yaml", dataDir, fmt.Sprintf(`http: {listen: %q}
ingest:
  from_start: true
  files: [%s]
  site: soak.example
`, metricsAddr, logFile))
	if err := os.WriteFile(logFile, nil, 0o600); err != nil { // there from the start, as a web server's log is
		t.Fatal(err)
	}
	p := startVaktEnv(t, []string{"GOMEMLIMIT=256MiB"}, "run", "--config", cfg)
	p.waitOutput(t, chEndpointRe)
	addr := chEndpointRe.FindStringSubmatch(p.output())[1]

	var peak atomic.Int64
	stopSampling := sampleRSS(t, p.cmd.Process.Pid, &peak)
	w := startLogWriter(t, logFile, 50, 5*time.Millisecond)
	time.Sleep(soakDuration) // the scenario: steady load for this long
	w.stop()
	n := int(w.written.Load())
	t.Logf("%d lines written in %s (%.0f lines/s)", n, soakDuration, float64(n)/soakDuration.Seconds())
	waitStored(t, addr, dataDir, n, 2*time.Minute)
	stopSampling()
	const republishedSeries = `vakt_republished_total{stage="ingest"}`
	if !strings.Contains(scrapeMetrics(t, metricsAddr, dataDir), republishedSeries+" ") {
		t.Fatalf("/metrics has no %s", republishedSeries)
	}
	republished := metricValue(t, metricsAddr, dataDir, republishedSeries)
	p.stop(t)

	t.Logf("peak RSS %.0f MiB (bound %d MiB); %.0f batches republished", float64(peak.Load())/(1<<20), soakRSSBound>>20, republished)
	if republished != 0 {
		t.Errorf("%.0f batches republished while NATS never restarted", republished)
	}
	if got := peak.Load(); got > soakRSSBound {
		t.Errorf("peak RSS %.0f MiB, over the documented bound %d MiB", float64(got)/(1<<20), soakRSSBound>>20)
	}
	warnRe := regexp.MustCompile(`(?m)^.*level=(WARN|ERROR).*$`)
	if warns := warnRe.FindAllString(p.output(), -1); len(warns) > 0 {
		t.Errorf("%d warnings or errors logged under steady load, e.g.:\n%s", len(warns), strings.Join(warns[:min(len(warns), 10)], "\n"))
	}
	checkExactlyOnce(t, dataDir, n)
}
