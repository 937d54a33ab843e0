package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/logformat"
)

// metricValue reads a gauge or counter.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// syslogConns reads the syslog TCP connection metrics.
type syslogConns struct {
	t *testing.T
	m *metrics.Pipeline
}

func (s syslogConns) open() int {
	return int(metricValue(s.t, s.m.ListenerConnections.WithLabelValues(listenerSyslogTCP)))
}
func (s syslogConns) closed(reason string) int {
	return int(metricValue(s.t, s.m.ListenerClosed.WithLabelValues(listenerSyslogTCP, reason)))
}

// startSyslog runs an Ingest with a TCP syslog receiver on a free loopback
// port until the test ends.
func startSyslog(t *testing.T, sc SyslogConfig) (addr string, ing *Ingest, js jetstream.JetStream, m *metrics.Pipeline) {
	t.Helper()
	addr = "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	sc.TCP = addr
	js = startNATS(t, bus.DefaultStreamConfig())
	m = metrics.New()
	var logs logBuf
	ing, err := New(Config{Follow: true, Site: "fallback", FlushInterval: 20 * time.Millisecond, Syslog: sc}, js, logs.logger(), m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	testenv.WaitFor(t, 10*time.Second, "syslog receiver", func() bool { return strings.Contains(logs.String(), "syslog receiver listening") })
	return addr, ing, js, m
}

// TestSyslogIdleFlood floods the receiver with four times its connection
// cap of idle TCP connections, from a bounded loop, while util-linux's
// logger delivers lines: one logger keeps a connection and sends a line
// every 20ms from stdin, others connect once per line. Every line arrives,
// no sender's connection is closed, the flood's connections are evicted or
// closed when idle, and the count of open connections never passes the
// cap.
func TestSyslogIdleFlood(t *testing.T) {
	logger, err := exec.LookPath("logger")
	if err != nil {
		if testenv.CI() {
			t.Fatal("logger (Debian's bsdutils) is required in CI")
		}
		t.Skip("logger not installed")
	}
	const (
		maxConns = 64
		flood    = 4 * maxConns
		oneShot  = 20
		idle     = 3 * time.Second
	)
	addr, ing, js, m := startSyslog(t, SyslogConfig{MaxConnections: maxConns, IdleTimeout: idle})
	conns := syslogConns{t, m}
	_, port, _ := net.SplitHostPort(addr)
	now := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	line := func(path string) string {
		return fmt.Sprintf(`198.51.100.9 - - [%s] "GET %s HTTP/1.1" 200 42 "-" "logger"`, now, path)
	}
	sent := map[string]bool{}

	// The long-lived sender: one connection, a line whenever stdin has one.
	steady := exec.Command(logger, "--tcp", "--rfc5424", "-n", "127.0.0.1", "-P", port, "-t", "steady")
	stdin, err := steady.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var steadyOut strings.Builder
	steady.Stdout, steady.Stderr = &steadyOut, &steadyOut
	if err := steady.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, line("/steady/first"))
	sent["/steady/first"] = true
	testenv.WaitFor(t, 10*time.Second, "steady sender connected", func() bool { return ing.Stats().LinesRead == 1 })

	// The flood, from a bounded loop; the test holds every connection.
	var (
		mu      sync.Mutex
		held    []net.Conn
		peak    int
		flooded = make(chan struct{})
	)
	go func() {
		defer close(flooded)
		for range flood {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("flood dial: %v", err)
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	sample := func() {
		if n := conns.open(); n > peak {
			peak = n
		}
	}

	// The steady sender's pace: a line every 50ms until the one-shot
	// senders are done, well inside the idle timeout on a loaded machine.
	stopSteady, steadyDone := make(chan struct{}), make(chan int)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		n := 0
		for {
			select {
			case <-stopSteady:
				steadyDone <- n
				return
			case <-tick.C:
				fmt.Fprintln(stdin, line(fmt.Sprintf("/steady/%d", n)))
				n++
			}
		}
	}()

	// One-shot senders deliver during the flood and after it, when every
	// slot but the steady sender's holds a flood connection.
	for i := range oneShot {
		if i == oneShot/2 {
			<-flooded
		}
		p := fmt.Sprintf("/oneshot/%d", i)
		if out, err := exec.Command(logger, "--tcp", "--rfc5424", "-n", "127.0.0.1", "-P", port, "-t", "oneshot", line(p)).CombinedOutput(); err != nil {
			t.Fatalf("logger: %v\n%s", err, out)
		}
		sent[p] = true
		sample()
	}
	<-flooded
	close(stopSteady)
	for i := range <-steadyDone {
		sent[fmt.Sprintf("/steady/%d", i)] = true
	}
	recs := collectRaw(t, js, len(sent))
	if len(recs) != len(sent) {
		t.Logf("metrics: open %d evicted %d idle %d peer %d", conns.open(), conns.closed(closeEvicted), conns.closed(closeIdle), conns.closed(closePeer))
	}
	for _, r := range recs {
		if !sent[r.Target] {
			t.Errorf("unexpected record %q", r.Target)
		}
		delete(sent, r.Target)
	}
	for p := range sent {
		t.Errorf("line %s lost", p)
	}
	stdin.Close()
	if err := steady.Wait(); err != nil {
		t.Fatalf("steady logger: %v\n%s", err, steadyOut.String())
	}
	// Nothing sends any more: the flood's survivors are closed when idle.
	start := time.Now()
	testenv.WaitFor(t, 10*time.Second, "every connection closed", func() bool {
		sample()
		return conns.open() == 0 && conns.closed(closeEvicted)+conns.closed(closeIdle)+conns.closed(closePeer) == flood+oneShot+1
	})
	t.Logf("flood of %d idle connections, cap %d: peak %d open, %d evicted, %d closed idle after %v (timeout %v), %d sender connections closed by the senders, %d lines delivered",
		flood, maxConns, peak, conns.closed(closeEvicted), conns.closed(closeIdle), time.Since(start).Round(10*time.Millisecond), idle,
		conns.closed(closePeer), len(recs))
	if peak > maxConns {
		t.Errorf("%d connections open, cap %d", peak, maxConns)
	}
	// Every sender connection ended by its sender (none evicted), and
	// every flood connection was evicted or timed out.
	if p := conns.closed(closePeer); p != oneShot+1 {
		t.Errorf("%d connections closed by their peer, want the %d senders'", p, oneShot+1)
	}
	if n := conns.closed(closeEvicted) + conns.closed(closeIdle); n != flood {
		t.Errorf("%d evicted or idle, want the %d flood connections", n, flood)
	}
	if conns.closed(closeIdle) == 0 {
		t.Error("no connection closed as idle")
	}
	// The flood's side sees its connections closed, not a read timeout.
	for _, c := range held {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var ne net.Error
		if _, err := c.Read(make([]byte, 1)); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("flood connection still open: %v", err)
		}
	}
	if st := ing.Stats(); st.Rejected[event.ReasonBadSyslog] != 0 {
		t.Errorf("rejected %v", st.Rejected)
	}
}

