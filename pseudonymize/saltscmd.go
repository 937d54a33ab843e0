package pseudonymize

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/output"
)

// SaltStatus is what `vakt salts status` reports: the schedule of every
// stored salt, never a salt.
type SaltStatus struct {
	Now          time.Time   `json:"now"`
	EpochLength  string      `json:"epoch_length"`
	Grace        string      `json:"grace"`
	CurrentEpoch uint32      `json:"current_epoch"`
	Epochs       []SaltEpoch `json:"epochs"`
	Rotations    []Rotation  `json:"rotations"`
}

// SaltEpoch is one epoch with a stored salt, or the current one.
type SaltEpoch struct {
	Epoch     uint32     `json:"epoch"`
	Start     time.Time  `json:"start"`
	End       time.Time  `json:"end"`
	Created   *time.Time `json:"created"` // nil: no salt yet (the first pseudonymiser to need it creates it)
	DestroyAt time.Time  `json:"destroy_at"`
	Current   bool       `json:"current"`
	Rotated   bool       `json:"rotated"` // ended early by `vakt salts rotate`
}

// CheckSaltsFormat refuses an output format `vakt salts` does not write.
func CheckSaltsFormat(format string) error {
	if format != output.Table && format != output.JSON {
		return fmt.Errorf("unknown format %q: use table or json", format)
	}
	return nil
}

// SaltsStatus is `vakt salts status` over the salt bucket of js, which the
// caller's connection may read (bus.StageSalts).
func SaltsStatus(ctx context.Context, js jetstream.JetStream, cfg Config, format string, log *slog.Logger, out io.Writer) error {
	if err := CheckSaltsFormat(format); err != nil {
		return err
	}
	salts, err := NewSaltStore(ctx, js, cfg, log)
	if err != nil {
		return err
	}
	st, err := saltStatus(ctx, salts, cfg)
	if err != nil {
		return err
	}
	if format == output.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printSaltStatus(out, st)
	return nil
}

func saltStatus(ctx context.Context, salts *SaltStore, cfg Config) (SaltStatus, error) {
	now := time.Now().UTC()
	cur, err := salts.EpochOf(now)
	if err != nil {
		return SaltStatus{}, err
	}
	list, err := salts.Epochs(ctx)
	if err != nil {
		return SaltStatus{}, err
	}
	pc := cfg.WithDefaults()
	st := SaltStatus{
		Now: now, EpochLength: pc.EpochLength.String(), Grace: pc.Grace.String(), CurrentEpoch: cur,
		Epochs: []SaltEpoch{}, Rotations: salts.Rotations(),
	}
	hasCurrent := false
	for _, e := range list {
		created := e.Created
		st.Epochs = append(st.Epochs, SaltEpoch{Epoch: e.Epoch, Start: e.Start, End: e.End, Created: &created,
			DestroyAt: e.DestroyAt, Current: e.Current, Rotated: e.Rotated})
		hasCurrent = hasCurrent || e.Current
	}
	if !hasCurrent {
		start, end, destroyAt := salts.Bounds(cur)
		st.Epochs = append(st.Epochs, SaltEpoch{Epoch: cur, Start: start, End: end, DestroyAt: destroyAt, Current: true})
	}
	return st, nil
}

func printSaltStatus(out io.Writer, st SaltStatus) {
	fmt.Fprintf(out, "epoch length %s, salts destroyed %s after their epoch ends; now %s\n\n",
		st.EpochLength, st.Grace, st.Now.Format(time.RFC3339))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EPOCH\tSTART\tEND\tCREATED\tDESTROY AT\tSTATE")
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	for _, e := range st.Epochs {
		created := "-"
		if e.Created != nil {
			created = ts(*e.Created)
		}
		state := "ended; salt kept for access and erasure requests"
		switch {
		case e.Current && e.Created == nil:
			state = "current (no salt yet: the first pseudonymiser creates it)"
		case e.Current:
			state = "current"
		case st.Now.Before(e.Start):
			state = "future (created early by a replica whose clock is ahead)"
		case e.Rotated:
			state = "ended early by rotation; salt kept for access and erasure requests"
		case !st.Now.Before(e.DestroyAt):
			state = "due for destruction (within a minute while a pseudonymiser runs)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Epoch, ts(e.Start), ts(e.End), created, ts(e.DestroyAt), state)
	}
	tw.Flush()
	if n := len(st.Rotations); n > 0 {
		last := st.Rotations[n-1]
		fmt.Fprintf(out, "\nlast rotation: %s (epoch %d ended, epoch %d started)\n", ts(last.At), last.Replaced, last.Epoch)
	}
}

// RotateResult is what `vakt salts rotate` reports.
type RotateResult struct {
	Rotation
	// ReplacedHadSalt says whether a salt existed for the replaced epoch
	// (none does when no pseudonymiser needed it).
	ReplacedHadSalt bool `json:"replaced_had_salt"`
	// ReplacedDestroyAt is when the replaced salt is (or was) destroyed.
	ReplacedDestroyAt time.Time `json:"replaced_destroy_at"`
}

// SaltsRotate is `vakt salts rotate`: a new epoch, and so a new salt and new
// ids for every IP, from now on. Running pseudonymisers switch within
// moments; stopped ones use the new epoch when they start.
func SaltsRotate(ctx context.Context, js jetstream.JetStream, cfg Config, destroyNow bool, format string, log *slog.Logger, out io.Writer) error {
	if err := CheckSaltsFormat(format); err != nil {
		return err
	}
	salts, err := NewSaltStore(ctx, js, cfg, log)
	if err != nil {
		return err
	}
	before, err := salts.Epochs(ctx)
	if err != nil {
		return err
	}
	r, err := salts.Rotate(ctx, destroyNow)
	if err != nil {
		return fmt.Errorf("rotate salts: %w", err)
	}
	_, _, destroyAt := salts.Bounds(r.Replaced)
	res := RotateResult{Rotation: r, ReplacedDestroyAt: destroyAt}
	for _, e := range before {
		res.ReplacedHadSalt = res.ReplacedHadSalt || e.Epoch == r.Replaced
	}
	if format == output.JSON {
		return json.NewEncoder(out).Encode(res)
	}
	fmt.Fprintf(out, "salts rotated at %s: epoch %d ended, epoch %d is in use from now on; every IP gets new ids.\n",
		r.At.Format(time.RFC3339Nano), r.Replaced, r.Epoch)
	switch {
	case !res.ReplacedHadSalt:
		fmt.Fprintf(out, "epoch %d had no salt (no pseudonymiser had used it).\n", r.Replaced)
	case destroyNow:
		fmt.Fprintf(out, "the salt of epoch %d is destroyed: nobody can link its rows to IPs any more, for access or erasure requests either.\n", r.Replaced)
	default:
		fmt.Fprintf(out, "the salt of epoch %d is destroyed at %s, as scheduled after an epoch ends, so that access and erasure requests\n"+
			"for its rows still work until then; `vakt salts rotate --destroy-now` destroys it at once.\n", r.Replaced, destroyAt.Format(time.RFC3339))
	}
	fmt.Fprintln(out, "running pseudonymisers switch within a second; stopped ones use the new epoch when they start.")
	return nil
}
