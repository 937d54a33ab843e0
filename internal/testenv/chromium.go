package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Chromium returns Debian's chromium. Without it the test fails in CI and
// is skipped elsewhere, saying how to install it.
func Chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "this test needs Debian's chromium: apt-get install chromium (make deps installs it)"
	if CI() {
		tb.Fatal(msg)
	}
	tb.Skip("skipping: " + msg)
	return ""
}

// Browser is one headless Chromium run's output.
type Browser struct {
	// Stdout is what chromium printed: the DOM with --dump-dom.
	Stdout string
	// Console are the page's console messages (console.log, errors, CSP
	// violations), one line each as chromium logs them.
	Console []string
}

// RunChromium loads url in a fresh headless Chromium profile with extra
// flags (e.g. --dump-dom, --screenshot=PATH, --window-size=W,H,
// --host-resolver-rules=...), after the page's scripts have had a few
// seconds of virtual time (which waits for pending fetches) to run. It
// fails the test if chromium fails or runs over 90 s.
func RunChromium(tb testing.TB, url string, extra ...string) Browser {
	tb.Helper()
	bin := Chromium(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + tb.TempDir(), "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
		"--lang=en-US", "--virtual-time-budget=12000",
	}
	cmd := exec.CommandContext(ctx, bin, append(append(args, extra...), url)...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	// Chromium's helper processes inherit its output pipes: on timeout,
	// kill the whole process group, and stop waiting for the pipes soon.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		tb.Fatalf("chromium %v: %v\n%s", extra, err, errOut.String())
	}
	b := Browser{Stdout: out.String()}
	for line := range strings.SplitSeq(errOut.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") {
			b.Console = append(b.Console, line)
		}
	}
	return b
}

// RunPage loads url in headless Chromium and returns the DOM once its
// scripts ran (RunChromium with --dump-dom).
func RunPage(tb testing.TB, url string, extra ...string) Browser {
	tb.Helper()
	return RunChromium(tb, url, append([]string{"--dump-dom"}, extra...)...)
}
