package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
)

// Ports a test picks for a process it starts come from below the kernel's
// ephemeral range. A port picked from bind(0) and closed again is soon
// handed to the next bind(0) of any process (the kernel recycles recently
// freed ports), such as an embedded nats-server taking a free port: the
// test's process then finds its port taken. No bind(0) lands below the
// range: there only another test's pick can collide, and FreePort checks
// that the port is free and never hands one out twice in a process.
var (
	handedMu sync.Mutex
	handed   = map[int]bool{}
)

// FreePort returns a loopback port, below the ephemeral range, that was
// free for both TCP and UDP a moment ago and that no other test of this
// process was given.
func FreePort(tb testing.TB) int {
	tb.Helper()
	low, high := pickRange()
	handedMu.Lock()
	defer handedMu.Unlock()
	for range 200 {
		port := low + rand.IntN(high-low)
		if handed[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u.Close()
		handed[port] = true
		return port
	}
	tb.Fatal("no free port below the ephemeral range")
	return 0
}

// pickRange is the ports FreePort draws from: from 10000 up to the
// ephemeral range's first port (Linux's ip_local_port_range).
func pickRange() (low, high int) {
	low, high = 10000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var first, last int
		if n, _ := fmt.Sscan(string(b), &first, &last); n == 2 && first > low+1000 {
			high = first
		}
	}
	return low, high
}
