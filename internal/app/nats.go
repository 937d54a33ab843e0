package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/nats-io/nats.go"

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
	ec := bus.EmbeddedConfig{StoreDir: cfg.NATSDir(), NoListen: cfg.NATS.Listen == ""}
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

// NATSSetup is `vakt nats setup`: it looks up the pipeline's streams,
// durable consumers and buckets, creates what is missing and updates what
// differs from the configuration, and prints what it found and did. Run it
// as the NATS administrator when each stage has its own user
// (configs/nats-accounts.conf), who may not create these. The salt bucket is
// left to the pseudonymiser's user, the only one that may touch it.
func NATSSetup(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageNone}, "nats setup", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	return bus.Setup(ctx, eng.JS, cfg.Streams, out)
}
