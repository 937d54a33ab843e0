package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vakt-dev/vakt/ingest/logformat"
)

// The syslog receiver's TCP connections are bounded so that no sender, and
// no flood of connections, can lock the others out: each connection must
// deliver a whole frame every IdleTimeout, and at MaxConnections one
// connection makes room for a new one: the oldest of those that never
// delivered a frame, else the one idle the longest. A flood of connections
// that send nothing therefore only evicts itself, and a sender that
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
	// delivered is set by the first frame.
	delivered atomic.Bool
}

// evictBefore reports whether sc goes before o when one must be closed.
func (sc *syslogConn) evictBefore(o *syslogConn) bool {
	if d, od := sc.delivered.Load(), o.delivered.Load(); d != od {
		return !d
	}
	return sc.last.Load() < o.last.Load()
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

// evictLocked removes and returns the first connection to go (see
// evictBefore) that match accepts (nil: any), counted as evicted; the
// caller closes it.
func (s *syslogServer) evictLocked(match func(*syslogConn) bool) *syslogConn {
	var victim *syslogConn
	for o := range s.conns {
		if (match == nil || match(o)) && (victim == nil || o.evictBefore(victim)) {
			victim = o
		}
	}
	if victim != nil {
		s.removeLocked(victim, closeEvicted)
	}
	return victim
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
	fr := newFrameReader(sc.c, logformat.MaxLineBytes+4096)
	for {
		if err := sc.c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout)); err != nil {
			return closePeer
		}
		frame, err := fr.next()
		var ne net.Error
		switch {
		case err == nil:
			sc.active()
			s.handle(frame)
			sc.active() // handle waits while JetStream is slow: not idle
		case errors.Is(err, errFrameTooLong):
			sc.active()
			s.msgs <- syslogLine{site: s.cfg.Site, bad: true}
		case errors.Is(err, errFraming):
			s.msgs <- syslogLine{site: s.cfg.Site, bad: true}
			s.ing.log.Warn("syslog tcp framing broken; connection closed", slog.String("transport", "tcp"))
			return closeFraming
		case errors.As(err, &ne) && ne.Timeout():
			if fr.partial {
				// The half-sent message is lost: count it as rejected.
				s.msgs <- syslogLine{site: s.cfg.Site, bad: true}
				return closeIncompleteFrame
			}
			return closeIdle
		default:
			if fr.partial {
				s.msgs <- syslogLine{site: s.cfg.Site, bad: true} // cut off mid-frame
			}
			return closePeer // closed by the peer, evicted, or at shutdown
		}
	}
}
