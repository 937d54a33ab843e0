package output

import (
	"bytes"
	"io"
	"slices"
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

// FuzzTableLayout checks the table format's hand-made padding against
// text/tabwriter's layout of the same cells, for rows of the header's
// length (padded by hand) and of other lengths (laid out by tabwriter).
func FuzzTableLayout(f *testing.F) {
	f.Add("site|time|requests", "shop.example.org|2026-12-06 01:55:00.000|375", "é|\u00a0x|", uint8(3))
	f.Add("a", "", "ü", uint8(1))
	f.Add("ñame|x", "a|b|c", "", uint8(2))
	f.Fuzz(func(t *testing.T, header, row1, row2 string, n uint8) {
		if strings.Contains(header+row1+row2, "\xff") {
			t.Skip("tabwriter's escape character: it counts the text between two as narrower")
		}
		names := strings.Split(header, "|")
		var rows [][]string
		for i := range int(n % 8) {
			r := row1
			if i%2 == 1 {
				r = row2
			}
			rows = append(rows, strings.Split(r, "|"))
		}
		var got bytes.Buffer
		tb := newTable(names, &got)
		for _, r := range rows {
			tb.add(slices.Clone(r))
		}
		if err := tb.flush(); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		ref := newTable(names, &want)
		for _, r := range rows {
			ref.add(slices.Clone(r))
		}
		seps := make([]string, len(ref.names))
		for i, n := range ref.names {
			seps[i] = strings.Repeat("-", max(len(n), 1))
		}
		if err := ref.flushTabwriter(seps); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("padded by hand:\n%q\ntabwriter:\n%q", got.String(), want.String())
		}
	})
}

// BenchmarkTableHealthSeries writes a day's health series of twelve sites
// in five-minute buckets (3,456 rows) in the table format.
func BenchmarkTableHealthSeries(b *testing.B) {
	cols := []Column{{"site", "String"}, {"time", "DateTime64(3, 'UTC')"}, {"requests", "UInt64"},
		{"requests_per_s", "Float64"}, {"status_2xx", "UInt64"}, {"status_3xx", "UInt64"}, {"status_4xx", "UInt64"},
		{"status_5xx", "UInt64"}, {"status_other", "UInt64"}, {"error_rate", "Float64"}, {"client_error_rate", "Float64"},
		{"p50_s", "Nullable(Float64)"}, {"p95_s", "Nullable(Float64)"}, {"p99_s", "Nullable(Float64)"}, {"timed", "UInt64"}, {"bytes", "UInt64"}}
	ts := time.Date(2026, 12, 6, 1, 55, 0, 0, time.UTC)
	p50, p95 := 0.031, 0.218
	row := []any{"shop.example.org", ts, uint64(375), 1.25, uint64(333), uint64(27), uint64(12), uint64(3), uint64(0),
		0.008, 0.032, &p50, &p95, (*float64)(nil), uint64(375), uint64(11461302)}
	b.ReportAllocs()
	for b.Loop() {
		w, _ := NewWriter(Table, cols, io.Discard)
		for range 12 * 288 {
			if err := w.Row(row); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}
