package selfserve

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Limiter counts each client's requests per minute. Clients are kept as a
// keyed hash of their address (the key is random per process and never
// leaves memory), not the address itself, and forgotten after their minute.
type Limiter struct {
	perMinute int
	seed      maphash.Seed
	mu        sync.Mutex
	minute    int64
	counts    map[uint64]int
}

// NewLimiter allows perMinute requests per client and calendar minute.
func NewLimiter(perMinute int) *Limiter {
	return &Limiter{perMinute: perMinute, seed: maphash.MakeSeed(), counts: map[uint64]int{}}
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
	l.counts[key]++
	return l.counts[key] <= l.perMinute
}
