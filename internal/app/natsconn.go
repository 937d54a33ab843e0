package app

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/secrets"
)

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
