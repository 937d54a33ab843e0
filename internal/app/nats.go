package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/secrets"
)

// startNATS starts the embedded nats-server on the configured address, or on
// a free port when that one is taken (commands find it via the runtime
// file), or with no listener when nats.listen is empty. Only the pipeline's
// users (bus.Users) may connect, with the passwords generated in the data
// dir, and the store is encrypted at rest (nats.store_encryption).
func startNATS(cfg config.Config, log *slog.Logger) (*bus.Embedded, error) {
	ec := bus.EmbeddedConfig{StoreDir: cfg.NATSDir(), NoListen: cfg.NATS.Listen == "", Log: log}
	if !ec.NoListen {
		host, portStr, err := net.SplitHostPort(cfg.NATS.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats.listen: %w", err)
		}
		port, _ := strconv.Atoi(portStr)
		// nats-server treats a failed listen as fatal to the process: probe first.
		if l, err := net.Listen("tcp", cfg.NATS.Listen); err != nil {
			port = 0
		} else {
			l.Close()
		}
		ec.Host, ec.Port = host, port
	}
	var err error
	if ec.Passwords, err = bus.EnsurePasswords(cfg.DataDir); err != nil {
		return nil, err
	}
	var keyFile string
	if cfg.NATS.StoreEncryption {
		if keyFile, err = NATSStoreKeyFile(cfg); err != nil {
			return nil, err
		}
	}
	if ec.Sync, err = bus.ParseSync(cfg.NATS.SyncInterval); err != nil {
		return nil, fmt.Errorf("nats.sync_interval: %w", err)
	}
	if ec.StoreKey, err = bus.StoreKeyFor(cfg.NATSDir(), cfg.NATS.StoreEncryption, keyFile, cfg.NATS.StoreKey, log); err != nil {
		return nil, err
	}
	return bus.StartEmbedded(ec)
}

// natsOptions turns the credentials and TLS settings into connect options.
// Secrets come from the config, files or the environment and are never logged.
func natsOptions(c config.NATS) ([]nats.Option, error) {
	password, err := secrets.ValueOrFile(c.Password, c.PasswordFile, "nats.password_file")
	if err != nil {
		return nil, err
	}
	token, err := secrets.ValueOrFile(c.Token, c.TokenFile, "nats.token_file")
	if err != nil {
		return nil, err
	}
	return bus.ClientOptions(bus.ClientAuth{
		User: c.User, Password: password, Token: token, CredentialsFile: c.CredentialsFile, NKeySeedFile: c.NKeySeedFile,
		InboxPrefix: c.InboxPrefix, CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
	})
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
			return bus.WithHint(err)
		}
		e.NC, e.JS = nc, js
		return nil
	}
	e.nats = bus.NewStageConns(e.natsSrv, e.natsURL, cfg.DataDir, cfg.Streams, name, e.log)
	if e.natsSrv != nil {
		e.natsSrv.OnJetStreamRestored(func() { e.restoreStreams(cfg.Streams) })
	}
	if need.Stage != bus.StageNone && (e.Owner || need.Stage == bus.StageAll) {
		if _, _, err := e.nats.Conn(bus.StageSetup); err != nil {
			return err
		}
		e.nats.Close(bus.StageSetup) // vakt_admin is needed no longer
	}
	nc, js, err := e.nats.Conn(need.Stage)
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
	_, js, err := e.nats.Conn(stage)
	return js, err
}

// NATSPassword returns the password of user on the embedded server of
// dataDir, as vakt's own commands read it.
func NATSPassword(dataDir, user string) (string, error) {
	return secrets.Read(dataDir, bus.PasswordFile(user))
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

// restoreStreams sets the pipeline's streams up again after the embedded
// server started JetStream anew (bus.Embedded.OnJetStreamRestored), as
// the administrator: the memory-only RAW stream and its consumer are gone.
func (e *Engines) restoreStreams(sc bus.StreamConfig) {
	for attempt := range 30 {
		err := func() error {
			_, js, err := e.nats.Conn(bus.StageSetup)
			if err != nil {
				return err
			}
			defer e.nats.Close(bus.StageSetup)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// What the administrator may set up: the salt bucket is the
			// pseudonymiser's alone and lives on in the file store.
			_, err = bus.EnsureFor(ctx, js, sc, bus.StageSetup, nil)
			return err
		}()
		if err == nil {
			return
		}
		e.log.Warn("set up the streams again after JetStream restarted", "attempt", attempt+1, "err", err)
		time.Sleep(time.Second)
	}
}
