package subject

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":        "203.0.113.7",
		" 203.0.113.7 ":      "203.0.113.7",
		"::ffff:203.0.113.7": "203.0.113.7", // the same client as its IPv4 form
		"[2001:db8::7]":      "2001:db8::7",
		"2001:DB8::7":        "2001:db8::7",
	} {
		got, err := ParseAddr(in)
		if err != nil || got != netip.MustParseAddr(want) {
			t.Errorf("ParseAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "198.51.100", "fe80::1%eth0", "example.org", "203.0.113.7/24"} {
		_, err := ParseAddr(in)
		if err == nil {
			t.Errorf("ParseAddr(%q) accepted", in)
		} else if in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("the error echoes the input: %v", err)
		}
	}
}

func TestCheckReference(t *testing.T) {
	for _, ok := range []string{"", "TICKET-4711", "GDPR request 2026-12-06 12:00", "case 1.2.3", "v1.2"} {
		if err := CheckReference(ok); err != nil {
			t.Errorf("CheckReference(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"from 203.0.113.7", "ip=2001:db8::1;", "::ffff:198.51.100.1", "[2001:db8::7]"} {
		if err := CheckReference(bad); err == nil {
			t.Errorf("CheckReference(%q) accepted an address", bad)
		}
	}
}

func TestCheckFormat(t *testing.T) {
	for _, c := range []struct {
		action, format string
		ok             bool
	}{{"export", "json", true}, {"export", "csv", true}, {"export", "table", false}, {"find", "table", true},
		{"find", "csv", false}, {"erase", "json", true}, {"records", "table", true}} {
		if err := CheckFormat(c.action, c.format); (err == nil) != c.ok {
			t.Errorf("CheckFormat(%s, %s) = %v", c.action, c.format, err)
		}
	}
}
