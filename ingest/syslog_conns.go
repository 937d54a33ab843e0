package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vakt-dev/vakt/ingest/syslog"
	"github.com/vakt-dev/vakt/logformat"
)

// The syslog receiver's TCP connections are bounded so that no sender, and
// no flood of connections, can lock the others out: each connection must
// deliver a whole frame every IdleTimeout, and at MaxConnections one
// connection makes room for a new one. Closing a connection loses what it
// holds unread, so the victim is, in this order (see tier):
//  0. the oldest that has received nothing, not even bytes still in the
//     kernel (checked with FIONREAD): nothing to lose;
//  1. the oldest that received bytes but never a whole frame (a slow
//     loris, or a sender whose first frame is in flight);
//  2. the longest idle sender with nothing unread, between frames;
//  3. the longest idle sender with a frame in flight.
// A flood of connections that send nothing therefore only evicts itself,
// a sender's line already sent is never dropped for it, and a sender that
// delivered recently survives one that does send.

// listenerSyslogTCP is the "listener" label of the connection metrics.
const listenerSyslogTCP = "syslog_tcp"

// Reasons a syslog TCP connection was closed (metric label).
const (
	closePeer            = "peer"             // the sender closed it, or a read failed
	closeIdle            = "idle_timeout"     // no frame for IdleTimeout
	closeIncompleteFrame = "incomplete_frame" // a frame begun but not finished within IdleTimeout
	closeEvicted         = "evicted"          // the longest idle at the cap, to admit a new one
	closeFraming         = "framing"          // broken RFC 6587 framing
	closeShutdown        = "shutdown"
)

// syslogConn is one accepted TCP connection.
type syslogConn struct {
	c    net.Conn
	addr string       // remote address for the per-address cap; never logged
	last atomic.Int64 // unix nanoseconds of the last frame (or the accept)
	// received is set by the first byte read (or seen waiting in the
	// kernel), delivered by the first frame.
	received, delivered atomic.Bool
	// busy is set while bytes read are not yet a whole frame.
	busy atomic.Bool
}

// Read counts the bytes the frame reader takes from the connection.
func (sc *syslogConn) Read(p []byte) (int, error) {
	n, err := sc.c.Read(p)
	if n > 0 {
		sc.busy.Store(true)
		sc.received.Store(true)
	}
	return n, err
}

// tier ranks sc for eviction, lowest first (see the top of this file);
// held marks a sender found with unread bytes in the kernel.
func (sc *syslogConn) tier(held bool) int {
	switch {
	case !sc.received.Load():
		return 0
	case !sc.delivered.Load():
		return 1
	case !held && !sc.busy.Load():
		return 2
	}
	return 3
}

// unread returns the bytes waiting in the kernel for sc's reader (0 where
// the platform cannot tell).
func (sc *syslogConn) unread() int {
	rc, ok := sc.c.(syscall.Conn)
	if !ok {
		return 0
	}
	raw, err := rc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = raw.Control(func(fd uintptr) { n = socketUnread(fd) })
	return n
}

// active records a frame.
func (sc *syslogConn) active() {
	sc.last.Store(time.Now().UnixNano())
	sc.delivered.Store(true)
}

func (s *syslogServer) acceptTCP(ctx context.Context, wg *sync.WaitGroup) {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.ing.log.Error("syslog tcp receiver stopped", slog.Any("err", err))
			return
		}
		sc := &syslogConn{c: c}
		if host, _, err := net.SplitHostPort(c.RemoteAddr().String()); err == nil {
			sc.addr = host
		}
		sc.last.Store(time.Now().UnixNano())
		if !s.admit(ctx, sc) {
			c.Close()
			return
		}
		wg.Go(func() {
			reason := s.readTCP(sc)
			if ctx.Err() != nil {
				reason = closeShutdown
			}
			s.release(sc, reason)
			c.Close()
		})
		// Let the new reader take what the sender has already sent before
		// a burst of accepts can make it the oldest never-delivered one.
		runtime.Gosched()
	}
}

