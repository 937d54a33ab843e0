package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EmbeddedConfig configures the in-process nats-server used when no NATS URL
// is configured.
type EmbeddedConfig struct {
	StoreDir string // JetStream store directory (under the data dir)
	Host     string // listen address; loopback by default
	// Port to listen on; 0 picks a free port. Other vakt commands find it
	// through the data dir's runtime file.
	Port int
	// NoListen serves in-process connections only (Embedded.Connect).
	NoListen bool
	// Passwords, user name → password, for every user of Users: the
	// server then admits only those users, with their permissions. Empty
	// admits anyone with every permission (other packages' tests only).
	Passwords map[string]string
	// StoreKey encrypts the JetStream store at rest (StoreCipher); empty
	// stores in the clear. A store written in the clear is encrypted at
	// the first start with a key.
	StoreKey string
	// Sync is how the file store reaches the disk (ParseSync); the zero
	// value is nats-server's own default, an fsync every two minutes.
	Sync SyncPolicy
	// Log receives what the server's storage watch sees (a full disk).
	Log *slog.Logger
}

// SyncPolicy is when JetStream's file store calls fsync: after every
// write (Always), or in the background every Interval. What was written
// since the last fsync is in the OS's page cache only: a power loss or an
// OS crash loses it, although JetStream acknowledged it.
type SyncPolicy struct {
	Always   bool
	Interval time.Duration
}

// ParseSync reads a sync_interval setting: "always" or a duration.
func ParseSync(s string) (SyncPolicy, error) {
	if strings.EqualFold(strings.TrimSpace(s), "always") {
		return SyncPolicy{Always: true}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return SyncPolicy{}, fmt.Errorf("%q is neither \"always\" nor a positive duration", s)
	}
	return SyncPolicy{Interval: d}, nil
}

// String is the setting as written in a config file.
func (p SyncPolicy) String() string {
	if p.Always {
		return "always"
	}
	return p.Interval.String()
}

// StoreCipher is the cipher of an encrypted store: AES-GCM, which the
// CPU's AES instructions make cheaper than ChaCha20-Poly1305 here
// (BENCHMARKS.md).
const StoreCipher = server.AES

// Embedded is a running in-process nats-server.
type Embedded struct {
	srv       *server.Server
	storeDir  string
	maxMemory int64
	log       *slog.Logger
	stop      chan struct{}
	watching  sync.WaitGroup
	restored  atomic.Pointer[func()]
	watch     *storageWatch
	stopOnce  sync.Once
}

// StartEmbedded starts nats-server with JetStream on, storing under
// c.StoreDir, and waits until it accepts connections.
func StartEmbedded(c EmbeddedConfig) (*Embedded, error) {
	host := c.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := c.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "vakt-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   c.StoreDir,
		NoSigs:     true, // vakt owns signal handling
		// Bounded memory for the RAW stream (memory storage).
		JetStreamMaxMemory: 1 << 30,
		MaxPayload:         8 << 20,
		DontListen:         c.NoListen,
	}
	if len(c.Passwords) > 0 {
		users, err := serverUsers(c.Passwords)
		if err != nil {
			return nil, err
		}
		opts.Users = users
	}
	if c.StoreKey != "" {
		opts.JetStreamKey, opts.JetStreamCipher = c.StoreKey, StoreCipher
	}
	opts.SyncAlways, opts.SyncInterval = c.Sync.Always, c.Sync.Interval
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	watch := &storageWatch{}
	srv.SetLogger(watch, false, false)
	go srv.Start()
	// A large encrypted store (an import of 400,000 events, after a crash)
	// takes a while to recover on a busy machine: 30 s was seen to be short.
	if !srv.ReadyForConnections(2 * time.Minute) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 2m (store %s)", c.StoreDir)
	}
	e := &Embedded{srv: srv, storeDir: c.StoreDir, maxMemory: opts.JetStreamMaxMemory, log: c.Log, stop: make(chan struct{}), watch: watch}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.watching.Go(func() { e.watchStorage(time.Second) })
	return e, nil
}

// Sync is the sync policy the running server applies.
func (e *Embedded) Sync() SyncPolicy {
	jc := e.srv.JetStreamConfig()
	switch {
	case jc == nil:
		return SyncPolicy{}
	case jc.SyncAlways:
		return SyncPolicy{Always: true}
	}
	return SyncPolicy{Interval: jc.SyncInterval}
}

