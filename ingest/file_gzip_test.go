package ingest

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestTailGzipAndNewFiles: files appearing later are picked up, a .gz of
// a file already read adds nothing, an unknown .gz is imported once, even
// across a restart, and each source labels its own site.
func TestTailGzipAndNewFiles(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	b := filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	seq := 0
	lines := func(n int) []byte {
		var out []byte
		for range n {
			out = appendSeqLine(out, seq, time.Now())
			seq++
		}
		return out
	}
	writeGzip := func(path string, data []byte) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(f)
		zw.Write(data)
		zw.Close()
		f.Close()
		old := time.Now().Add(-time.Minute) // not being written
		os.Chtimes(path, old, old)
	}
	// History from before the start, read whole with FromStart: a plain
	// file and an old rotation, compressed.
	if err := os.WriteFile(filepath.Join(a, "x.log"), lines(100), 0o600); err != nil {
		t.Fatal(err)
	}
	writeGzip(filepath.Join(a, "x.log.2.gz"), lines(100))

	cfg := Config{
		FromStart: true,
		Sources: []Source{
			{Files: []string{filepath.Join(a, "*.log*")}, Site: "a.example"},
			{Files: []string{filepath.Join(b, "*.log")}, Site: "b.example"},
		},
	}
	var logs logBuf
	_, stop := startFollow(t, cfg, js, logs.logger())
	c := newSeqCounter(t, js)
	c.until("history", 10*time.Second, func() bool { return c.total >= 200 })

	// A new file in each source.
	if err := os.WriteFile(filepath.Join(b, "y.log"), lines(50), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, "z.log"), lines(70), 0o600); err != nil {
		t.Fatal(err)
	}
	c.until("new files", 10*time.Second, func() bool { return c.total >= 320 })
	// z.log rotated and compressed: its .gz holds nothing new.
	zdata, _ := os.ReadFile(filepath.Join(a, "z.log"))
	if err := os.Rename(filepath.Join(a, "z.log"), filepath.Join(a, "z.log.1")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the scenario: logrotate compresses a little after the rename
	writeGzip(filepath.Join(a, "z.log.1.gz"), zdata)
	os.Remove(filepath.Join(a, "z.log.1"))
	imported := regexp.MustCompile(`"imported compressed log file"[^\n]*z\.log\.1\.gz`)
	testenv.WaitFor(t, 10*time.Second, "compressed rotation imported", func() bool { return imported.MatchString(logs.String()) })
	c.fetch(300 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c.fetch(100 * time.Millisecond)
	c.exactlyOnce(320)
	if c.sites["a.example"] != 270 || c.sites["b.example"] != 50 {
		t.Fatalf("sites %v", c.sites)
	}

	// A restart reads nothing again, the compressed files included.
	var logs2 logBuf
	ing2, stop2 := startFollow(t, cfg, js, logs2.logger())
	time.Sleep(300 * time.Millisecond) // room to read something again, which it must not
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if st := ing2.Stats(); st.LinesRead != 0 {
		t.Fatalf("restart read lines again: %+v\n%s", st, logs2.String())
	}
	c.fetch(100 * time.Millisecond)
	c.exactlyOnce(320)
}

// TestImportGzip: vakt import reads a .gz file decompressed.
func TestImportGzip(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	path := filepath.Join(t.TempDir(), "access.log.2.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	var b []byte
	for seq := range 500 {
		b = appendSeqLine(b[:0], seq, time.Now())
		zw.Write(b)
	}
	zw.Close()
	f.Close()
	ing := run(t, Config{Files: []string{path}}, js, nil)
	if st := ing.Stats(); st.Published != 500 || len(st.Rejected) != 0 {
		t.Fatalf("stats %+v", st)
	}
	c := newSeqCounter(t, js)
	c.until("every line", 5*time.Second, func() bool { return c.total >= 500 })
	c.exactlyOnce(500)
}
