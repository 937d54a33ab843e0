package pseudonymize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// NewSaltReader binds to the salt bucket for a process that may only read
// it: the decision endpoint (enforce/), which computes the ids of the
// addresses it is asked about under the living salts. It never creates,
// seals, records or erases anything; use Lookup (never Current, which
// creates the current salt when missing) and refresh the rotation
// schedule with RefreshSchedule.
func NewSaltReader(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (*SaltStore, error) {
	return newSaltStore(ctx, js, cfg, log, true)
}

// readOnlyChecks are checkEpochLength and readSealsSince without writes: a
// bucket no pseudonymiser has set up yet is fine (no salt to read).
func (s *SaltStore) readOnlyChecks(ctx context.Context) error {
	e, err := s.kv.Get(ctx, epochLengthKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return fmt.Errorf("salt bucket %s: read epoch length: %w", bus.SaltBucket, err)
	case string(e.Value()) != s.length.String():
		return fmt.Errorf("%w: the salts in %s were made with pseudonymize.epoch=%s but this process has %s; set %s here too",
			ErrEpochLengthMismatch, bus.SaltBucket, e.Value(), s.length, e.Value())
	}
	e, err = s.kv.Get(ctx, sealsSinceKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return fmt.Errorf("salt bucket %s: read %s: %w", bus.SaltBucket, sealsSinceKey, err)
	default:
		s.sealsSince = e.Created()
	}
	return nil
}

// RefreshSchedule reads the rotation schedule again, for a reader that
// does not run the janitor (which watches it).
func (s *SaltStore) RefreshSchedule(ctx context.Context) error { return s.refreshSchedule(ctx) }
