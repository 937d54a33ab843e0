package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
)

// Ports a test picks for a process it starts come from outside the kernel's
// ephemeral range. A port picked from bind(0) and closed again is soon
// handed to the next bind(0) of any process (the kernel recycles recently
// freed ports), such as an embedded nats-server taking a free port: the
// test's process then finds its port taken. No bind(0) lands outside the
// range: there only another test's pick can collide, and FreePort checks
// that the port is free and never hands one out twice in a process. The
// listeners here only probe a port and close at once; nothing is served.
var (
	handedMu sync.Mutex
	handed   = map[int]bool{}
)

// FreePort returns a loopback port, outside the ephemeral range, that was
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
	tb.Fatal("no free port outside the ephemeral range")
	return 0
}

// pickRange is the ports FreePort draws from: outside the ephemeral range
// (Linux's ip_local_port_range, portsOutside), or [10000, 32768) when it
// cannot be read.
func pickRange() (low, high int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	var first, last int
	if n, _ := fmt.Sscan(string(b), &first, &last); err != nil || n != 2 {
		return 10000, 32768
	}
	return portsOutside(first, last)
}

// portsOutside is the larger stretch of ports outside the ephemeral range
// [first, last]: from 10000 up to first, or above last. With under 1,000
// ports on either side it is [10000, 65536), some of which bind(0) uses.
func portsOutside(first, last int) (low, high int) {
	const floor = 10000
	below, above := first-floor, 65535-last
	switch {
	case below >= above && below >= 1000:
		return floor, first
	case above > below && above >= 1000:
		return last + 1, 65536
	}
	return floor, 65536
}
