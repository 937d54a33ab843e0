package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// mountSmallFS mounts a tmpfs of size bytes at dir for the test. Only root
// can: CI runs as root, and there the test must not be skipped.
func mountSmallFS(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mount a %d-byte tmpfs (the disk-full test needs root): %v: %s", size, err, out)
		}
		t.Skipf("cannot mount a tmpfs (not root?): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// fillFS writes a file until the filesystem has no space left.
func fillFS(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// TestDiskFullRecovers runs `vakt run` with its data dir (the NATS store
// and the ClickHouse engine) on a small filesystem while a log is written:
// the filesystem is filled, stays full for a while, then space comes
// back. vakt reports the storage errors with what to do, resumes by itself
// once space is back, at full speed, and stores every line exactly once.
func TestDiskFullRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("disk-full fault: skipped with -short")
	}
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	small := filepath.Join(work, "small")
	mountSmallFS(t, small, 512<<20)
	dataDir := filepath.Join(small, "data")
	logFile := filepath.Join(work, "access.log") // the web server's disk is another one
	if err := os.WriteFile(logFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := faultConfig(t, work, "run.yaml", dataDir, fmt.Sprintf(`streams: {events_max_bytes: 104857600}
ingest:
  from_start: true
  files: [%s]
  site: full.example
`, logFile))
	p := startVakt(t, "run", "--config", cfg)
	p.waitOutput(t, chEndpointRe)
	addr := chEndpointRe.FindStringSubmatch(p.output())[1]
	w := startLogWriter(t, logFile, 20, 5*time.Millisecond)
	testenv.WaitFor(t, 60*time.Second, "the first rows stored", func() bool { n, _ := chCount(addr, dataDir); return n > 0 })

	filler := filepath.Join(small, "filler")
	fillFS(t, filler)
	t.Logf("filesystem full at %d lines written", w.written.Load())
	time.Sleep(20 * time.Second) // the scenario: the disk stays full while the log grows
	atFull, _ := chCount(addr, dataDir)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	writtenAtFree := int(w.written.Load())
	t.Logf("space back at %d lines written (%d rows stored meanwhile)", writtenAtFree, atFull)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if n, _ := chCount(addr, dataDir); n >= writtenAtFree {
			break
		}
		if time.Now().After(deadline) {
			n, _ := chCount(addr, dataDir)
			t.Fatalf("%d of %d lines stored 2 minutes after space came back:\n%s", n, writtenAtFree, lastLines(p.output(), 40))
		}
	}
	recovery := time.Since(freed)
	time.Sleep(5 * time.Second) // the scenario: writing goes on after the recovery
	w.stop()
	n := int(w.written.Load())
	waitStored(t, addr, dataDir, n, 2*time.Minute)
	p.stop(t)
	out := p.output()
	t.Logf("backlog of %d lines stored %s after space came back", writtenAtFree-atFull, recovery.Round(time.Millisecond))
	if recovery > time.Minute {
		t.Errorf("recovery took %s after space came back (want under a minute)", recovery)
	}
	// Each kind of storage error is reported with what to do about it.
	fixes := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if m := regexp.MustCompile(`msg="([^"]*)".* fix="([^"]*)"`).FindStringSubmatch(line); m != nil && regexp.MustCompile(`(?i)full|space`).MatchString(line) {
			fixes[m[1]] = m[2]
		}
	}
	if len(fixes) == 0 {
		t.Errorf("vakt never reported the full disk with a fix:\n%s", lastLines(out, 30))
	}
	for msg, fix := range fixes {
		t.Logf("reported: %q, fix: %q", msg, fix)
	}
	checkExactlyOnce(t, dataDir, n)
}
