package pseudonymize

import (
	"strings"
	"testing"

	"github.com/vakt-dev/vakt/internal/event"
)

// signalsAll runs every rule, with no prefilter: the reference signals must
// agree with.
func signalsAll(s string) event.Flags {
	var f event.Flags
	if matchAny(sqlInjection, normalizeSQL(s)) {
		f |= event.FlagSQLInjection
	}
	if matchAny(xss, s) {
		f |= event.FlagXSS
	}
	return f
}

func FuzzSignalsPrefilter(f *testing.F) {
	for _, s := range []string{
		"/index.html", "/p?id=1", "/x?q=union/**/select", "/x?information_schema.tables",
		"/a/onerror=alert", "/d?x=document.cookie", "/f?srcdoc=x", "/?q=1' or '1'='1", "/<script>",
		"/x?u=javascript:alert(1)", "/x;drop table", "/a?b=sleep(5)", "/x\tunion\tselect 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = strings.ToLower(s)
		want := signalsAll(s)
		got := signals(s) & (event.FlagSQLInjection | event.FlagXSS)
		if got != want {
			t.Fatalf("signals(%q) = %b, all rules give %b", s, got, want)
		}
	})
}

func BenchmarkFlagsBenign(b *testing.B) {
	targets := []string{"/images/billing.png", "/products?id=123&page=2", "/blog/2026/11/25/a-post-title", "/api/v1/items?sort=price&order=asc", "/"}
	b.ReportAllocs()
	cpu := threadCPU()
	i := 0
	for b.Loop() {
		Flags(targets[i%len(targets)], "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36")
		i++
	}
	b.ReportMetric(float64(threadCPU()-cpu)/float64(b.N), "cpu-ns/op")
}
