package testenv

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortBelowEphemeralRange: the ports are usable, never handed out
// twice, and outside the range bind(0) draws from, so that an embedded
// server taking a free port cannot take one a test picked.
func TestFreePortBelowEphemeralRange(t *testing.T) {
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
	for range 200 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if seen[port] {
			t.Fatalf("bind(0) drew port %d, which FreePort handed out", port)
		}
	}
}
