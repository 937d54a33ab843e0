package app

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/secrets"
)

// embeddedNATS holds the connections of a process to the embedded
// nats-server: one per stage, each as its stage's user (bus.StageUser), so
// that only the pseudonymiser's connection may read raw events or touch the
// salt bucket. The data dir's owner connects in process; other commands
// over the loopback listener, with the passwords from the data dir.
type embeddedNATS struct {
	cfg  config.Config
	name string
	srv  *bus.Embedded // nil: another process owns the data dir
	url  string        // that process's listener; "" when it has none
	log  *slog.Logger

	mu    sync.Mutex
	conns map[bus.Stage]*nats.Conn
	js    map[bus.Stage]jetstream.JetStream
}

// connectNATS makes the command's NATS connection (Engines.NC and JS). On
// an external server it is the one configured user's, set up for
// need.Stage as before. On the embedded one it is need.Stage's user
// (vakt_ops for the all-in-one commands); the owner first sets the streams
// up as vakt_admin.
func (e *Engines) connectNATS(cfg config.Config, need Need, name string) error {
	if !cfg.EmbeddedNATS() {
		opts, err := natsOptions(cfg.NATS)
		if err != nil {
			return err
		}
		sc := cfg.Streams
		nc, js, err := bus.Connect(bus.ConnConfig{URL: cfg.NATS.URL, Name: "vakt " + name, Options: opts, Ensure: &sc, Stage: need.Stage}, e.log)
		if err != nil {
			return withNATSHint(err)
		}
		e.NC, e.JS = nc, js
		return nil
	}
	e.nats = &embeddedNATS{cfg: cfg, name: name, srv: e.natsSrv, url: e.natsURL, log: e.log,
		conns: map[bus.Stage]*nats.Conn{}, js: map[bus.Stage]jetstream.JetStream{}}
	if need.Stage != bus.StageNone && (e.Owner || need.Stage == bus.StageAll) {
		if _, _, err := e.nats.conn(bus.StageSetup); err != nil {
			return err
		}
		e.nats.close(bus.StageSetup) // vakt_admin is needed no longer
	}
	nc, js, err := e.nats.conn(need.Stage)
	if err != nil {
		return err
	}
	e.NC, e.JS = nc, js
	return nil
}

// StageJS is the JetStream connection of stage: on the embedded server a
// connection of its own as the stage's NATS user (bus.StageUser), on an
// external server the one configured connection.
func (e *Engines) StageJS(stage bus.Stage) (jetstream.JetStream, error) {
	if e.nats == nil {
		return e.JS, nil
	}
	_, js, err := e.nats.conn(stage)
	return js, err
}

// conn returns stage's connection, connecting and setting up what the stage
// uses on first use.
func (n *embeddedNATS) conn(stage bus.Stage) (*nats.Conn, jetstream.JetStream, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nc, ok := n.conns[stage]; ok {
		return nc, n.js[stage], nil
	}
	user := bus.StageUser(stage)
	password, err := secrets.Read(n.cfg.DataDir, bus.PasswordFile(user))
	if err != nil {
		return nil, nil, fmt.Errorf("password of NATS user %s: %w", user, err)
	}
	opts := bus.UserOptions(user, password)
	url := n.url
	if n.srv != nil {
		opts, url = append(opts, n.srv.InProcess()), ""
	} else if url == "" {
		return nil, nil, fmt.Errorf("the vakt that owns data dir %s serves NATS in process only (nats.listen is empty): set nats.listen, or stop it first", n.cfg.DataDir)
	}
	cc := bus.ConnConfig{URL: url, Name: fmt.Sprintf("vakt %s (%s)", n.name, user), Options: opts, Stage: stage}
	switch stage {
	case bus.StageAll, bus.StageNone:
		// vakt_ops and vakt_admin without set-up: the owner did it.
	default:
		sc := n.cfg.Streams
		cc.Ensure = &sc
	}
	nc, js, err := bus.Connect(cc, n.log)
	if err != nil {
		return nil, nil, withNATSHint(err)
	}
	n.conns[stage], n.js[stage] = nc, js
	return nc, js, nil
}

func (n *embeddedNATS) close(stage bus.Stage) {
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

// closeAll closes every connection, letting each deliver what it holds.
func (n *embeddedNATS) closeAll() {
	n.mu.Lock()
	stages := make([]bus.Stage, 0, len(n.conns))
	for s := range n.conns {
		stages = append(stages, s)
	}
	n.mu.Unlock()
	for _, s := range stages {
		n.close(s)
	}
}

// natsPasswords generates (on first start) and returns the password of each
// user of the embedded server, owner-only in the data dir's credentials.
func natsPasswords(dataDir string) (map[string]string, error) {
	pw := map[string]string{}
	for _, u := range bus.Users() {
		v, err := secrets.Ensure(dataDir, bus.PasswordFile(u.Name))
		if err != nil {
			return nil, fmt.Errorf("NATS password of %s: %w", u.Name, err)
		}
		pw[u.Name] = v
	}
	return pw, nil
}

// NATSPassword returns the password of user on the embedded server of
// dataDir, as vakt's own commands read it.
func NATSPassword(dataDir, user string) (string, error) {
	return secrets.Read(dataDir, bus.PasswordFile(user))
}

// natsStoreKey returns the key that encrypts the embedded store, or "" with
// nats.store_encryption off.
func natsStoreKey(cfg config.Config, log *slog.Logger) (string, error) {
	if !cfg.NATS.StoreEncryption {
		if bus.StoreEncrypted(cfg.NATSDir()) {
			return "", fmt.Errorf("nats.store_encryption is off, but the NATS store %s is encrypted: turn it on again with its key", cfg.NATSDir())
		}
		log.Warn("the NATS store keeps the salts in the clear (nats.store_encryption: false)")
		return "", nil
	}
	keyFile, err := NATSStoreKeyFile(cfg)
	if err != nil {
		return "", err
	}
	key, state, err := bus.StoreKey(cfg.NATSDir(), keyFile, cfg.NATS.StoreKey)
	if err != nil {
		return "", err
	}
	switch state {
	case bus.KeyGenerated:
		if cfg.NATS.StoreKey == "" {
			log.Info("generated the key that encrypts the NATS store; keep it (and back it up) apart from the data dir", "key_file", keyFile)
		}
	case bus.KeyEncrypts:
		log.Warn("encrypting the NATS store written in the clear by an older vakt; the salts it held in the clear may remain in the disk's free blocks", "store", cfg.NATSDir())
	}
	return key, nil
}

// NATSStoreKeyFile is the file of the key that encrypts the embedded
// store: nats.store_key_file, or vakt/nats-store.key in the user's
// configuration directory.
func NATSStoreKeyFile(cfg config.Config) (string, error) {
	if cfg.NATS.StoreKeyFile != "" {
		return cfg.NATS.StoreKeyFile, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("nats.store_key_file: no default (%w): set it to a file outside the data dir, or set nats.store_encryption: false", err)
	}
	return filepath.Join(dir, "vakt", "nats-store.key"), nil
}

// natsListenerHint tells how to reach the embedded server: the listener and
// the user a shipper connects as, with where its password is.
func natsListenerHint(cfg config.Config, url string) string {
	if url == "" {
		return "in process only (nats.listen is empty)"
	}
	return fmt.Sprintf("%s  (shippers: user %s, password in %s)", url, bus.UserShipper, secrets.Path(cfg.DataDir, bus.PasswordFile(bus.UserShipper)))
}
