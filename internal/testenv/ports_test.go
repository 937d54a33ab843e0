package testenv

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortOutsideEphemeralRange: the ports are usable, never handed out
// twice, and outside the range bind(0) draws from, so that an embedded
// server taking a free port cannot take one a test picked.
func TestFreePortOutsideEphemeralRange(t *testing.T) {
	low, high := pickRange()
	seen := map[int]bool{}
	for range 50 {
		port := FreePort(t)
		if port < low || port >= high || seen[port] {
			t.Fatalf("port %d: want a new one in [%d, %d)", port, low, high)
		}
		seen[port] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		l.Close()
	}
	if low == 10000 && high == 65536 {
		t.Log("no room outside this machine's ephemeral range: bind(0) may draw FreePort's ports")
		return
	}
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port >= low && port < high {
			t.Fatalf("bind(0) drew port %d, inside FreePort's [%d, %d)", port, low, high)
		}
	}
}

func TestPortsOutside(t *testing.T) {
	for _, c := range []struct{ first, last, low, high int }{
		{32768, 60999, 10000, 32768}, // Linux's default
		{1024, 60999, 61000, 65536},  // a container's wide range: above it
		{1024, 65535, 10000, 65536},  // no room: everything above 10000
		{49152, 65535, 10000, 49152},
	} {
		if low, high := portsOutside(c.first, c.last); low != c.low || high != c.high {
			t.Errorf("range %d-%d: [%d, %d), want [%d, %d)", c.first, c.last, low, high, c.low, c.high)
		}
	}
}
