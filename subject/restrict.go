package subject

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/subject/marks"
)

// Restricted says what `vakt subject restrict` or `unrestrict` did.
type Restricted struct {
	Action string   `json:"action"` // restrict or unrestrict
	Epochs []uint32 `json:"epochs"`
	// Changed counts the epochs whose restriction was set or lifted.
	Changed    int         `json:"epochs_changed"`
	Until      *time.Time  `json:"until,omitempty"` // restrict: when the last restriction expires with its rows
	Unlinkable *Unlinkable `json:"not_identifiable,omitempty"`
}

// RestrictOptions are what restriction needs beyond Deps.
type RestrictOptions struct {
	JS       jetstream.JetStream
	Replicas int
	// RowsTTL is how long rows live (the longest of retention.requests and
	// retention.client_rollups): a restriction lives as long as its rows.
	RowsTTL time.Duration
}

// Restrict puts the target's clients on the restriction list: their rows
// stay stored and are left out of every report, alert and dashboard
// answer (Art. 18). Each entry expires when the epoch's rows have expired.
func Restrict(ctx context.Context, t *Target, o RestrictOptions) (*Restricted, error) {
	res := &Restricted{Action: "restrict", Epochs: t.Living(), Unlinkable: t.Unlinkable}
	if len(t.Epochs) == 0 {
		return res, nil
	}
	kv, err := marks.Ensure(ctx, o.JS, o.Replicas)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, e := range t.Epochs {
		// Daily partitions expire whole: a row lives up to a day past its TTL.
		until := e.End.Add(o.RowsTTL + 24*time.Hour)
		if err := marks.PutRestriction(ctx, kv, e.Epoch, e.clientID, until.Sub(now)); err != nil {
			return nil, err
		}
		res.Changed++
		if res.Until == nil || until.After(*res.Until) {
			u := until.UTC()
			res.Until = &u
		}
	}
	return res, nil
}

// Unrestrict lifts the target's restrictions.
func Unrestrict(ctx context.Context, t *Target, o RestrictOptions) (*Restricted, error) {
	res := &Restricted{Action: "unrestrict", Epochs: t.Living(), Unlinkable: t.Unlinkable}
	if len(t.Epochs) == 0 {
		return res, nil
	}
	kv, err := marks.Ensure(ctx, o.JS, o.Replicas)
	if err != nil {
		return nil, err
	}
	for _, e := range t.Epochs {
		lifted, err := marks.Lift(ctx, kv, e.Epoch, e.clientID)
		if err != nil {
			return nil, err
		}
		if lifted {
			res.Changed++
		}
	}
	return res, nil
}

// Write writes the answer as table (plain words) or json.
func (r *Restricted) Write(format string, out io.Writer) error {
	if format == "json" {
		return writeJSON(out, r)
	}
	switch {
	case len(r.Epochs) == 0:
		fmt.Fprintln(out, "No salt epoch lives: no stored row can be tied to this address.")
	case r.Action == "restrict":
		fmt.Fprintf(out, "Restricted in %d epoch(s): the rows stay stored but are left out of every report, alert, top list and\n"+
			"dashboard answer until `vakt subject unrestrict`, or until they expire (at the latest %s).\n",
			r.Changed, r.Until.Format(time.RFC3339))
	case r.Changed == 0:
		fmt.Fprintln(out, "No restriction was in place for this address.")
	default:
		fmt.Fprintf(out, "Restriction lifted in %d epoch(s): the rows are processed again.\n", r.Changed)
	}
	if r.Unlinkable != nil {
		fmt.Fprintln(out, "\n"+r.Unlinkable.Statement)
	}
	return nil
}
