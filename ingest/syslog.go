package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/vakt-dev/vakt/ingest/syslog"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/logformat"
)

// Where a syslog source takes the site of a message from.
const (
	SiteFromTag      = "tag"      // syslog APP-NAME / TAG: nginx's syslog:...,tag=mysite
	SiteFromHostname = "hostname" // the syslog HOSTNAME of the sender
	SiteFromHost     = "host"     // the request's host from the log line ($host, %v, JSON host)
	SiteFromConfig   = "config"   // always the configured site
)

// sourceSyslog is the "source" label of syslog lines.
const sourceSyslog = "syslog"

const (
	// maxSyslogSites bounds the sites one receiver keeps a batch for; a
	// sender inventing tags cannot make memory grow. Further sites are
	// published under the configured site.
	maxSyslogSites = 1000
	// syslogQueue is the number of messages between the receivers and the
	// batching goroutine. When it is full, TCP senders wait and UDP
	// datagrams wait in (and then overflow) the kernel's buffer.
	syslogQueue = 4096
)

// SyslogConfig configures the syslog receiver, through which nginx and
// other servers send access-log lines with no agent:
//
//	access_log syslog:server=127.0.0.1:5514,tag=mysite combined;
//
// UDP is at most once by nature: a datagram lost on the way, or dropped by
// the kernel while ingest waits for JetStream, is gone without trace. TCP
// (RFC 6587, octet-counted or newline-framed) pushes back instead: when
// JetStream is slow the senders wait. Either way a line is deduplicated
// only against retries of vakt's own publishes (message ids are the
// receiver's run and a sequence number), not against a sender repeating
// it.
type SyslogConfig struct {
	// UDP and TCP are listen addresses such as 127.0.0.1:5514; empty
	// disables that transport.
	UDP string `yaml:"udp"`
	TCP string `yaml:"tcp"`
	// Format is the log format of the message bodies (see
	// logformat.New); empty detects it per site.
	Format string `yaml:"format"`
	// SiteFrom is where a message's site comes from: tag (default),
	// hostname, host or config. When that is empty, Site is used.
	SiteFrom string `yaml:"site_from"`
	// Site is the fallback site (default: the ingest site).
	Site string `yaml:"site"`

	// IdleTimeout closes a TCP connection that delivers no whole frame
	// for this long (default 2m); senders such as rsyslog reconnect. It
	// also bounds how long one frame may take to arrive, so a half-sent
	// frame cannot hold a connection forever.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections caps open TCP connections (default 512). At the cap
	// one is closed to admit a new one: the oldest that never delivered a
	// message, else the one idle the longest, so idle connections cannot
	// lock senders out.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress caps one remote address's connections
	// (0: no cap); at it, that address's longest-idle one is closed.
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// AllowRemote lets UDP or TCP be a non-loopback address: syslog has
	// no authentication, so anyone who reaches the port can inject lines.
	AllowRemote bool `yaml:"allow_remote"`
}

// Defaults of SyslogConfig.
const (
	DefaultSyslogIdleTimeout    = 2 * time.Minute
	DefaultSyslogMaxConnections = 512
)

// Enabled reports whether a transport is configured.
func (c SyslogConfig) Enabled() bool { return c.UDP != "" || c.TCP != "" }

// checkFormat reports whether logformat.New accepts format.
func checkFormat(format string) error {
	_, err := logformat.New(format)
	return err
}

// parserFor returns a new parse function for a source's format (formats
// are validated beforehand). An auto-detecting parser logs, once, the
// format it detected for the source.
func (i *Ingest) parserFor(format, source string) func(line []byte, r *event.Raw) error {
	p, err := logformat.New(format)
	if err != nil {
		p, _ = logformat.New(logformat.FormatAuto)
	}
	if a, ok := p.(*logformat.Auto); ok {
		a.OnDetect(func(f string) {
			i.log.Info("log format detected", slog.String("source", source), slog.String("format", f))
		})
	}
	return p.Parse
}

// syslogServer is a bound syslog receiver.
type syslogServer struct {
	ing  *Ingest
	cfg  SyslogConfig
	udp  net.PacketConn
	tcp  net.Listener
	run  string // random id of this run: message ids never collide with an earlier run's
	msgs chan syslogLine

	mu     sync.Mutex
	conns  map[*syslogConn]struct{}
	byAddr map[string]int // open connections per remote address (not logged)
	warned time.Time      // last eviction warning: one a minute in a flood
	evicts int            // evictions since that warning
}

// syslogLine is one received message for the batching goroutine.
type syslogLine struct {
	site string
	line []byte // owned
	bad  bool   // header or framing rejected: counted, not parsed
}

