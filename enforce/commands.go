package enforce

import (
	"context"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/pseudonymize"
)

// CommandEnv is what `vakt decisions` works on: the decisions bucket, and
// the salts (as vakt_enforce) to hash an --ip.
type CommandEnv struct {
	JS           jetstream.JetStream
	Pseudonymize pseudonymize.Config
	Decisions    *Decisions
}

// ListCommand is `vakt decisions list`.
func ListCommand(ctx context.Context, e CommandEnv, format string, out io.Writer) error {
	list, err := e.Decisions.List(ctx)
	if err != nil {
		return err
	}
	return PrintList(out, list, format)
}

// AddCommand is `vakt decisions add`: it prints the decision made (its
// pseudonymous id, never the address it was asked for).
func AddCommand(ctx context.Context, e CommandEnv, req AddRequest, format string, out io.Writer) error {
	d, err := Add(ctx, e.JS, e.Pseudonymize, e.Decisions, req)
	if err != nil {
		return err
	}
	return PrintList(out, []Listed{{Decision: d, Key: d.Key()}}, format)
}

// DeleteCommand is `vakt decisions delete KEY...`.
func DeleteCommand(ctx context.Context, e CommandEnv, keys []string, out io.Writer) error {
	for _, k := range keys {
		ok, err := e.Decisions.Delete(ctx, k)
		if err != nil {
			return fmt.Errorf("delete %s: %w", k, err)
		}
		if !ok {
			return fmt.Errorf("no decision %s (vakt decisions list shows the keys)", k)
		}
		fmt.Fprintf(out, "deleted %s\n", k)
	}
	return nil
}
