package configkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestReadYAMLFiles(t *testing.T) {
	builtin := fstest.MapFS{"rules/a.yaml": {Data: []byte("a: 1")}, "rules/b.txt": {Data: []byte("x")}}
	dir := t.TempDir()
	for name, body := range map[string]string{"a.yml": "a: 2", "c.yaml": "c: 3", "notes.md": "no"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o700); err != nil {
		t.Fatal(err)
	}
	files, err := ReadYAMLFiles(builtin, "rules/*.yaml", "x/", []string{"", dir}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Src+"|"+f.Base+"|"+string(f.Data))
	}
	want := []string{"builtin:x/a.yaml|a.yaml|a: 1", filepath.Join(dir, "a.yml") + "|a.yaml|a: 2", filepath.Join(dir, "c.yaml") + "|c.yaml|c: 3"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	missing := filepath.Join(dir, "missing")
	if _, err := ReadYAMLFiles(builtin, "rules/*.yaml", "", []string{missing}, false); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a missing directory: %v, want an error naming it", err)
	}
	if files, err := ReadYAMLFiles(builtin, "rules/*.yaml", "", []string{missing}, true); err != nil || len(files) != 1 {
		t.Errorf("a missing optional directory: %d files, %v; want the built-in one and no error", len(files), err)
	}
}

func TestDecodeYAML(t *testing.T) {
	var v struct{ A int }
	if err := DecodeYAML([]byte("a: 1\nb: 2\n"), &v, true); err == nil || !strings.Contains(err.Error(), "field b not found") {
		t.Errorf("strict: %v, want an error naming b", err)
	}
	if err := DecodeYAML([]byte("a: 1\nb: 2\n"), &v, false); err != nil || v.A != 1 {
		t.Errorf("tolerant: %v, a = %d", err, v.A)
	}
	if err := DecodeYAML([]byte("# nothing\n"), &v, true); err != ErrEmpty {
		t.Errorf("empty: %v, want ErrEmpty", err)
	}
}