// ClientURL is the URL clients connect to, "" with NoListen.
func (e *Embedded) ClientURL() string {
	addr, ok := e.srv.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	return "nats://" + net.JoinHostPort(addr.IP.String(), strconv.Itoa(addr.Port))
}

// Server returns the underlying server, for in-process connections.
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server and waits for it to finish; it may be called
// more than once.
func (e *Embedded) Shutdown() {
	e.stopOnce.Do(func() { close(e.stop) })
	e.watching.Wait()
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// ConnConfig says how a stage connects to NATS.
type ConnConfig struct {
	URL  string
	Name string // client name shown in NATS monitoring
	// Options are extra options such as credentials and TLS.
	Options []nats.Option
	// Ensure, when set, is applied with Ensure after connecting and again
	// after every reconnect: a restarted single nats-server comes back
	// without the memory-only RAW stream and its consumer, and ingest and
	// the pseudonymisers would otherwise retry forever.
	Ensure *StreamConfig
	// Stage says what Ensure sets up: with a NATS user per stage, only
	// what the stage uses (EnsureFor).
	Stage Stage
}

// staleCheckInterval is how often a connection to an external NATS pings
// its server to find it unresponsive.
const staleCheckInterval = 5 * time.Second

// Connect connects to NATS with reconnects that never give up, so a NATS
// restart pauses the pipeline instead of ending it.
func Connect(c ConnConfig, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(c.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
		// A cluster node that stops answering (partitioned, frozen) keeps
		// its TCP connections open: with nats.go's default (a ping every
		// 2 min) a stage stalls that long before it fails over to another
		// node. Stale after 2 unanswered pings: 10-15 s.
		nats.PingInterval(staleCheckInterval),
		nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			if c.Ensure != nil {
				go reensure(nc, *c.Ensure, c.Stage, log)
			}
		}),
		// Instead of nats.go's default, which prints to stderr. A refused
		// request otherwise shows only as its timeout.
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			args := []any{"err", err}
			if sub != nil {
				args = append(args, "subject", sub.Subject)
			}
			if errors.Is(err, nats.ErrPermissionViolation) {
				log.Error("NATS refused an operation: the user lacks the permission", append(args, "user", nc.Opts.User)...)
				return
			}
			log.Warn("nats", args...)
		}),
	}
	opts = append(opts, c.Options...)
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", c.URL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	if c.Ensure != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := EnsureFor(ctx, js, *c.Ensure, c.Stage, log); err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("set up JetStream: %w", err)
		}
	}
	return nc, js, nil
}

// reensure sets the streams up again after a reconnect, retrying while the
// server is still starting.
func reensure(nc *nats.Conn, sc StreamConfig, stage Stage, log *slog.Logger) {
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	for attempt := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := EnsureFor(ctx, js, sc, stage, log)
		cancel()
		if err == nil || nc.IsClosed() {
			return
		}
		log.Warn("set up JetStream after reconnect", "attempt", attempt+1, "err", err)
		time.Sleep(time.Second)
	}
}

// WaitDrained polls Drained until it is true or ctx ends.
func WaitDrained(ctx context.Context, js jetstream.JetStream, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, err := Drained(ctx, js)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("waiting for the pipeline to drain: %w", err)
			}
			return fmt.Errorf("waiting for the pipeline to drain: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// InProcess is the connect option of a connection inside this process: no
// TCP, no listener needed.
func (e *Embedded) InProcess() nats.Option { return nats.InProcessServer(e.srv) }

// UserOptions are the connect options of user on the embedded server: its
// password and its own inbox prefix.
func UserOptions(user, password string) []nats.Option {
	opts := []nats.Option{nats.UserInfo(user, password)}
	if u, ok := LookupUser(user); ok && u.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(u.InboxPrefix))
	}
	return opts
}

// WithHint adds the fix for the usual connection failures.
func WithHint(err error) error {
	switch {
	case errors.Is(err, nats.ErrAuthorization), strings.Contains(err.Error(), "Authorization Violation"):
		return fmt.Errorf("%w (check nats.user and nats.password(_file), nats.token(_file), nats.credentials_file or nats.nkey_seed_file)", err)
	case strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "certificate"):
		return fmt.Errorf("%w (set nats.ca_file to the CA that signed the server's certificate)", err)
	case errors.Is(err, nats.ErrNoServers):
		return fmt.Errorf("%w (is nats-server running at nats.url? leave nats.url empty for the embedded server)", err)
	}
	return err
}
