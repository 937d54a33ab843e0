package output

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestFromEngine(t *testing.T) {
	engine := "s\tn\n" + `tab\there, back\\slash` + "\t\\N\n"
	for format, want := range map[string]string{
		Table: "s                      n\n-                      -\ntab\\there, back\\slash  NULL\n(1 rows)\n",
		CSV:   "s,n\n\"tab\there, back\\slash\",\n",
		TSV:   engine,
	} {
		var out bytes.Buffer
		if err := FromEngine(format, strings.NewReader(engine), &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("%s: got %q, want %q", format, out.String(), want)
		}
	}
	var none bytes.Buffer
	if err := FromEngine(Table, strings.NewReader(""), &none); err != nil || none.Len() != 0 {
		t.Fatalf("no result: %v %q", err, none.String())
	}
}

func TestWriterRendersTypes(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 11, 12, 345e6, time.UTC)
	cols := []Column{{Name: "t", Type: "DateTime64(3, 'UTC')"}, {Name: "n", Type: "UInt64"}, {Name: "z", Type: "Nullable(Float64)"}}
	var out bytes.Buffer
	w, err := NewWriter(JSON, cols, &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Row([]any{ts, uint64(1 << 60), nil}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := `{"t":"2026-11-25 10:11:12.345","n":"1152921504606846976","z":null}` + "\n"; out.String() != want {
		t.Fatalf("json %q, want %q", out.String(), want)
	}
	if _, err := NewWriter("xml", cols, &out); err == nil {
		t.Fatal("xml accepted")
	}
}

// countingWriter counts the writes that reach it.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

// TestWritersBuffer: every format writes what it was given by Flush, in
// 64 KiB blocks, not a write per cell or row (a day's health report in the
// table format made 139,000 system calls).
func TestWritersBuffer(t *testing.T) {
	cols := []Column{{"site", "String"}, {"n", "UInt64"}, {"p95", "Nullable(Float64)"}}
	for _, format := range []string{Table, JSON, CSV, TSV} {
		var out countingWriter
		w, err := NewWriter(format, cols, &out)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5000 {
			if err := w.Row([]any{"shop.example", uint64(i), 0.25}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(out.String(), "\n")
		if want := out.Len()/(64<<10) + 2; out.writes > want {
			t.Errorf("%s: %d writes for %d bytes, want at most %d", format, out.writes, out.Len(), want)
		}
		if lines < 5000 || !strings.Contains(out.String(), "4999") {
			t.Errorf("%s: %d lines written, want every row", format, lines)
		}
	}
}
