package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// exitCode is the exit status of a finished vakt.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// result is what a command line did, less what differs from run to run:
// the import's elapsed time and the log lines on stderr.
type result struct {
	code   int
	stdout string
	errors string // stderr's lines written by vakt itself ("vakt: ...")
}

func runResult(t *testing.T, args ...string) result {
	t.Helper()
	stdout, stderr, err := vakt(t, args...)
	r := result{code: exitCode(t, err)}
	for l := range strings.Lines(stdout) {
		// The import's elapsed time, the time salts status ran.
		if !strings.HasPrefix(l, "elapsed:") && !strings.HasPrefix(strings.TrimSpace(l), `"now": `) {
			r.stdout += l
		}
	}
	for l := range strings.Lines(stderr) {
		if strings.HasPrefix(l, "vakt") {
			r.errors += l
		}
	}
	return r
}

// TestFlagsAfterArguments runs every command with its flags after its
// arguments, before them (right after the command's name, the common ones
// before the command) and, where it takes arguments, before "--": each
// gives the same result. Commands that run until stopped are given a
// configuration that fails at once.
func TestFlagsAfterArguments(t *testing.T) {
	testenv.CHDBLib(t)
	t.Parallel()
	work := t.TempDir()
	tl := writeTestLog(t, work, 600, 60)
	badCfg := filepath.Join(work, "bad.yaml")
	os.WriteFile(badCfg, []byte("log:\n  format: xml\nstore:\n  batchrows: 1\n"), 0o600)
	// Absolute times: each run sees the same range.
	since, until := time.Now().Add(-48*time.Hour).Format(time.RFC3339), time.Now().Add(time.Hour).Format(time.RFC3339)
	data := func(name string) []string { return []string{"--data-dir", filepath.Join(work, name)} }
	type invocation struct {
		name         string
		words, args  []string // command words ("salts", "status") and arguments
		local, comm  []string // the command's own flags and common flags
		code         int      // expected exit status; -1: any
		wantInStdout string
	}
	imports := []invocation{
		{"import", []string{"import"}, []string{tl.path}, []string{"--site", "cli.example"}, nil, 0, "stored:"},
	}
	// The imports write data dirs of their own; the rest read the first.
	cases := []invocation{
		{"sql", []string{"sql"}, []string{"SELECT count(), any(site) FROM vakt.requests"}, []string{"--format", "json"}, data("a"), 0, "cli.example"},
		{"report top", []string{"report", "top"}, nil, []string{"--since", since, "--until", until, "--format", "json", "--n", "3", "--site", "cli.example"}, data("a"), 0, `"section":"paths"`},
		{"report health", []string{"report", "health"}, nil, []string{"--since", since, "--until", until, "--section", "totals", "--format", "csv"}, data("a"), 0, "requests"},
		{"report threats", []string{"report", "threats"}, nil, []string{"--since", since, "--until", until, "--rule", "xss", "--format", "json"}, data("a"), 0, ""},
		{"quarantine", []string{"quarantine"}, nil, []string{"--limit", "0", "--format", "json", "--site", "cli.example"}, data("a"), 0, "garbage line 199"},
		{"salts status", []string{"salts", "status"}, nil, []string{"--format", "json"}, data("a"), 0, "epoch"},
		{"retention", []string{"retention"}, nil, []string{"--format", "json"}, data("a"), 0, "requests"},
		{"nats setup", []string{"nats", "setup"}, nil, nil, data("a"), 0, "VAKT_RAW"},
		{"migrate", []string{"migrate"}, nil, []string{"--print-sql", "--roles"}, data("unused"), 0, "CREATE TABLE"},
		{"check", []string{"check"}, nil, []string{"--connect"}, []string{"--config", badCfg}, 1, "log.format"},
		{"version", []string{"version"}, nil, nil, nil, 0, "vakt "},
		{"usage error", []string{"salts", "status"}, nil, []string{"--destroy-now"}, data("a"), 2, ""},
		// Commands of other branches (issues 14, 15, 19), tested once
		// merged; exit -1: any status, the same in every form.
		{"report client", []string{"report", "client"}, []string{"123"}, []string{"--since", since, "--until", until, "--format", "json"}, data("a"), -1, ""},
		{"geoip status", []string{"geoip", "status"}, nil, []string{"--format", "json"}, data("a"), -1, ""},
		{"decisions list", []string{"decisions", "list"}, nil, []string{"--format", "json"}, data("a"), -1, ""},
		{"subject records", []string{"subject", "records"}, nil, []string{"--format", "json"}, data("a"), -1, ""},
	}
	cases = slices.DeleteFunc(cases, func(c invocation) bool { return commands[c.words[0]] == nil })
	for _, stage := range []string{"run", "ingest", "pseudonymize", "store", "bench"} {
		var local []string
		switch stage {
		case "run", "ingest":
			local = []string{"--demo", "--site", "x.example"}
		case "bench":
			local = []string{"--lines", "10"}
		}
		cases = append(cases, invocation{stage + " (bad config)", []string{stage}, nil, local, []string{"--config", badCfg}, 1, ""})
	}
	// Every registered command is in the table.
	for name := range commands {
		if !slices.ContainsFunc(append(imports, cases...), func(c invocation) bool { return c.words[0] == name }) {
			t.Errorf("command %s is not tested with its flags after its arguments", name)
		}
	}
	run := func(t *testing.T, c invocation, data []string) {
		comm := append(slices.Clone(c.comm), data...)
		after := slices.Concat(c.words, c.args, c.local, comm)
		before := slices.Concat(comm, c.words[:1], c.local, c.words[1:], c.args)
		want := runResult(t, after...)
		if c.code >= 0 && want.code != c.code || !strings.Contains(want.stdout, c.wantInStdout) {
			t.Fatalf("vakt %q: exit %d, want %d with %q in stdout:\n%s%s", after, want.code, c.code, c.wantInStdout, want.stdout, want.errors)
		}
		variants := [][]string{before}
		if len(c.args) > 0 {
			variants = append(variants, slices.Concat(c.words, c.local, comm, []string{"--"}, c.args))
		}
		for _, args := range variants {
			if got := runResult(t, args...); got != want {
				t.Errorf("vakt %q:\n%+v\nvakt %q:\n%+v", after, want, args, got)
			}
		}
	}
	// The imports go to data dirs a, b and c: the same summary each time.
	for _, c := range imports {
		comm := append(slices.Clone(c.comm), data("a")...)
		after := slices.Concat(c.words, c.args, c.local, comm)
		want := runResult(t, after...)
		if want.code != 0 || !strings.Contains(want.stdout, "rejected:    3") {
			t.Fatalf("vakt %q: exit %d:\n%s%s", after, want.code, want.stdout, want.errors)
		}
		for i, args := range [][]string{
			slices.Concat(c.words, c.local, c.comm, data("b"), c.args),
			slices.Concat(c.words, c.local, c.comm, data("c"), []string{"--"}, c.args),
		} {
			if got := runResult(t, args...); got != want {
				t.Errorf("variant %d: vakt %q:\n%+v\nvakt %q:\n%+v", i, after, want, args, got)
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { run(t, c, nil) })
	}
}

// repeatsPrefix says whether an error line names a one-word prefix twice,
// as in "vakt: ingest: ingest: open ...".
func repeatsPrefix(line string) bool {
	seen := map[string]bool{}
	for _, p := range strings.Split(line, ": ") {
		if regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(p) {
			if seen[p] {
				return true
			}
			seen[p] = true
		}
	}
	return false
}

// TestImportErrorsOneLineOnePrefix: a failing import says what failed in
// one line, with one prefix and the fix, and an import that never started
// prints no summary.
func TestImportErrorsOneLineOnePrefix(t *testing.T) {
	testenv.CHDBLib(t)
	t.Parallel()
	work := t.TempDir()
	missing := filepath.Join(work, "missing.log")
	notDir := filepath.Join(work, "file")
	os.WriteFile(notDir, nil, 0o600)
	corrupt := filepath.Join(work, "corrupt.log.gz")
	os.WriteFile(corrupt, []byte("not gzip at all\n"), 0o600)
	good := writeTestLog(t, work, 50, 5)

	tests := []struct {
		name      string
		args      []string
		errorLine string // stderr's last line
		summary   bool
	}{
		{"missing file", []string{"import", missing, "--data-dir", filepath.Join(work, "d1")},
			"vakt: ingest: " + missing + " does not exist: name an existing log file, or a glob in quotes", false},
		{"glob without match", []string{"import", filepath.Join(work, "*.nothing"), "--data-dir", filepath.Join(work, "d1")},
			`vakt: ingest: files: pattern "` + filepath.Join(work, "*.nothing") + `" matches no regular file`, false},
		{"data dir is a file", []string{"import", good.path, "--data-dir", notDir},
			"vakt: data dir: mkdir " + notDir + ": not a directory (set data_dir, VAKT_DATA_DIR or --data-dir to a directory vakt may create and write)", false},
		// A .gz file that is not gzip fails while the import runs.
		{"corrupt gzip", []string{"import", good.path, corrupt, "--data-dir", filepath.Join(work, "d2")},
			"vakt: ingest: " + corrupt + ": gzip: invalid header", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := vakt(t, tc.args...)
			if code := exitCode(t, err); code != 1 {
				t.Fatalf("exit %d, want 1:\n%s%s", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if last != tc.errorLine {
				t.Fatalf("error line\n%q, want\n%q", last, tc.errorLine)
			}
			if !repeatsPrefix("vakt: ingest: ingest: open x") {
				t.Fatal("repeatsPrefix misses a repeated prefix")
			}
			for _, l := range lines {
				if repeatsPrefix(l) {
					t.Errorf("repeated prefix in %q", l)
				}
			}
			if got := strings.Contains(stdout, "lines read:"); got != tc.summary {
				t.Fatalf("summary printed: %v, want %v:\n%s", got, tc.summary, stdout)
			}
			if tc.summary && !strings.Contains(stdout, "stored:      50\n") {
				t.Fatalf("the good file's lines are not stored:\n%s", stdout)
			}
		})
	}
}

func TestCommandLineHelpAndUsage(t *testing.T) {
	t.Parallel()
	// Every command has help with examples, its flags and the common ones.
	for name := range commands {
		stdout, stderr, err := vakt(t, name, "--help")
		if code := exitCode(t, err); code != 0 || !strings.Contains(stdout, "Usage:\n  vakt "+name) ||
			!strings.Contains(stdout, "Examples:\n  ") || !strings.Contains(stdout, "--data-dir") {
			t.Errorf("vakt %s --help: exit %d:\n%s%s", name, code, stdout, stderr)
		}
	}
	// Sub-commands have help of their own, with their examples only.
	stdout, _, err := vakt(t, "help", "salts", "rotate")
	if exitCode(t, err) != 0 || !strings.Contains(stdout, "vakt salts rotate --destroy-now") || strings.Contains(stdout, "vakt salts status") {
		t.Errorf("vakt help salts rotate:\n%s", stdout)
	}
	// No command: the list of commands on stderr, exit 2.
	_, stderr, err := vakt(t)
	if code := exitCode(t, err); code != 2 {
		t.Errorf("vakt: exit %d, want 2", code)
	}
	for name := range commands {
		if !regexp.MustCompile(`(?m)^  ` + name + ` +\S`).MatchString(stderr) {
			t.Errorf("usage lists no command %s:\n%s", name, stderr)
		}
	}

	tests := []struct {
		args []string
		code int
		want string // stderr's last line
	}{
		{[]string{"improt", "x.log"}, 2, `vakt: unknown command "improt", did you mean import? (vakt --help lists the commands)`},
		{[]string{"import", "x.log", "--no-such-flag"}, 2, "vakt import: unknown flag: --no-such-flag (see vakt import --help)"},
		{[]string{"report", "top", "--n", "many"}, 2, `vakt report top: invalid argument "many" for "--n" flag: strconv.ParseInt: parsing "many": invalid syntax (see vakt report top --help)`},
		{[]string{"import", "--site", "s.example"}, 2, "vakt import needs at least one FILE"},
		{[]string{"salts"}, 2, "vakt salts needs one of: status, rotate"},
		{[]string{"salts", "statsu"}, 2, `vakt: unknown salts command "statsu": use status or rotate`},
		// One dash, as the standard flag package took, still works.
		{[]string{"import", "-site", "s.example", "-data-dir", "d"}, 2, "vakt import needs at least one FILE"},
		{[]string{"version", "-help"}, 0, "Usage:"},
	}
	for _, tc := range tests {
		stdout, stderr, err := vakt(t, tc.args...)
		out := strings.TrimSpace(stderr)
		if tc.code == 0 {
			out = stdout
		}
		lines := strings.Split(out, "\n")
		if code := exitCode(t, err); code != tc.code || !strings.Contains(lines[len(lines)-1], tc.want) && !strings.Contains(out, tc.want) {
			t.Errorf("vakt %q: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}
}

// TestShellCompletion: the completion scripts load, and complete commands,
// sub-commands and flag values.
func TestShellCompletion(t *testing.T) {
	t.Parallel()
	bash := exec.Command("bash", "-c", `source <("$VAKT" completion bash) && complete -p vakt`)
	bash.Env = append(os.Environ(), "VAKT="+vaktBin)
	out, err := bash.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "complete") || !strings.HasSuffix(strings.TrimSpace(string(out)), " vakt") {
		t.Fatalf("bash completion: %v\n%s", err, out)
	}
	for _, shell := range []string{"zsh", "fish", "powershell"} {
		stdout, stderr, err := vakt(t, "completion", shell)
		if err != nil || !strings.Contains(stdout, "__complete") {
			t.Errorf("vakt completion %s: %v\n%s", shell, err, stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"imp"}, []string{"import"}},
		{[]string{"salts", ""}, []string{"rotate", "status"}},
		{[]string{"report", ""}, []string{"health", "threats", "top"}},
		{[]string{"report", "top", "--format", ""}, []string{"table", "json", "csv", "tsv"}},
		{[]string{"import", "x.log", "--log-level", ""}, []string{"debug", "info", "warn", "error"}},
	} {
		stdout, stderr, err := vakt(t, append([]string{"__complete"}, tc.args...)...)
		var got []string
		for l := range strings.Lines(stdout) {
			if w, _, _ := strings.Cut(strings.TrimSpace(l), "\t"); w != "" && !strings.HasPrefix(w, ":") {
				got = append(got, w)
			}
		}
		// Other commands may add words: each wanted one is offered.
		if err != nil || slices.ContainsFunc(tc.want, func(w string) bool { return !slices.Contains(got, w) }) {
			t.Errorf("completion of %q: %q, want %q (%v)\n%s", tc.args, got, tc.want, err, stderr)
		}
	}
}

func TestLongFlagsWithOneDash(t *testing.T) {
	root := newRoot(io.Discard, io.Discard)
	in := []string{"import", "-data-dir", "d", "-site=x.example", "-h", "-nope", "a.log", "--", "-config"}
	want := []string{"import", "--data-dir", "d", "--site=x.example", "-h", "-nope", "a.log", "--", "-config"}
	if got := longFlagsWithOneDash(root, in); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := longFlagsWithOneDash(root, nil); got == nil {
		t.Fatal("nil args: cobra would read the process's own arguments")
	}
}

func TestSubWords(t *testing.T) {
	for _, tc := range []struct {
		cmd   command
		words []string
		rest  string
	}{
		{command{subcommand: true, args: "health|threats|top [--since D] [--site S]"}, []string{"health", "threats", "top"}, "[--since D] [--site S]"},
		{command{subcommand: true, args: "status"}, []string{"status"}, ""},
		{command{subcommand: true, args: "[--format F] WORD"}, nil, ""},
		{command{args: "status|rotate"}, nil, ""},
	} {
		words, rest := subWords(&tc.cmd)
		if !slices.Equal(words, tc.words) || rest != tc.rest {
			t.Errorf("%q: %q %q, want %q %q", tc.cmd.args, words, rest, tc.words, tc.rest)
		}
	}
}

// statusError is an outcome with an exit status of its own.
type statusError struct{ code int }

func (e statusError) Error() string { return fmt.Sprintf("outcome %d", e.code) }
func (e statusError) ExitCode() int { return e.code }

// TestExitStatuses: 0 on success, 2 for a command-line mistake, 1 for a
// failure, and an outcome's own status (exitCoder). Not parallel: it adds
// a command to the registry for its duration.
func TestExitStatuses(t *testing.T) {
	register(&command{name: "exit-test", args: "CODE", summary: "exit with CODE",
		run: func(_ context.Context, e *env) error {
			switch e.args[0] {
			case "0":
				return nil
			case "1":
				return errors.New("failed")
			}
			return fmt.Errorf("wrapped: %w", statusError{3})
		}})
	t.Cleanup(func() { delete(commands, "exit-test") })
	for _, tc := range []struct {
		args       []string
		code       int
		stderrLast string
	}{
		{[]string{"exit-test", "0"}, 0, ""},
		{[]string{"exit-test", "1", "--data-dir", t.TempDir()}, 1, "vakt: failed"},
		{[]string{"exit-test", "3"}, 3, "vakt: wrapped: outcome 3"},
		{[]string{"exit-test", "0", "--nope"}, 2, "vakt exit-test: unknown flag: --nope (see vakt exit-test --help)"},
		{nil, 2, `Use "vakt [command] --help" for more information about a command.`},
	} {
		var stdout, stderr strings.Builder
		code := run(tc.args, &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != tc.code || lines[len(lines)-1] != tc.stderrLast {
			t.Errorf("vakt %q: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.stderrLast, stdout.String(), stderr.String())
		}
	}
}
