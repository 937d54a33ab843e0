package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/nats-io/nats.go"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
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
	if ec.Passwords, err = natsPasswords(cfg.DataDir); err != nil {
		return nil, err
	}
	if ec.StoreKey, err = natsStoreKey(cfg, log); err != nil {
		return nil, err
	}
	return bus.StartEmbedded(ec)
}

// natsOptions turns the credentials and TLS settings into connect options.
// Secrets come from the config, files or the environment and are never logged.
func natsOptions(c config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	password, err := secret(c.Password, c.PasswordFile, "nats.password_file")
	if err != nil {
		return nil, err
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, password))
	}
	token, err := secret(c.Token, c.TokenFile, "nats.token_file")
	if err != nil {
		return nil, err
	}
	if token != "" {
		opts = append(opts, nats.Token(token))
	}
	if c.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredentialsFile))
	}
	if c.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats.nkey_seed_file: %w", err)
		}
		opts = append(opts, o)
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" || c.KeyFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	return opts, nil
}

// secret returns value, or the trimmed content of file when set.
func secret(value, file, key string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
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
	changes, err := bus.EnsureFor(ctx, eng.JS, cfg.Streams, bus.StageSetup, nil)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, c := range changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.What, c.Action, c.Detail)
	}
	tw.Flush()
	return err
}