// listenSyslog binds the configured transports, so that a busy port fails
// Run at once.
func (i *Ingest) listenSyslog() (*syslogServer, error) {
	cfg := i.cfg.Syslog
	if cfg.Site == "" {
		cfg.Site = i.cfg.Site
	}
	if cfg.SiteFrom == "" {
		cfg.SiteFrom = SiteFromTag
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	s := &syslogServer{ing: i, cfg: cfg, run: hex.EncodeToString(id[:]), msgs: make(chan syslogLine, syslogQueue),
		conns: map[*syslogConn]struct{}{}, byAddr: map[string]int{}}
	var err error
	if cfg.UDP != "" {
		if s.udp, err = net.ListenPacket("udp", cfg.UDP); err != nil {
			return nil, fmt.Errorf("ingest: syslog udp: %w", err)
		}
		// A larger receive buffer absorbs bursts while JetStream is slow.
		if uc, ok := s.udp.(*net.UDPConn); ok {
			_ = uc.SetReadBuffer(8 << 20)
		}
	}
	if cfg.TCP != "" {
		if s.tcp, err = net.Listen("tcp", cfg.TCP); err != nil {
			if s.udp != nil {
				s.udp.Close()
			}
			return nil, fmt.Errorf("ingest: syslog tcp: %w", err)
		}
	}
	return s, nil
}

// addrs returns the bound addresses (for tests and the start-up log).
func (s *syslogServer) addrs() (udp, tcp string) {
	if s.udp != nil {
		udp = s.udp.LocalAddr().String()
	}
	if s.tcp != nil {
		tcp = s.tcp.Addr().String()
	}
	return udp, tcp
}

// serve receives until ctx ends, then publishes what it holds with
// pubCtx.
func (s *syslogServer) serve(ctx, pubCtx context.Context) {
	udp, tcp := s.addrs()
	s.ing.log.Info("syslog receiver listening", slog.String("udp", udp), slog.String("tcp", tcp),
		slog.String("site_from", s.cfg.SiteFrom), slog.String("format", s.cfg.Format))
	var receivers sync.WaitGroup
	if s.udp != nil {
		receivers.Go(func() { s.readUDP(ctx) })
	}
	if s.tcp != nil {
		receivers.Go(func() { s.acceptTCP(ctx, &receivers) })
	}
	stop := context.AfterFunc(ctx, func() {
		if s.udp != nil {
			s.udp.Close()
		}
		if s.tcp != nil {
			s.tcp.Close()
		}
		s.closeAll()
	})
	defer stop()
	batched := make(chan struct{})
	go func() {
		defer close(batched)
		s.batch(pubCtx)
		for range s.msgs {
			// Publishing gave up at shutdown: let the receivers finish.
		}
	}()
	receivers.Wait()
	close(s.msgs)
	<-batched
}

func (s *syslogServer) readUDP(ctx context.Context) {
	buf := make([]byte, 64<<10)
	for {
		n, _, err := s.udp.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil {
				s.ing.log.Error("syslog udp receiver stopped", slog.Any("err", err))
			}
			return
		}
		s.handle(buf[:n])
	}
}

// handle parses one message's header and queues its body.
func (s *syslogServer) handle(b []byte) {
	m, err := syslog.Parse(b)
	if err != nil {
		s.msgs <- syslogLine{site: s.cfg.Site, bad: true}
		return
	}
	site := s.cfg.Site
	switch s.cfg.SiteFrom {
	case SiteFromTag:
		if len(m.AppName) > 0 {
			site = string(m.AppName)
		}
	case SiteFromHostname:
		if len(m.Hostname) > 0 {
			site = string(m.Hostname)
		}
	}
	if bus.AddressLike(site) {
		site = s.cfg.Site
	}
	s.msgs <- syslogLine{site: site, line: append([]byte(nil), m.Msg...)}
}

// batch owns the sinks: one per site, each with its own parser (a
// detecting parser settles per site), sequence numbers as offsets.
func (s *syslogServer) batch(ctx context.Context) {
	type siteSink struct {
		*sink
		seq int64
	}
	sinks := map[string]*siteSink{}
	get := func(site string) *siteSink {
		if ss, ok := sinks[site]; ok {
			return ss
		}
		if len(sinks) >= maxSyslogSites {
			site = s.cfg.Site
			if ss, ok := sinks[site]; ok {
				return ss
			}
		}
		name := "syslog:" + site
		sk := s.ing.newSink(sourceSyslog, name, site, "syslog-"+s.run+"-"+bus.SubjectToken(site), true)
		sk.parse = s.ing.parserFor(s.cfg.Format, name)
		sk.siteFromHost = s.cfg.SiteFrom == SiteFromHost
		ss := &siteSink{sink: sk}
		sinks[site] = ss
		return ss
	}
	tick := time.NewTicker(s.ing.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				for _, ss := range sinks {
					_ = ss.flush(ctx)
				}
				return
			}
			ss := get(m.site)
			off := ss.seq
			ss.seq++
			if m.bad {
				ss.ing.linesRead.Add(1)
				ss.lines.Inc()
				ss.begin(off)
				ss.rejectAt(event.ReasonBadSyslog, off, nil)
				if ss.taken(ctx, ss.seq) != nil {
					return
				}
				continue
			}
			if ss.line(ctx, m.line, off, ss.seq) != nil {
				return // publishing gave up: shutdown
			}
		case <-tick.C:
			for _, ss := range sinks {
				if ss.flush(ctx) != nil {
					return
				}
			}
		}
	}
}
