package selfserve

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// defaultMaxClients bounds the clients counted in one minute.
const defaultMaxClients = 100_000

// Limiter counts each client's requests per minute. Clients are kept as a
// keyed hash of their address (the key is random per process and never
// leaves memory), not the address itself, and forgotten after their minute.
// At most maxClients are counted per minute: past that, new clients wait
// for the next minute, so a flood of (IPv6) addresses cannot grow memory.
type Limiter struct {
	perMinute  int
	maxClients int
	seed       maphash.Seed
	mu         sync.Mutex
	minute     int64
	counts     map[uint64]int
}

// NewLimiter allows perMinute requests per client and calendar minute.
func NewLimiter(perMinute int) *Limiter {
	return &Limiter{perMinute: perMinute, maxClients: defaultMaxClients, seed: maphash.MakeSeed(), counts: map[uint64]int{}}
}

// Allow counts a request of a at now and reports whether it is within the
// limit.
func (l *Limiter) Allow(a netip.Addr, now time.Time) bool {
	b := a.Unmap().As16()
	key := maphash.Bytes(l.seed, b[:])
	m := now.Unix() / 60
	l.mu.Lock()
	defer l.mu.Unlock()
	if m != l.minute {
		l.minute, l.counts = m, map[uint64]int{}
	}
	if _, seen := l.counts[key]; !seen && len(l.counts) >= l.maxClients {
		return false
	}
	l.counts[key]++
	return l.counts[key] <= l.perMinute
}
