package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// summaryCount reads one "name: N" line of an import summary; -1 if absent.
func summaryCount(out, name string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestImportInterruptedSummaryCountsStored interrupts `vakt import` (SIGINT)
// while its store is busy: the summary's "stored" is what is in the table,
// the rest of what was published is reported in flight, and the next
// import stores the file exactly once.
func TestImportInterruptedSummaryCountsStored(t *testing.T) {
	t.Parallel()
	p, cfg, dataDir, logFile, n := importUntilFirstBatch(t, 300_000)
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("import did not stop on SIGINT:\n%s", lastLines(p.output(), 20))
	}
	out := p.output()
	stored, inFlight, read := summaryCount(out, "stored"), summaryCount(out, "in flight"), summaryCount(out, "lines read")
	if stored < 0 || read < 0 {
		t.Fatalf("no summary after SIGINT:\n%s", lastLines(out, 20))
	}
	stdout, stderr, err := vakt(t, "sql", "--data-dir", dataDir, "--format", "tsv", "SELECT count() FROM vakt.requests")
	if err != nil {
		t.Fatalf("vakt sql: %v\n%s", err, stderr)
	}
	var inTable int
	fmt.Sscan(stdout, &inTable)
	t.Logf("interrupted at %d of %d lines read: summary stored %d, in flight %d; table %d", read, n, stored, inFlight, inTable)
	if stored != inTable {
		t.Errorf("summary says stored %d, the table holds %d", stored, inTable)
	}
	if read < n && inFlight+stored > read {
		t.Errorf("stored %d + in flight %d > %d lines read", stored, inFlight, read)
	}
	if _, stderr, err := vakt(t, "import", "--config", cfg, "--site", "fault.example", logFile); err != nil {
		t.Fatalf("import again: %v\n%s", err, stderr)
	}
	checkExactlyOnce(t, dataDir, n)
}

// importUntilFirstBatch writes a log of at least lines lines and starts
// `vakt import` of it with a RAW stream far smaller than the file, so that
// ingest is still reading when the first batch is stored, and returns then:
// the import, its config, data dir and log, and the lines written.
func importUntilFirstBatch(t *testing.T, lines int64) (p *process, cfg, dataDir, logFile string, n int) {
	t.Helper()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir = filepath.Join(work, "data")
	logFile = filepath.Join(work, "access.log")
	w := startLogWriter(t, logFile, 1000, 0)
	for w.written.Load() < lines {
		time.Sleep(time.Millisecond)
	}
	w.stop()
	n = int(w.written.Load())
	cfg = faultConfig(t, work, "import.yaml", dataDir, "streams: {raw_max_bytes: 4000000}\n")
	p = startVakt(t, "import", "--config", cfg, "--log-level", "debug", "--site", "fault.example", logFile)
	p.waitOutput(t, regexp.MustCompile(`msg="batch stored"`))
	return p, cfg, dataDir, logFile, n
}
