package subject

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// CommandOptions are the flags of `vakt subject`.
type CommandOptions struct {
	IP     string
	Format string // export: json or csv; the others: table or json
	Out    string // export: a file instead of stdout
	Ref    string // free-text reference for the request record
}

// CommandEnv is what `vakt subject` works with: the salts and the store
// (Deps), the NATS bucket of marks and records (as vakt_subject), and the
// settings that decide how long marks live.
type CommandEnv struct {
	Deps         Deps
	JS           jetstream.JetStream
	Replicas     int
	EventsMaxAge time.Duration
	RowsTTL      time.Duration // of the rows a restriction covers
	AlertRules   []string      // whose alerts an erasure forgets
	Information  func(context.Context) Information
	Log          *slog.Logger
}

// Command answers `vakt subject find|export|erase|restrict|unrestrict`
// about ip and keeps a record of the request, without the address or an
// id. The Art. 11(2) answer is an error with its own exit status.
func Command(ctx context.Context, e CommandEnv, action string, ip netip.Addr, o CommandOptions, stdout io.Writer) error {
	t, err := Resolve(ctx, e.Deps, ip)
	if err != nil {
		return err
	}
	rec := Record{At: time.Now().UTC(), Action: action, Reference: o.Ref, Epochs: t.Living()}
	held, err := answer(ctx, e, t, action, o, &rec, stdout)
	if err != nil {
		return err
	}
	outcome := Outcome(held, t)
	rec.Outcome = "answered"
	switch {
	case outcome != nil:
		rec.Outcome = "not identifiable (Art. 11(2))"
	case !held:
		rec.Outcome = "nothing held"
	}
	if err := AddRecord(ctx, e.JS, e.Replicas, rec); err != nil {
		return err
	}
	return outcome
}

// answer answers one request and fills in its record's counts; it reports
// whether anything was held.
func answer(ctx context.Context, e CommandEnv, t *Target, action string, o CommandOptions, rec *Record, stdout io.Writer) (bool, error) {
	switch action {
	case "find":
		f, err := Find(ctx, e.Deps, t)
		if err != nil {
			return false, err
		}
		rec.Requests, rec.ClientRollups = f.Requests, f.ClientRollups
		return f.Held(), f.Write(o.Format, stdout)
	case "export":
		x, err := export(ctx, e, t, o, stdout)
		if err != nil {
			return false, err
		}
		rec.Requests, rec.ClientRollups = uint64(len(x.Requests)), uint64(len(x.Activity))
		return len(x.Requests)+len(x.Activity) > 0, nil
	case "erase":
		r, err := Erase(ctx, e.Deps, t, EraseOptions{JS: e.JS, Replicas: e.Replicas,
			EventsMaxAge: e.EventsMaxAge, AlertRules: e.AlertRules, Log: e.Log})
		if err != nil {
			return false, err
		}
		rec.Requests, rec.ClientRollups = r.Requests, r.ClientRollups
		return r.Requests+r.ClientRollups > 0, r.Write(o.Format, stdout)
	case "restrict", "unrestrict":
		ro := RestrictOptions{JS: e.JS, Replicas: e.Replicas, RowsTTL: e.RowsTTL}
		do := Restrict
		if action == "unrestrict" {
			do = Unrestrict
		}
		r, err := do(ctx, t, ro)
		if err != nil {
			return false, err
		}
		return len(r.Epochs) > 0, r.Write(o.Format, stdout)
	}
	return false, errors.New("unknown subject command " + action)
}

func export(ctx context.Context, e CommandEnv, t *Target, o CommandOptions, stdout io.Writer) (*Export, error) {
	x, err := Collect(ctx, e.Deps, t, e.Information(ctx), time.Now())
	if err != nil {
		return nil, err
	}
	out := stdout
	if o.Out != "" {
		f, err := os.OpenFile(o.Out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		defer f.Close()
		out = f
	}
	if err := x.Write(o.Format, out); err != nil {
		return nil, err
	}
	if o.Out != "" {
		fmt.Fprintf(stdout, "exported %d request rows and %d client-activity rows to %s\n", len(x.Requests), len(x.Activity), o.Out)
		if x.Unlinkable != nil {
			fmt.Fprintln(stdout, x.Unlinkable.Statement)
		}
	}
	return x, nil
}
