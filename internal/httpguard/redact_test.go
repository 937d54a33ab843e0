package httpguard

import (
	"strings"
	"testing"
)

func TestNoAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"dial tcp 127.0.0.1:8123: connect: connection refused":                "dial tcp <address>: connect: connection refused",
		"dial tcp [::1]:4222: i/o timeout":                                    "dial tcp <address>: i/o timeout",
		"read tcp 10.0.0.5:51234->10.0.0.9:9000: reset":                       "read tcp <address>-><address>: reset",
		"clickhouse.internal:9000 unreachable":                                "<address> unreachable",
		"nats: no servers available for connection (nats://u:p@example:4222)": "nats: no servers available for connection (<address>)",
		"code: 395, message: refused at 12:30:45 for 2001:db8::1.":            "code: 395, message: refused at 12:30:45 for <address>.",
		"value 'GET /x?ip=203.0.113.9' in version 24.8.1":                     "value 'GET /x?ip=<address>' in version 24.8.1",
	} {
		if got := NoAddresses(in); got != want {
			t.Errorf("NoAddresses(%q)\n got %q\nwant %q", in, got, want)
		}
	}
	if got := NoAddresses(strings.Repeat("é", 400)); len(got) > maxStateLen+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("long message: %d bytes", len(got))
	}
}
