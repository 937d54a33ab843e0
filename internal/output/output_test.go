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
