package secrets

import (
	"os"
	"sync"
	"testing"
)

func TestEnsureGeneratesOnceOwnerOnly(t *testing.T) {
	dir := t.TempDir() + "/data"
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := Ensure(dir, "clickhouse-vakt.password")
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for _, v := range got {
		if v != got[0] || len(v) != 64 {
			t.Fatalf("concurrent first starts disagree or short secret: %q", got)
		}
	}
	for _, p := range []string{dir, Dir(dir)} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("%s: mode %v, err %v; want 0700", p, st.Mode().Perm(), err)
		}
	}
	st, _ := os.Stat(Path(dir, "clickhouse-vakt.password"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	if other, _ := Ensure(dir, "nats-ingest.password"); other == got[0] {
		t.Fatal("two secrets share a value")
	}
}

func TestReadRefusesWorldReadable(t *testing.T) {
	dir := t.TempDir()
	if _, err := Ensure(dir, "x"); err != nil {
		t.Fatal(err)
	}
	os.Chmod(Path(dir, "x"), 0o644)
	if _, err := Read(dir, "x"); err == nil {
		t.Fatal("a world-readable secret was accepted")
	}
}