// admit registers sc, first evicting a connection of its address (at
// MaxConnectionsPerAddress) or of all (at MaxConnections). It
// returns false once the receiver is shutting down.
func (s *syslogServer) admit(ctx context.Context, sc *syslogConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return false // closeAll has run or is waiting: take no more
	}
	var victims []*syslogConn
	if max := s.cfg.MaxConnectionsPerAddress; max > 0 && s.byAddr[sc.addr] >= max {
		victims = append(victims, s.evictLocked(func(o *syslogConn) bool { return o.addr == sc.addr }))
	}
	if len(s.conns) >= s.cfg.MaxConnections {
		victims = append(victims, s.evictLocked(nil))
	}
	s.conns[sc] = struct{}{}
	s.byAddr[sc.addr]++
	s.ing.met.syslogOpen.Set(float64(len(s.conns)))
	for _, v := range victims {
		if v != nil {
			v.c.Close() // its reader ends; release finds it gone
		}
	}
	if len(victims) > 0 {
		s.evicts++
		if time.Since(s.warned) >= time.Minute {
			s.ing.log.Warn("syslog tcp connections at the cap: closed idle ones to admit new ones",
				slog.Int("closed", s.evicts), slog.Int("max_connections", s.cfg.MaxConnections),
				slog.Int("max_connections_per_address", s.cfg.MaxConnectionsPerAddress))
			s.warned, s.evicts = time.Now(), 0
		}
	}
	return true
}

// evictLocked removes and returns the first connection to go (see tier)
// that match accepts (nil: any), counted as evicted; the caller closes it.
// The flags say what the readers took; a candidate whose flags say it holds
// nothing is asked the kernel too, and ranked again if bytes wait for it.
func (s *syslogServer) evictLocked(match func(*syslogConn) bool) *syslogConn {
	var held map[*syslogConn]bool
	for {
		var victim *syslogConn
		vt := 0
		for o := range s.conns {
			if match != nil && !match(o) {
				continue
			}
			t := o.tier(held[o])
			if victim == nil || t < vt || (t == vt && o.last.Load() < victim.last.Load()) {
				victim, vt = o, t
			}
		}
		if victim == nil {
			return nil
		}
		if (vt == 0 || vt == 2) && victim.unread() > 0 {
			// Each candidate moves up at most once: 0 to 1, 2 to 3.
			if vt == 0 {
				victim.received.Store(true)
			} else {
				if held == nil {
					held = map[*syslogConn]bool{}
				}
				held[victim] = true
			}
			continue
		}
		s.removeLocked(victim, closeEvicted)
		return victim
	}
}

// release unregisters sc unless it was evicted already.
func (s *syslogServer) release(sc *syslogConn, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[sc]; ok {
		s.removeLocked(sc, reason)
	}
}

func (s *syslogServer) removeLocked(sc *syslogConn, reason string) {
	delete(s.conns, sc)
	if s.byAddr[sc.addr]--; s.byAddr[sc.addr] <= 0 {
		delete(s.byAddr, sc.addr)
	}
	s.ing.met.syslogOpen.Set(float64(len(s.conns)))
	s.ing.met.syslogClosed.WithLabelValues(reason).Inc()
}

// closeAll closes every connection at shutdown.
func (s *syslogServer) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc := range s.conns {
		sc.c.Close()
	}
}

// readTCP reads frames until the connection ends and returns why it ended.
// Every frame must arrive whole within IdleTimeout of the previous one: a
// deadline per frame, not per read, so trickling bytes buys no time.
func (s *syslogServer) readTCP(sc *syslogConn) string {
	fr := syslog.NewFrameReader(sc, logformat.MaxLineBytes+4096)
	// A frame read: busy again only if more bytes are already buffered.
	settled := func() { sc.busy.Store(fr.Buffered() > 0) }
	for {
		if err := sc.c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout)); err != nil {
			return closePeer
		}
		frame, err := fr.Next()
		var ne net.Error
		switch {
		case err == nil:
			sc.active()
			settled()
			s.handle(frame)
			sc.active() // handle waits while JetStream is slow: not idle
		case errors.Is(err, syslog.ErrFrameTooLong):
			sc.active()
			settled()
			s.msgs <- syslogLine{site: s.cfg.Site, bad: true}
		case errors.Is(err, syslog.ErrFraming):
			s.msgs <- syslogLine{site: s.cfg.Site, bad: true}
			s.ing.log.Warn("syslog tcp framing broken; connection closed", slog.String("transport", "tcp"))
			return closeFraming
		case errors.As(err, &ne) && ne.Timeout():
			if fr.Partial() {
				// The half-sent message is lost: count it as rejected.
				s.msgs <- syslogLine{site: s.cfg.Site, bad: true}
				return closeIncompleteFrame
			}
			return closeIdle
		default:
			if fr.Partial() {
				s.msgs <- syslogLine{site: s.cfg.Site, bad: true} // cut off mid-frame
			}
			return closePeer // closed by the peer, evicted, or at shutdown
		}
	}
}