// TestSyslogSlowLoris: a connection that sends half a frame, then a byte
// every 100ms, is cut at the idle timeout (trickling buys no time) and the
// half message counted as rejected; an over-long line is rejected while
// its connection goes on delivering.
func TestSyslogSlowLoris(t *testing.T) {
	const idle = time.Second
	addr, ing, js, m := startSyslog(t, SyslogConfig{IdleTimeout: idle})
	conns := syslogConns{t, m}
	now := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	msg := func(path string) string {
		return fmt.Sprintf(`<134>1 2024-01-01T00:00:00Z web site - - - 203.0.113.5 - - [%s] "GET %s HTTP/1.1" 200 1 "-" "ua"`, now, path)
	}

	// Over-long, then a good line, on one connection.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	long := msg("/" + strings.Repeat("a", logformat.MaxLineBytes+8192))
	if _, err := fmt.Fprintf(c, "%s\n%s\n", long, msg("/after-long")); err != nil {
		t.Fatal(err)
	}
	if recs := readRaw(t, js, 1); recs[0].Target != "/after-long" {
		t.Fatalf("got %q", recs[0].Target)
	}
	testenv.WaitFor(t, 10*time.Second, "over-long line rejected", func() bool { return ing.Stats().Rejected[event.ReasonBadSyslog] == 1 })

	// The slow loris. Timed from before the dial: the receiver's timeout
	// runs from its accept, which follows it (a start taken after the dial
	// came up to 2 ms late on a loaded machine).
	start := time.Now()
	sl, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	half := msg("/never")
	if _, err := io.WriteString(sl, half[:len(half)/2]); err != nil {
		t.Fatal(err)
	}
	cut := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, sl) // ends when the receiver closes it
		cut <- time.Since(start)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var took time.Duration
	for i := len(half) / 2; took == 0; i++ {
		select {
		case took = <-cut:
		case <-tick.C:
			if i < len(half) {
				_, _ = sl.Write([]byte{half[i]})
			}
			if time.Since(start) > 10*idle {
				t.Fatalf("slow loris still connected after %v (idle timeout %v)", time.Since(start), idle)
			}
		}
	}
	t.Logf("slow loris cut after %v (idle timeout %v)", took.Round(10*time.Millisecond), idle)
	if took < idle {
		t.Errorf("cut after %v, before the idle timeout %v", took, idle)
	}
	testenv.WaitFor(t, 10*time.Second, "incomplete frame counted", func() bool {
		return conns.closed(closeIncompleteFrame) == 1 && ing.Stats().Rejected[event.ReasonBadSyslog] == 2
	})
	// The first connection delivered nothing since: closed as idle.
	testenv.WaitFor(t, 10*time.Second, "idle connection closed", func() bool { return conns.closed(closeIdle) == 1 && conns.open() == 0 })
}

