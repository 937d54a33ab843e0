package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/loggen"
	"github.com/vakt-dev/vakt/logformat"
)

func TestImportAndDeduplicate(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log")
	const n = 20_000
	ips, err := loggen.New(loggen.Config{Seed: 1, Clients: 3000, Start: time.Now().Add(-2 * time.Hour), Rate: 5}).WriteFile(path, n)
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	cfg := Config{Files: []string{filepath.Join(filepath.Dir(path), "*.log")}, Site: "www.example.com", BatchLines: 700}

	ing := run(t, cfg, js, logs.logger())
	if st := ing.Stats(); st.LinesRead != n || st.Published != n || st.Duplicates != 0 || len(st.Rejected) != 0 {
		t.Fatalf("first import: %+v", st)
	}
	recs := readRaw(t, js, n)
	sameCounts(t, countIPs(recs), ips)
	for _, r := range recs {
		if r.Site != "www.example.com" || r.Method == "" && r.Target == "" && r.Status != 408 {
			t.Fatalf("record %+v", r)
		}
	}
	info, err := js.Stream(context.Background(), bus.RawStream)
	if err != nil {
		t.Fatal(err)
	}
	lastSeq := info.CachedInfo().State.LastSeq
	if want := uint64((n + 699) / 700); lastSeq != want {
		t.Errorf("%d messages, want %d batches", lastSeq, want)
	}

	// The same import again is recognised batch by batch.
	ing = run(t, cfg, js, logs.logger())
	if st := ing.Stats(); st.LinesRead != n || st.Published != 0 || st.Duplicates != n {
		t.Fatalf("second import: %+v", st)
	}
	si, err := info.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if si.State.LastSeq != lastSeq || si.State.Msgs != 0 {
		t.Fatalf("second import stored messages: last seq %d -> %d, %d in stream", lastSeq, si.State.LastSeq, si.State.Msgs)
	}
	logs.assertNoIPs(t, ips)
}

func TestImportRejects(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	now := time.Now()
	gen := loggen.New(loggen.Config{Seed: 2, Clients: 50, Start: now.Add(-time.Hour)})
	var file bytes.Buffer
	ips := map[netip.Addr]int{}
	good := 0
	addGood := func() {
		l := gen.Next()
		ips[l.IP]++
		good++
		file.Write(l.Text)
		file.WriteByte('\n')
	}
	stamp := func(t time.Time) string { return string(logformat.AppendTime(nil, t)) }
	bad := []struct{ line, reason string }{
		{"", "empty"},
		{"203.0.113.4 - -", "bad_format"},
		{`host.example.com - - [` + stamp(now) + `] "GET / HTTP/1.1" 200 1 "-" "-"`, "bad_ip"},
		{`198.18.0.1 - - [yesterday] "GET / HTTP/1.1" 200 1 "-" "-"`, "bad_timestamp"},
		{`203.0.113.5 - - [` + stamp(now) + `] "GET / HTTP/1.1" 2000 1 "-" "-"`, "bad_status"},
		{`203.0.113.6 - - [` + stamp(now) + `] "GET / HTTP/1.1" 200 lots "-" "-"`, "bad_bytes"},
		{"203.0.113.7 - - [" + stamp(now) + "] \"GET /\xff HTTP/1.1\" 200 1 \"-\" \"-\"", "invalid_utf8"},
		{`203.0.113.8 - - [` + stamp(now) + "] \"\x16\x03\x01\" 400 0 \"-\" \"-\"", "bad_request"},
		{"203.0.113.9 " + strings.Repeat("x", logformat.MaxLineBytes+10), "too_long"},
		{`203.0.113.10 - - [22/Oct/2021:02:28:56 -0700] "GET / HTTP/1.1" 200 1 "-" "-"`, event.ReasonPastRetention},
		{`203.0.113.11 - - [` + stamp(now.Add(2*time.Hour)) + `] "GET / HTTP/1.1" 200 1 "-" "-"`, event.ReasonFutureTimestamp},
	}
	want := map[string]int64{}
	for k, b := range bad {
		for range 10 + k {
			addGood()
		}
		file.WriteString(b.line)
		file.WriteByte('\n')
		want[b.reason]++
	}
	addGood()
	file.Truncate(file.Len() - 1) // the last line has no newline
	path := filepath.Join(dir, "mixed.log")
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	ing := run(t, Config{Files: []string{path}, BatchLines: 40}, js, logs.logger())
	st := ing.Stats()
	if st.Published != int64(good) || st.LinesRead != int64(good+len(bad)) || fmt.Sprint(st.Rejected) != fmt.Sprint(want) {
		t.Fatalf("stats %+v\nwant %d published, rejected %v", st, good, want)
	}
	sameCounts(t, countIPs(readRaw(t, js, good)), ips)
	s := logs.String()
	for _, b := range bad {
		if b.line != "" && strings.Contains(s, b.line[:12]) {
			t.Fatalf("log contains line content %q:\n%s", b.line[:12], s)
		}
		if !strings.Contains(s, `"reason":"`+b.reason+`"`) {
			t.Errorf("rejection %s not logged", b.reason)
		}
	}
	logs.assertNoIPs(t, ips)
}

// TestSecRepoPastRetention imports a real log from 2021: every line is
// older than the retention and must not be stored, unless the retention is
// long enough.
func TestSecRepoPastRetention(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(secrepo); err != nil {
		t.Skipf("test data: %v", err)
	}
	js := startNATS(t, bus.DefaultStreamConfig())
	ing := run(t, Config{Files: []string{secrepo}, Site: "secrepo.com"}, js, nil)
	if st := ing.Stats(); st.LinesRead != 644 || st.Published != 0 || st.Rejected[event.ReasonPastRetention] != 644 {
		t.Fatalf("stats %+v", st)
	}
	ing = run(t, Config{Files: []string{secrepo}, Site: "secrepo.com", MaxAge: 100 * 365 * 24 * time.Hour}, js, nil)
	if st := ing.Stats(); st.Published != 644 || len(st.Rejected) != 0 {
		t.Fatalf("stats with long retention %+v", st)
	}
	recs := readRaw(t, js, 644)
	if r := recs[0]; r.Site != "secrepo.com" {
		t.Errorf("site %q", r.Site)
	}
}

func TestImportMissingFile(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	ing, err := New(Config{Files: []string{filepath.Join(dir, "nope.log")}}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ing.Run(context.Background()); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Run = %v, want a not-exist error", err)
	}
	ing, _ = New(Config{Files: []string{filepath.Join(dir, "*.log")}}, js, nil, nil)
	if err := ing.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "matches no") {
		t.Fatalf("Run = %v, want no match", err)
	}
}

func TestImportCanceled(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log")
	if _, err := loggen.New(loggen.Config{Seed: 8, Start: time.Now().Add(-time.Hour)}).WriteFile(path, 1000); err != nil {
		t.Fatal(err)
	}
	ing, err := New(Config{Files: []string{path}}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ing.Run(ctx); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Run = %v", err)
	}
}

func TestFileID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := func() string {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fileID(path, fi)
	}
	a, b := id(), id()
	if a != b || len(a) != 24 {
		t.Fatalf("ids %q %q", a, b)
	}
	os.Chtimes(path, time.Now(), time.Now().Add(time.Second))
	if id() == a {
		t.Error("id unchanged after the file changed")
	}
	if bytes.Contains([]byte(a), []byte(path)) {
		t.Error("id contains the path")
	}
}
