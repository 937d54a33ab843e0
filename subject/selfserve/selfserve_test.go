package selfserve

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLimiterCountsPerClientAndMinute(t *testing.T) {
	l := NewLimiter(2)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("::ffff:192.0.2.2")
	at := time.Date(2026, 1, 1, 10, 0, 5, 0, time.UTC)
	for i, want := range []bool{true, true, false} {
		if got := l.Allow(a, at); got != want {
			t.Fatalf("request %d of a minute: allowed %v, want %v", i+1, got, want)
		}
	}
	if !l.Allow(b, at) || !l.Allow(netip.MustParseAddr("192.0.2.2"), at) || l.Allow(b, at) {
		t.Fatal("a mapped address is not counted as its IPv4 form, or clients share a count")
	}
	if !l.Allow(a, at.Add(time.Minute)) {
		t.Fatal("the next minute did not start a new count")
	}
}

func TestLimiterBoundsTheClientsOfAMinute(t *testing.T) {
	l := NewLimiter(5)
	l.maxClients = 2
	at := time.Date(2026, 1, 1, 10, 0, 5, 0, time.UTC)
	a, b, c := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::3")
	if !l.Allow(a, at) || !l.Allow(b, at) {
		t.Fatal("the first two clients were refused")
	}
	if l.Allow(c, at) {
		t.Fatal("a third client was counted past the bound")
	}
	if !l.Allow(a, at) || !l.Allow(c, at.Add(time.Minute)) {
		t.Fatal("a counted client, or a new one next minute, was refused")
	}
}

func TestProblemsNameTheKeys(t *testing.T) {
	if ps := Defaults().Problems(); len(ps) != 0 {
		t.Fatalf("defaults have problems: %v", ps)
	}
	remote := Config{Listen: "0.0.0.0:9466", SharedAgents: 3, RatePerMinute: 10}
	if ps := remote.Problems(); len(ps) != 1 || ps[0].Key != "subject.listen" {
		t.Fatalf("a remote listener without allow_plaintext_remote: %v", ps)
	}
	remote.AllowPlaintextRemote = true
	if ps := remote.Problems(); len(ps) != 0 {
		t.Fatalf("a remote listener with allow_plaintext_remote: %v", ps)
	}
	c := Config{Listen: "nope", SharedAgents: -1, RatePerMinute: 0, AllowedHosts: []string{"a b"}}
	got := ""
	for _, p := range c.Problems() {
		got += p.Key + " "
	}
	for _, k := range []string{"subject.listen", "subject.shared_agents", "subject.rate_per_minute", "subject.allowed_hosts"} {
		if !strings.Contains(got, k) {
			t.Errorf("no problem names %s (got %s)", k, got)
		}
	}
}
