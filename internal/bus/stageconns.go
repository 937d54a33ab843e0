package bus

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/secrets"
)

// StageConns holds the connections of a process to the embedded
// nats-server: one per stage, each as its stage's user (StageUser), so
// that only the pseudonymiser's connection may read raw events or touch the
// salt bucket. The data dir's owner connects in process; other commands
// over the loopback listener, with the passwords from the data dir.
type StageConns struct {
	dataDir string
	streams StreamConfig
	name    string
	srv     *Embedded // nil: another process owns the data dir
	url     string    // that process's listener; "" when it has none
	log     *slog.Logger

	mu    sync.Mutex
	conns map[Stage]*nats.Conn
	js    map[Stage]jetstream.JetStream
}

// NewStageConns connects on demand to srv (in process), or when srv is nil
// to the listener url of the process that owns dataDir. name is the
// command, shown in NATS monitoring; streams is what each stage sets up.
func NewStageConns(srv *Embedded, url, dataDir string, streams StreamConfig, name string, log *slog.Logger) *StageConns {
	return &StageConns{dataDir: dataDir, streams: streams, name: name, srv: srv, url: url, log: log,
		conns: map[Stage]*nats.Conn{}, js: map[Stage]jetstream.JetStream{}}
}

// Conn returns stage's connection, connecting and setting up what the stage
// uses on first use.
func (n *StageConns) Conn(stage Stage) (*nats.Conn, jetstream.JetStream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nc, ok := n.conns[stage]; ok {
		return nc, n.js[stage], nil
	}
	user := StageUser(stage)
	password, err := secrets.Read(n.dataDir, PasswordFile(user))
	if err != nil {
		return nil, nil, fmt.Errorf("password of NATS user %s: %w", user, err)
	}
	opts := UserOptions(user, password)
	url := n.url
	if n.srv != nil {
		opts, url = append(opts, n.srv.InProcess()), ""
	} else if url == "" {
		return nil, nil, fmt.Errorf("the vakt that owns data dir %s serves NATS in process only (nats.listen is empty): set nats.listen, or stop it first", n.dataDir)
	}
	cc := ConnConfig{URL: url, Name: fmt.Sprintf("vakt %s (%s)", n.name, user), Options: opts, Stage: stage}
	switch stage {
	case StageAll, StageNone:
		// vakt_ops and vakt_admin without set-up: the owner did it.
	default:
		sc := n.streams
		cc.Ensure = &sc
	}
	nc, js, err := Connect(cc, n.log)
	if err != nil {
		return nil, nil, WithHint(err)
	}
	n.conns[stage], n.js[stage] = nc, js
	return nc, js, nil
}

// Close drains and closes stage's connection.
func (n *StageConns) Close(stage Stage) {
	n.mu.Lock()
	nc := n.conns[stage]
	delete(n.conns, stage)
	delete(n.js, stage)
	n.mu.Unlock()
	if nc != nil {
		nc.Drain()
		nc.Close()
	}
}

// CloseAll closes every connection, letting each deliver what it holds.
func (n *StageConns) CloseAll() {
	n.mu.Lock()
	stages := make([]Stage, 0, len(n.conns))
	for s := range n.conns {
		stages = append(stages, s)
	}
	n.mu.Unlock()
	for _, s := range stages {
		n.Close(s)
	}
}

// EnsurePasswords generates (on first start) and returns the password of each
// user of the embedded server, owner-only in the data dir's credentials.
func EnsurePasswords(dataDir string) (map[string]string, error) {
	pw := map[string]string{}
	for _, u := range Users() {
		v, err := secrets.Ensure(dataDir, PasswordFile(u.Name))
		if err != nil {
			return nil, fmt.Errorf("NATS password of %s: %w", u.Name, err)
		}
		pw[u.Name] = v
	}
	return pw, nil
}
