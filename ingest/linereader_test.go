package ingest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type gotLine struct {
	text    string
	off     int64
	tooLong bool
}

func readAll(lr *lineReader) (lines []gotLine, err error) {
	for {
		line, off, long, err := lr.next()
		if err != nil {
			return lines, err
		}
		lines = append(lines, gotLine{string(line), off, long})
	}
}

func TestLineReader(t *testing.T) {
	const max = 100 << 10 // larger than the 64 KiB buffer
	long := strings.Repeat("x", max+1)
	exact := strings.Repeat("y", max)
	in := "a\n\nb\r\n" + long + "\n" + exact + "\nc\n" + long + long + "\nd"
	lr := newLineReader(strings.NewReader(in), max, 0)
	lines, err := readAll(lr)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	o := func(s string) int64 { return int64(strings.Index(in, s)) }
	want := []gotLine{
		{"a", 0, false}, {"", 2, false}, {"b\r", 3, false}, {"", 6, true}, {exact, o(exact), false},
		{"c", o("\nc\n") + 1, false}, {"", o("\nc\n") + 3, true},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: got %.20q at %d long=%v, want %.20q at %d long=%v", i,
				lines[i].text, lines[i].off, lines[i].tooLong, want[i].text, want[i].off, want[i].tooLong)
		}
	}
	if line, off, tooLong, ok := lr.rest(); !ok || string(line) != "d" || off != int64(len(in)-1) || tooLong {
		t.Errorf("rest = %q %d %v %v", line, off, tooLong, ok)
	}
	if _, _, _, ok := lr.rest(); ok {
		t.Error("rest twice")
	}
}

// TestLineReaderGrowing reads a file while it is appended to, a line
// arriving in pieces.
func TestLineReaderGrowing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lr := newLineReader(r, 1<<20, 0)
	w.WriteString("first\nsec")
	lines, err := readAll(lr)
	if !errors.Is(err, io.EOF) || len(lines) != 1 || !lr.partial() {
		t.Fatalf("%v %v partial=%v", lines, err, lr.partial())
	}
	w.WriteString("ond\nthird")
	lines, _ = readAll(lr)
	if len(lines) != 1 || lines[0] != (gotLine{"second", 6, false}) {
		t.Fatalf("%+v", lines)
	}
	w.WriteString("\n")
	lines, _ = readAll(lr)
	if len(lines) != 1 || lines[0] != (gotLine{"third", 13, false}) || lr.partial() {
		t.Fatalf("%+v", lines)
	}

	// Joining mid-line skips to the next newline.
	lr = newLineReader(strings.NewReader("alf line\nwhole\n"), 1<<20, 100)
	lr.skip = true
	lines, _ = readAll(lr)
	if len(lines) != 1 || lines[0] != (gotLine{"whole", 109, false}) {
		t.Fatalf("%+v", lines)
	}
}
