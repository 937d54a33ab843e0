package pseudonymize

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.0.2.10 ", "2001:db8::/32", "::ffff:172.16.0.0/108", "10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.10/32", "2001:db8::/32", "172.16.0.0/12", "10.0.0.0/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d = %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"proxy.local", "10.0.0.0/33", "", "fe80::1%eth0", "::ffff:0:0/80"} {
		_, err := ParseTrustedProxies([]string{bad})
		if err == nil || !strings.Contains(err.Error(), "pseudonymize.trusted_proxies") {
			t.Errorf("%q: err = %v, want one naming the key", bad, err)
		}
	}
}

func TestClientIP(t *testing.T) {
	proxies, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.10", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"untrusted remote ignores the header", "198.51.100.1", "203.0.113.9", "198.51.100.1"},
		{"untrusted remote, spoofed chain", "198.51.100.1", "10.0.0.1, 203.0.113.9", "198.51.100.1"},
		{"trusted remote, no header", "10.0.0.5", "", "10.0.0.5"},
		{"trusted remote, one client", "10.0.0.5", "203.0.113.9", "203.0.113.9"},
		{"right-most untrusted wins over a spoofed left part", "10.0.0.5", "6.6.6.6, 203.0.113.9", "203.0.113.9"},
		{"trusted hops skipped", "10.0.0.5", "6.6.6.6, 203.0.113.9, 192.0.2.10, 10.9.9.9", "203.0.113.9"},
		{"all trusted: left-most", "10.0.0.5", "10.1.1.1, 10.2.2.2", "10.1.1.1"},
		{"invalid entries skipped", "10.0.0.5", "203.0.113.9, unknown, _hidden, , 10.2.2.2", "203.0.113.9"},
		{"only invalid entries: remote", "10.0.0.5", "unknown, garbage", "10.0.0.5"},
		{"port and brackets", "10.0.0.5", "[2001:db8::7]:4711, 10.1.1.1:80", "2001:db8::7"},
		{"ipv4 with port", "10.0.0.5", "203.0.113.9:51000", "203.0.113.9"},
		{"RFC 7239 for= form", "10.0.0.5", `for="[2001:db8::7]:4711"`, "2001:db8::7"},
		{"quoted", "10.0.0.5", `"203.0.113.9"`, "203.0.113.9"},
		{"mapped addresses unmapped", "::ffff:10.0.0.5", "::ffff:203.0.113.9", "203.0.113.9"},
		{"mapped hop is trusted", "10.0.0.5", "203.0.113.9, ::ffff:10.3.3.3", "203.0.113.9"},
		{"ipv6 proxy network", "2001:db8:ffff:1::1", "2001:db8:1::99", "2001:db8:1::99"},
		{"zone and unspecified are not clients", "10.0.0.5", "203.0.113.9, fe80::1%eth0, 0.0.0.0", "203.0.113.9"},
		{"no spaces", "10.0.0.5", "6.6.6.6,203.0.113.9,10.1.1.1", "203.0.113.9"},
		{"untrusted remote mapped", "::ffff:198.51.100.1", "203.0.113.9", "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := proxies.ClientIP(netip.MustParseAddr(tt.remote), tt.xff)
			if got.String() != tt.want {
				t.Errorf("ClientIP(%s, %q) = %s, want %s", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
	var none TrustedProxies
	if got := none.ClientIP(netip.MustParseAddr("10.0.0.5"), "203.0.113.9"); got.String() != "10.0.0.5" {
		t.Errorf("no trusted proxies: %s, want the remote address", got)
	}
	long := strings.Repeat("10.1.1.1, ", 1000) + "10.2.2.2"
	if got := proxies.ClientIP(netip.MustParseAddr("10.0.0.5"), long); !proxies.Contains(got) {
		t.Errorf("long all-trusted chain gave %s", got)
	}
}

// FuzzClientIP: any header gives the remote address or an address the
// header names, never a trusted one unless the whole examined chain is.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"", "203.0.113.9", "6.6.6.6, 203.0.113.9, 10.1.1.1", "[2001:db8::7]:4711", `for="[::1]"`, "unknown,,", "::ffff:10.0.0.1"} {
		f.Add(s)
	}
	proxies, _ := ParseTrustedProxies([]string{"10.0.0.0/8"})
	remote := netip.MustParseAddr("10.0.0.5")
	f.Fuzz(func(t *testing.T, xff string) {
		got := proxies.ClientIP(remote, xff)
		if !got.IsValid() || got.Is4In6() || got.Zone() != "" {
			t.Fatalf("ClientIP(%q) = %v", xff, got)
		}
		if got == remote {
			return
		}
		found := false
		for _, part := range strings.Split(xff, ",") {
			if a, ok := parseForwarded(part); ok && a == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("ClientIP(%q) = %s, which the header does not name", xff, got)
		}
	})
}
