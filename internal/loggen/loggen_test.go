package loggen

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/logformat"
)

var start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("", 2*3600))

// TestLinesParse generates 100k lines and checks each against its ground
// truth through the real parser.
func TestLinesParse(t *testing.T) {
	g := New(Config{Seed: 7, Clients: 2000, IPv6Share: 0.4, Sites: []string{"a.example", "b.example"}, Start: start})
	attacks := map[string]int{}
	statuses := map[uint16]int{}
	var v4, v6, noMethod int
	var last time.Time
	for i := range 100_000 {
		l := g.Next()
		var r event.Raw
		if err := logformat.ParseCombined(l.Text, &r); err != nil {
			t.Fatalf("line %d %q: %v", i, l.Text, err)
		}
		if r.ClientIP != l.IP {
			t.Fatalf("line %d: parsed ip %v, generated %v", i, r.ClientIP, l.IP)
		}
		if !r.Time.Equal(l.Time.Truncate(time.Second)) {
			t.Fatalf("line %d: parsed time %v, generated %v", i, r.Time, l.Time)
		}
		if l.Time.Before(last) {
			t.Fatalf("line %d: time went back", i)
		}
		last = l.Time
		if l.Site != "a.example" && l.Site != "b.example" {
			t.Fatalf("site %q", l.Site)
		}
		if l.Attack != "" && !slices.Contains(Attacks, l.Attack) {
			t.Fatalf("attack label %q", l.Attack)
		}
		if bytes.IndexByte(l.Text, '\n') >= 0 {
			t.Fatalf("line %d has a newline", i)
		}
		attacks[l.Attack]++
		statuses[r.Status]++
		if l.IP.Is4() {
			v4++
		} else {
			v6++
		}
		if r.Method == "" {
			noMethod++
		}
	}
	for _, a := range Attacks {
		if attacks[a] < 100 {
			t.Errorf("attack %s: %d lines", a, attacks[a])
		}
	}
	if n := 100_000 - attacks[""]; n < 4000 || n > 6000 {
		t.Errorf("%d attack lines, want about 5%%", n)
	}
	for _, s := range []uint16{200, 301, 304, 404, 500, 400, 408} {
		if statuses[s] == 0 {
			t.Errorf("no status %d", s)
		}
	}
	if statuses[200] < 60_000 {
		t.Errorf("only %d of 100000 are 200", statuses[200])
	}
	if v4 == 0 || v6 == 0 || noMethod == 0 {
		t.Errorf("v4 %d v6 %d no-method %d", v4, v6, noMethod)
	}
	// About 10 lines per second of log time.
	if d := last.Sub(start); d < 9000*time.Second || d > 11000*time.Second {
		t.Errorf("100000 lines span %v at rate 10", d)
	}
}

func TestDeterministic(t *testing.T) {
	gen := func(seed uint64) []byte {
		var b bytes.Buffer
		if _, err := New(Config{Seed: seed, Start: start}).Write(&b, 2000); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b, c := gen(1), gen(1), gen(2)
	if !bytes.Equal(a, b) {
		t.Error("same seed, different output")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds, same output")
	}
	if n := bytes.Count(a, []byte("\n")); n != 2000 {
		t.Errorf("%d lines", n)
	}
}

func TestEveryClientAppears(t *testing.T) {
	for seed := range uint64(8) {
		g := New(Config{Seed: seed, Clients: 1000, IPv6Share: 0.3, AttackShare: 0.2, Start: start})
		seen := map[netip.Addr]bool{}
		for range 10_000 {
			seen[g.Next().IP] = true
		}
		for _, ip := range g.Clients() {
			if !seen[ip] {
				t.Fatalf("seed %d: client %v never appeared in 10000 lines", seed, ip)
			}
		}
		if len(seen) != 1000 {
			t.Fatalf("seed %d: %d distinct addresses, want 1000", seed, len(seen))
		}
	}

	// More clients than can all appear: still at least 1000 of both kinds.
	g := New(Config{Seed: 3, Clients: 20_000, Start: start})
	seen := map[netip.Addr]bool{}
	var v4, v6 int
	for range 10_000 {
		ip := g.Next().IP
		if !seen[ip] {
			seen[ip] = true
			if ip.Is4() {
				v4++
			} else {
				v6++
			}
		}
	}
	if len(seen) < 1000 || v4 == 0 || v6 == 0 {
		t.Fatalf("%d distinct (%d v4, %d v6)", len(seen), v4, v6)
	}
}

func TestAddresses(t *testing.T) {
	g := New(Config{Seed: 5, Clients: 10_000, IPv6Share: 0.25, Start: start})
	ips := g.Clients()
	nets := map[netip.Prefix]bool{}
	var v6 int
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		if seen[ip] {
			t.Fatalf("duplicate %v", ip)
		}
		seen[ip] = true
		if !public(ip) || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.Is4In6() {
			t.Fatalf("not a public address: %v", ip)
		}
		bits := 24
		if ip.Is6() {
			bits = 48
			v6++
		}
		nets[netip.PrefixFrom(ip, bits).Masked()] = true
	}
	if len(ips) != 10_000 || v6 != 2500 {
		t.Errorf("%d clients, %d IPv6", len(ips), v6)
	}
	if len(nets) < 3000 {
		t.Errorf("only %d distinct /24 and /48 networks", len(nets))
	}
	if len(nets) > 9000 {
		t.Errorf("%d networks for 10000 clients: no shared networks", len(nets))
	}
	for _, s := range []string{"10.1.2.3", "192.168.1.1", "100.64.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9",
		"224.0.0.1", "2001:db8::1", "fd00::1", "fe80::1", "2002:c000:201::1", "2001:0:1::1"} {
		if public(netip.MustParseAddr(s)) {
			t.Errorf("%s counted as public", s)
		}
	}

	if ips := New(Config{Seed: 5, Clients: 100, IPv6Share: -1, Start: start}).Clients(); !ips[0].Is4() {
		t.Error("IPv6Share -1 gave IPv6")
	}
}

func TestNowAndNoAttacks(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	g := New(Config{Seed: 1, Clients: 10, AttackShare: -1, Now: func() time.Time { return now }})
	for range 1000 {
		l := g.Next()
		if l.Attack != "" || !l.Time.Equal(now) {
			t.Fatalf("attack %q time %v", l.Attack, l.Time)
		}
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	ips, err := New(Config{Seed: 9, Clients: 100, Start: start}).WriteFile(path, 5000)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[netip.Addr]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r event.Raw
		if err := logformat.ParseCombined(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		got[r.ClientIP]++
	}
	if len(got) != len(ips) || len(got) != 100 {
		t.Fatalf("%d addresses in file, %d returned", len(got), len(ips))
	}
	for ip, n := range ips {
		if got[ip] != n {
			t.Errorf("%v: %d lines in file, %d returned", ip, got[ip], n)
		}
	}
}

func BenchmarkAppendLine(b *testing.B) {
	g := New(Config{Seed: 1, Clients: 10_000, Start: start})
	buf := make([]byte, 0, 1024)
	var n int
	for b.Loop() {
		buf = g.AppendLine(buf[:0])
		n += len(buf)
	}
	b.SetBytes(int64(n / max(b.N, 1)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