// TestSyslogPerAddressCap: with max_connections_per_address, one address's
// connections evict each other and leave room for other addresses.
func TestSyslogPerAddressCap(t *testing.T) {
	t.Parallel()
	addr, _, _, m := startSyslog(t, SyslogConfig{MaxConnectionsPerAddress: 4, MaxConnections: 100})
	conns := syslogConns{t, m}
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for range 10 {
		dial("127.0.0.2")
	}
	testenv.WaitFor(t, 10*time.Second, "one address capped", func() bool { return conns.closed(closeEvicted) == 6 && conns.open() == 4 })
	dial("127.0.0.3")
	testenv.WaitFor(t, 10*time.Second, "another address admitted", func() bool { return conns.open() == 5 })
	if n := conns.closed(closeEvicted); n != 6 {
		t.Errorf("%d evicted", n)
	}
}

// collectRaw reads records from the RAW stream until want have arrived or
// 15s have passed.
func collectRaw(t *testing.T, js jetstream.JetStream, want int) []event.Raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	var recs []event.Raw
	ids := map[string]bool{}
	for len(recs) < want && ctx.Err() == nil {
		recs = fetch(t, cons, recs, ids, 500*time.Millisecond)
	}
	return recs
}

// TestSyslogEvictionSparesUnread drives the eviction choice directly, with
// no readers running so that sent bytes stay in the kernel: a connection
// whose line waits unread is kept while one that received nothing exists,
// a slow loris goes before a sender, and among senders the one with a line
// waiting goes last.
func TestSyslogEvictionSparesUnread(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	m := metrics.New()
	ing, err := New(Config{Follow: true, Site: "s", Syslog: SyslogConfig{TCP: "127.0.0.1:0", MaxConnections: 3}}, js, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ing.listenSyslog()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.tcp.Close()
		for sc := range s.conns {
			sc.c.Close()
		}
	})
	conns := syslogConns{t, m}
	// open dials, sends data (if any), accepts and admits; it returns the
	// client side and the server's record.
	open := func(data string) (net.Conn, *syslogConn) {
		t.Helper()
		c, err := net.Dial("tcp", s.tcp.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, data); err != nil {
			t.Fatal(err)
		}
		sc, err := s.tcp.Accept()
		if err != nil {
			t.Fatal(err)
		}
		r := &syslogConn{c: sc, addr: "127.0.0.1"}
		r.last.Store(time.Now().UnixNano())
		if data != "" {
			testenv.WaitFor(t, 10*time.Second, "bytes in the kernel", func() bool { return r.unread() == len(data) })
		}
		if !s.admit(context.Background(), r) {
			t.Fatal("not admitted")
		}
		return c, r
	}
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	}
	gone := func(sc *syslogConn) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.conns[sc]
		return !ok
	}

	line := "<13>1 - h t - - - line\n"
	_, waiting := open(line) // the oldest, its line unread
	emptyC, empty := open("")
	senderC, sender := open("")
	_, _ = open("") // at the cap: one must go
	if gone(waiting) || !gone(empty) || gone(sender) || !closed(emptyC) {
		t.Fatalf("evicted: waiting %v, empty %v, third %v; want only the empty one", gone(waiting), gone(empty), gone(sender))
	}
	if !waiting.received.Load() {
		t.Error("bytes in the kernel not recorded as received")
	}

	// Every other one a sender between frames, sender idle the longest
	// but with a line waiting: the slow loris goes first, then the other
	// senders, and sender last.
	senders := func() {
		for sc := range s.conns {
			if sc != waiting {
				sc.received.Store(true)
				sc.delivered.Store(true)
			}
		}
	}
	senders()
	sender.last.Store(0)
	if _, err := io.WriteString(senderC, line); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "bytes in the kernel", func() bool { return sender.unread() == len(line) })
	_, _ = open("")
	if !gone(waiting) || gone(sender) {
		t.Fatalf("evicted: slow loris %v, sender %v; want the slow loris", gone(waiting), gone(sender))
	}
	for range 2 {
		senders()
		_, _ = open("")
		if gone(sender) {
			t.Fatal("the sender with a line waiting was evicted before idle ones")
		}
	}
	if n := conns.closed(closeEvicted); n != 4 {
		t.Errorf("%d evicted, want 4", n)
	}
	// Only senders with lines waiting: the longest idle goes.
	senders()
	for sc := range s.conns {
		sc.busy.Store(true)
	}
	_, _ = open("")
	if !gone(sender) {
		t.Error("the longest idle sender kept")
	}
}
