package bus

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ClientAuth is how vakt authenticates to an external nats-server: the
// nats section with its secrets read.
type ClientAuth struct {
	User, Password, Token         string
	CredentialsFile, NKeySeedFile string
	InboxPrefix                   string
	CAFile, CertFile, KeyFile     string
}

// ClientOptions turns the credentials and TLS settings into connect options.
func ClientOptions(c ClientAuth) ([]nats.Option, error) {
	var opts []nats.Option
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
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

// Setup is `vakt nats setup` on js: it creates or updates what the stages
// use (EnsureFor as StageSetup) and prints each change.
func Setup(ctx context.Context, js jetstream.JetStream, streams StreamConfig, out io.Writer) error {
	changes, err := EnsureFor(ctx, js, streams, StageSetup, nil)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, c := range changes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.What, c.Action, c.Detail)
	}
	tw.Flush()
	return err
}
