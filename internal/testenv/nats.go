package testenv

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSOption changes the options RunNATS starts a server with.
type NATSOption func(*server.Options)

// NATSStoreDir stores JetStream under dir (by default a fresh temp dir),
// for a test that restarts a server on the same store.
func NATSStoreDir(dir string) NATSOption { return func(o *server.Options) { o.StoreDir = dir } }

// NATSPort listens on port (by default a free one), for a test that
// restarts a server where its clients reconnect.
func NATSPort(port int) NATSOption { return func(o *server.Options) { o.Port = port } }

// NATSOptions returns the options RunNATS starts a server with: JetStream
// on file storage in a fresh temp dir, loopback on a free port, and the
// limits vakt's embedded server has (internal/bus.StartEmbedded).
func NATSOptions(tb testing.TB, opts ...NATSOption) *server.Options {
	tb.Helper()
	o := &server.Options{
		ServerName:         "vakt-test",
		Host:               "127.0.0.1",
		Port:               server.RANDOM_PORT,
		JetStream:          true,
		StoreDir:           tb.TempDir(),
		NoSigs:             true,
		NoLog:              true,
		JetStreamMaxMemory: 1 << 30,
		MaxPayload:         8 << 20,
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// RunNATS starts a nats-server with NATSOptions, waits until it accepts
// connections and shuts it down when the test ends. Its URL is
// ClientURL(). (internal/bus's own tests start bus.StartEmbedded instead:
// this package cannot import bus, whose tests import it.)
func RunNATS(tb testing.TB, opts ...NATSOption) *server.Server {
	tb.Helper()
	return RunNATSWith(tb, NATSOptions(tb, opts...))
}

// RunNATSWith starts a nats-server with exactly o (a copy of it), like
// nats-server's own test.RunServer, and shuts it down when the test ends.
// Shutting it down earlier, to restart it, is fine.
func RunNATSWith(tb testing.TB, o *server.Options) *server.Server {
	tb.Helper()
	c := *o
	srv, err := server.NewServer(&c)
	if err != nil {
		tb.Fatalf("nats-server: %v", err)
	}
	go srv.Start()
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(30 * time.Second) {
		tb.Fatalf("nats-server not ready after 30s (store %s)", c.StoreDir)
	}
	return srv
}
