package main

import (
	"bytes"
	"compress/gzip"
	"errors"
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

	"github.com/creack/pty"

	"github.com/vakt-dev/vakt/internal/loggen"
)

// progressLogs writes a plain and a gzipped access log of recent traffic
// and returns their paths and the clients' addresses.
func progressLogs(t *testing.T, dir string, lines int) ([]string, *loggen.Generator) {
	t.Helper()
	g := loggen.New(loggen.Config{Seed: 19, Clients: 500, Sites: []string{"shop.example"},
		Start: time.Now().Add(-2 * time.Hour), Rate: float64(lines) / 3600})
	plain := filepath.Join(dir, "access.log")
	if _, err := g.WriteFile(plain, lines/2); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := g.Write(&buf, lines-lines/2); err != nil {
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
	files, g := progressLogs(t, work, 200_000)

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
	if !strings.Contains(text, "lines read:  200000") || !strings.Contains(text, "stored:      200000") {
		t.Errorf("summary after the bar:\n%s", tailOf(text, 1000))
	}
	assertNoIPText(t, "progress output", text, g.Clients())

	// Not a terminal: nothing extra on stderr; --progress never under a
	// terminal neither (the same files again: all duplicates).
	stdout, stderr, err := vakt(t, append([]string{"import", "--data-dir", filepath.Join(work, "data"), "--site", "shop.example"}, files...)...)
	if err != nil {
		t.Fatalf("import to a pipe: %v\n%s", err, stderr)
	}
	if barPercent.MatchString(stderr) || strings.Contains(stderr, "\r") || !strings.Contains(stdout, "duplicates:  200000") {
		t.Errorf("bar drawn on a pipe, or no summary:\nstdout %s\nstderr %s", stdout, tailOf(stderr, 2000))
	}
	if _, stderr, err := vakt(t, "import", "--progress", "sometimes", files[0]); err == nil || !strings.Contains(stderr, `--progress "sometimes": use auto`) {
		t.Errorf("bad --progress: %v %s", err, stderr)
	}
}
