package pseudonymize

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pseudonymOf is the visible pseudonym of ip under k.
func pseudonymOf(k *Keys, ip string) string {
	return fmt.Sprintf("ip-%016x", k.ClientID(netip.MustParseAddr(ip)))
}

func TestRedactAddrs(t *testing.T) {
	k := mustKeys(t, 7, 1)
	p := func(ip string) string { return pseudonymOf(k, ip) }
	cases := []struct{ in, want string }{
		{"curl/8 from 203.0.113.99", "curl/8 from " + p("203.0.113.99")},
		{"http://198.51.100.7:8080/x", "http://" + p("198.51.100.7") + ":8080/x"},
		{"http://[2001:db8::1]:8443/a", "http://[" + p("2001:db8::1") + "]:8443/a"},
		{"via 2001:db8::1.", "via " + p("2001:db8::1") + "."},
		{"mapped ::ffff:1.2.3.4 and 1.2.3.4", "mapped " + p("1.2.3.4") + " and " + p("1.2.3.4")},
		{"/whois/2001:DB8:0:0:0:0:0:2?x=1", "/whois/" + p("2001:db8::2") + "?x=1"},
		{"client:2001:db8::7 seen", "client:" + p("2001:db8::7") + " seen"},
		{"fe80::1%eth0", p("fe80::1") + "%eth0"},
		{"ip=010.001.002.003", "ip=" + p("10.1.2.3")},
		{"203.0.113.5.nip.io", p("203.0.113.5") + ".nip.io"},
		{"Version/1.2.3.4 Safari", "Version/" + p("1.2.3.4") + " Safari"}, // privacy wins
		{"a=1.2.3.4&b=5.6.7.8", "a=" + p("1.2.3.4") + "&b=" + p("5.6.7.8")},
		// Not addresses: left alone.
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36", ""},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", ""},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", ""},
		{"libwww-perl/6.72 LWP::Simple", ""},
		{"at 12:30:00 on 2024.01.02", ""},
		{"snmp 1.3.6.1.2.1", ""},
		{"1.2.3.256 and 1.2.3 and 1234.1.1.1", ""},
		{"mac 00:1a:2b:3c:4d:5e", ""},
		{"Shop :: Cart on 0.0.0.0", ""},
		{"", ""},
	}
	for _, c := range cases {
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := k.RedactAddrs(c.in); got != want {
			t.Errorf("RedactAddrs(%q)\n got %q\nwant %q", c.in, got, want)
		}
	}
	// The pseudonym is the client id: an analyst can match it with the
	// client_id column.
	if got, want := k.RedactAddrs("198.51.100.7"), "ip-"+fmt.Sprintf("%016x", k.ClientID(netip.MustParseAddr("198.51.100.7"))); got != want {
		t.Fatalf("pseudonym %q, want %q", got, want)
	}
	if other := mustKeys(t, 8, 2); other.RedactAddrs("198.51.100.7") == k.RedactAddrs("198.51.100.7") {
		t.Fatal("the pseudonym does not depend on the salt")
	}
}

func TestRedactAddrsDoesNotAllocateWithoutAddress(t *testing.T) {
	k := mustKeys(t, 7, 1)
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36"
	if n := testing.AllocsPerRun(100, func() { _ = k.RedactAddrs(ua) }); n != 0 {
		t.Fatalf("%v allocations for a user agent without an address", n)
	}
}

// The fuzz oracle below is a naive, separate reading of the rules in
// freetext.go: every dotted number of four parts of at most 255, every run
// of whole ':'-separated fields netip.ParseAddr reads as IPv6.

var (
	pseudonymRE    = regexp.MustCompile(`ip-[0-9a-f]{16}`)
	dottedNumberRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)*`)
	addressTokenRE = regexp.MustCompile(`[0-9A-Za-z.:]+`)
)

// naiveAddrs lists the addresses in s by brute force.
func naiveAddrs(s string) []string {
	var found []string
	// IPv4.
	for _, run := range dottedNumberRE.FindAllStringIndex(s, -1) {
		parts := strings.Split(s[run[0]:run[1]], ".")
		if len(parts) != 4 {
			continue
		}
		ok := true
		for _, p := range parts {
			v, err := strconv.Atoi(p)
			ok = ok && err == nil && len(p) <= 3 && v <= 255
		}
		if ok && strings.Trim(s[run[0]:run[1]], "0.") != "" && (run[0] == 0 || s[run[0]-1] != '/' || parts[2] != "0" && parts[2] != "00" && parts[2] != "000" ||
			strings.Trim(parts[3], "0") != "") {
			found = append(found, s[run[0]:run[1]])
		}
	}
	// IPv6: every window of whole fields of every token.
	for _, tok := range addressTokenRE.FindAllString(s, -1) {
		fields := strings.Split(tok, ":")
		for a := range fields {
			// An IPv6 literal has at most nine fields ("1:2:3:4:5:6:7::").
			for b := a + 2; b < len(fields) && b < a+9; b++ {
				cand := strings.TrimRight(strings.Join(fields[a:b+1], ":"), ".")
				if ip, err := netip.ParseAddr(cand); err == nil && ip.Is6() && !ip.IsUnspecified() {
					found = append(found, cand)
				}
			}
		}
	}
	return found
}

func isSubsequence(sub, s string) bool {
	i := 0
	for j := 0; i < len(sub) && j < len(s); j++ {
		if sub[i] == s[j] {
			i++
		}
	}
	return i == len(sub)
}

func FuzzRedactAddrs(f *testing.F) {
	for _, s := range []string{
		"curl/8 from 203.0.113.99", "http://198.51.100.7:8080/x", "[2001:db8::1]:80", "::ffff:1.2.3.4",
		"Chrome/120.0.6099.109", "Chrome/120.0.0.0", "Version/1.2.3.4", "LWP::Simple", "12:30:00",
		"client:2001:db8::7", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "1.2.3.4.5", "a1.2.3.4b", "::", "1::",
	} {
		f.Add(s)
	}
	k := mustKeys(f, 3, 9)
	f.Fuzz(func(t *testing.T, in string) {
		out := k.RedactAddrs(in)
		if found := naiveAddrs(out); len(found) > 0 {
			t.Fatalf("addresses %q survive in %q (from %q)", found, out, in)
		}
		if len(naiveAddrs(in)) == 0 && out != in {
			t.Fatalf("text without an address changed: %q -> %q", in, out)
		}
		if again := k.RedactAddrs(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if rest := pseudonymRE.ReplaceAllString(out, ""); !isSubsequence(rest, in) {
			t.Fatalf("text other than addresses changed: %q -> %q", in, out)
		}
	})
}

// TestRedactAddrsLinear: a hostile 64 KB user agent costs linear time (a
// quadratic scan took over 10 s for the first one).
func TestRedactAddrsLinear(t *testing.T) {
	k := mustKeys(t, 1, 1)
	for _, s := range []string{
		strings.Repeat("1::1:", 13000), strings.Repeat("a:", 32000), strings.Repeat(":", 64000),
		strings.Repeat("1.", 32000), strings.Repeat("1.2.3.4:", 8000), strings.Repeat("1:2:3:4:5:6:7:8:", 4000),
	} {
		t0 := time.Now()
		out := k.RedactAddrs(s)
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("%q...: %v", s[:12], d)
		}
		if found := naiveAddrs(out[:min(len(out), 4096)]); len(found) > 0 {
			t.Errorf("%q...: addresses survive: %q", s[:12], found[0])
		}
	}
}
