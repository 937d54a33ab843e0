package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/creack/pty"

	"github.com/vakt-dev/vakt/internal/loggen"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// progressLogs writes a plain and a gzipped access log of recent traffic
// and returns their paths and the clients' addresses.
func progressLogs(t *testing.T, dir string, lines int) ([]string, *loggen.Generator) {
	t.Helper()
	g := loggen.New(loggen.Config{Seed: 19, Clients: 500, Sites: []string{"shop.example"},
		Start: time.Now().Add(-2 * time.Hour), Rate: float64(lines) / 3600})
	plain := filepath.Join(dir, "access.log")
	// Most lines in the gzipped file: reading it must take several of the
	// bar's 200 ms ticks even at ~500,000 lines/s, or no frame need show it.
	if _, err := g.WriteFile(plain, lines/15); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := g.Write(&buf, lines-lines/15); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "access.log.1.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(zw.Close(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return []string{plain, gz}, g
}

// barPercent matches the bar's percentage; frames are separated by \r.
var barPercent = regexp.MustCompile(`(\d+)%\s*\|`)

// TestImportProgressBar drives `vakt import` of a plain and a gzipped file
// under a pseudo-terminal and sees the bar on stderr advance through both
// files with the counts; with stderr a pipe, or --progress never, there is
// no bar; a wrong --progress names the flag.
func TestImportProgressBar(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	const lines = 300_000
	files, g := progressLogs(t, work, lines)

	cmd := exec.Command(vaktBin, append([]string{"import", "--data-dir", filepath.Join(work, "data"), "--site", "shop.example",
		"--log-level", "warn"}, files...)...)
	cmd.Dir = work
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, tty) // ends with EIO once the child has exited
	if err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	tty.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("import under a terminal: %v\n%s", err, tailOf(out.String(), 3000))
	}
	text := out.String()
	var percents []int
	sawSecondFile := false
	for frame := range strings.SplitSeq(text, "\r") {
		m := barPercent.FindStringSubmatch(frame)
		if m == nil {
			continue
		}
		p, _ := strconv.Atoi(m[1])
		percents = append(percents, p)
		if strings.Contains(frame, "file 2/2 access.log.1.gz") {
			sawSecondFile = true
		}
		for _, want := range []string{"lines (", "/s), stored ", ", rejected "} {
			if !strings.Contains(frame, want) {
				t.Fatalf("bar frame without %q: %q", want, frame)
			}
		}
	}
	distinct := slices.Compact(slices.Clone(percents))
	if len(distinct) < 3 || !slices.IsSorted(percents) || percents[len(percents)-1] != 100 {
		t.Errorf("bar did not advance to 100%% in steps: %v\n%s", percents, tailOf(text, 2000))
	}
	if !sawSecondFile {
		t.Errorf("no frame while reading the gzipped second file:\n%s", tailOf(text, 2000))
	}
	if !strings.Contains(text, fmt.Sprintf("lines read:  %d", lines)) || !strings.Contains(text, fmt.Sprintf("stored:      %d", lines)) {
		t.Errorf("summary after the bar:\n%s", tailOf(text, 1000))
	}
	assertNoIPText(t, "progress output", text, g.Clients())

	// Not a terminal: nothing extra on stderr; --progress never under a
	// terminal neither (the same files again: all duplicates).
	stdout, stderr, err := vakt(t, append([]string{"import", "--data-dir", filepath.Join(work, "data"), "--site", "shop.example"}, files...)...)
	if err != nil {
		t.Fatalf("import to a pipe: %v\n%s", err, stderr)
	}
	if barPercent.MatchString(stderr) || strings.Contains(stderr, "\r") || !strings.Contains(stdout, fmt.Sprintf("duplicates:  %d", lines)) {
		t.Errorf("bar drawn on a pipe, or no summary:\nstdout %s\nstderr %s", stdout, tailOf(stderr, 2000))
	}
	if _, stderr, err := vakt(t, "import", "--progress", "sometimes", files[0]); err == nil || !strings.Contains(stderr, `--progress "sometimes": use auto`) {
		t.Errorf("bad --progress: %v %s", err, stderr)
	}
}

// legacyRequestsSQL is a requests table as vakt made it before migrations
// were recorded (another sort key): `vakt migrate` copies its rows into the
// current layout, the one step that backfills.
const legacyRequestsSQL = "CREATE TABLE vakt.requests (`ts` DateTime64(3, 'UTC'), `site` LowCardinality(String), `client_id` UInt64, " +
	"`network_id` UInt64, `ip_version` UInt8, `epoch` UInt32, `country` LowCardinality(String), `asn` UInt32, `as_org` LowCardinality(String), " +
	"`method` LowCardinality(String), `path` String, `query` String, `protocol` LowCardinality(String), `status` UInt16, `bytes` UInt64, " +
	"`referrer` String, `user_agent` String, `host` LowCardinality(String), `request_time` Nullable(Float32), `upstream_time` Nullable(Float32), `flags` UInt32) " +
	"ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (site, toStartOfHour(ts), client_id, ts)"

// TestMigrateProgressBar: `vakt migrate` under a pseudo-terminal draws
// the copy's bar from 0 to all rows; a migrate with nothing to copy, or
// on a pipe, draws none.
func TestMigrateProgressBar(t *testing.T) {
	lib := testenv.CHDBLib(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	const rows = 2_000_000
	srv, stop, err := testenv.StartEngine(lib, testenv.EngineDataDir(filepath.Join(dataDir, "clickhouse")), testenv.EngineAccount("vakt", "cli-test-password"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: "vakt", Password: "cli-test-password"}})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE DATABASE vakt", legacyRequestsSQL,
		"INSERT INTO vakt.requests (ts, site, client_id, status, path) SELECT now64(3) - number % 86400, 'example.org', number, 200, concat('/p/', toString(number % 100)) FROM numbers(" + strconv.Itoa(rows) + ")"} {
		if err := conn.Exec(t.Context(), q); err != nil {
			conn.Close()
			stop()
			t.Fatal(err)
		}
	}
	conn.Close()
	stop() // the data dir is vakt migrate's now

	cmd := exec.Command(vaktBin, "migrate", "--data-dir", dataDir, "--log-level", "warn")
	cmd.Dir = t.TempDir()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, tty); err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	tty.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("migrate under a terminal: %v\n%s", err, tailOf(out.String(), 3000))
	}
	total := "/" + strconv.Itoa(rows) + ")"
	var counts []string
	for frame := range strings.SplitSeq(out.String(), "\r") {
		if barPercent.MatchString(frame) && strings.Contains(frame, "copying requests into the current layout") {
			counts = append(counts, frame)
		}
	}
	if len(counts) < 2 || !strings.Contains(counts[0], "(0"+total) || !strings.Contains(counts[len(counts)-1], "("+strconv.Itoa(rows)+total) {
		t.Fatalf("no copy bar from 0 to %d rows:\n%s", rows, tailOf(out.String(), 3000))
	}
	if !strings.Contains(out.String(), "rebuilt with the current layout, 2000000 rows copied") {
		t.Errorf("no migration report after the bar:\n%s", tailOf(out.String(), 1500))
	}

	// Nothing left to copy, and not a terminal: no bar.
	stdout, stderr, err := vakt(t, "migrate", "--data-dir", dataDir, "--progress", "always")
	if err != nil || barPercent.MatchString(stderr) || !strings.Contains(stdout, "no migration to apply") {
		t.Errorf("second migrate: %v\nstdout %s\nstderr %s", err, stdout, tailOf(stderr, 1500))
	}
}
