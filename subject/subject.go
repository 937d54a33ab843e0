// Package subject answers data subjects' requests (GDPR Art. 15-21) from the
// address a requester gives: find, export, erase and restrict the rows held
// under that address's client ids, in every epoch whose salt still lives.
//
// An id can be computed from an address only with its epoch's salt, so the
// package needs the salt bucket (pseudonymize.SaltStore.Lookup) and the
// store. Once a salt is destroyed, the rows of its epoch can no longer be
// tied to the address by anyone, the operator included (Art. 11(2)): every
// answer says so, with the date range those rows cover.
//
// Neither the address nor a client id ever reaches vakt's output, logs or
// the request record: ids are used in queries only, passed as parameters.
package subject

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
)

// ExitNotIdentifiable is the exit status of a request about an address
// none of whose stored rows can still be tied to it (Art. 11(2)): an
// answer, not an error.
const ExitNotIdentifiable = 3

// NotIdentifiable is returned, after the statement has been written, when
// nothing held can be tied to the address any more but rows of epochs with
// destroyed salts exist. Commands exit with ExitNotIdentifiable.
type NotIdentifiable struct{ From, To time.Time }

func (e *NotIdentifiable) Error() string {
	return "nothing held can be tied to this address any more (GDPR Art. 11(2))"
}

// ExitCode is the command's exit status.
func (e *NotIdentifiable) ExitCode() int { return ExitNotIdentifiable }

// ParseAddr reads the address a requester gives: IPv4, IPv6 (brackets
// allowed), IPv4-mapped IPv6 as its IPv4 form, as ingest does.
func ParseAddr(s string) (netip.Addr, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimPrefix(t, "["), "]")
	a, err := netip.ParseAddr(t)
	if err != nil || a.Zone() != "" {
		// The text is not echoed: it may be an address with a typo.
		return netip.Addr{}, errors.New("--ip: not an IPv4 or IPv6 address; give one address, e.g. 203.0.113.7 or 2001:db8::7")
	}
	return a.Unmap(), nil
}

// Epoch is one epoch whose salt lives, with the address's id in it. The id
// never leaves this package's queries.
type Epoch struct {
	Epoch     uint32    `json:"epoch"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	DestroyAt time.Time `json:"salt_destroyed_at"`
	clientID  uint64
}

// Unlinkable is the range of stored rows whose epochs' salts are destroyed.
type Unlinkable struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Statement string    `json:"statement"`
}

// Target is an address resolved to its ids in every living epoch.
type Target struct {
	Epochs []Epoch
	// Unlinkable is set when the store holds rows of epochs with
	// destroyed salts.
	Unlinkable *Unlinkable
}

// Deps are what every request uses.
type Deps struct {
	Salts *pseudonymize.SaltStore
	CH    driver.Conn
	// DB is the ClickHouse database (clickhouse.database).
	DB string
	// Cluster, when set, runs erasure ON CLUSTER on the local tables.
	Cluster string
}

func (d Deps) table(name string) string { return "`" + d.DB + "`.`" + name + "`" }

// Resolve computes the address's client id under every salt that lives.
// An epoch whose salt is past its destruction time counts as destroyed even
// if the janitor has not erased it yet.
func Resolve(ctx context.Context, d Deps, ip netip.Addr) (*Target, error) {
	infos, err := d.Salts.Epochs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the salt epochs: %w", err)
	}
	t := &Target{}
	for _, e := range infos {
		keys, err := d.Salts.Lookup(ctx, e.Epoch)
		if errors.Is(err, pseudonymize.ErrSaltDestroyed) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("salt of epoch %d: %w", e.Epoch, err)
		}
		t.Epochs = append(t.Epochs, Epoch{Epoch: e.Epoch, Start: e.Start, End: e.End, DestroyAt: e.DestroyAt, clientID: keys.ClientID(ip)})
	}
	t.Unlinkable, err = unlinkable(ctx, d, t.Living())
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Living lists the epochs whose salts live.
func (t *Target) Living() []uint32 {
	out := make([]uint32, len(t.Epochs))
	for i, e := range t.Epochs {
		out[i] = e.Epoch
	}
	return out
}

// unlinkable finds the time range of stored rows of other epochs.
func unlinkable(ctx context.Context, d Deps, living []uint32) (*Unlinkable, error) {
	var n uint64
	var from, to time.Time
	q := "SELECT count(), min(ts), max(ts) FROM " + d.table(store.RequestsTable) + " WHERE NOT has({living:Array(UInt32)}, epoch)"
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"living": uint32List(living)}))
	if err := d.CH.QueryRow(ctx, q).Scan(&n, &from, &to); err != nil {
		return nil, chError("rows of destroyed salts", err)
	}
	if n == 0 {
		return nil, nil
	}
	return &Unlinkable{From: from.UTC(), To: to.UTC(), Statement: fmt.Sprintf(
		"Requests stored from %s to %s were pseudonymised under keys that have since been destroyed: "+
			"no one, the operator included, can tell any more which of them came from this address, "+
			"so they cannot be found, exported, erased or restricted for it (GDPR Art. 11(2)). "+
			"They expire with the retention period.",
		from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))}, nil
}

// who is the query parameter naming the target's (epoch, id) pairs, with
// the ids alone for the client_id bloom filter. Parameters, not SQL text:
// ids stay out of statements that may be logged.
func (t *Target) who() clickhouse.Parameters {
	var pairs, ids []string
	for _, e := range t.Epochs {
		pairs = append(pairs, fmt.Sprintf("(%d,%d)", e.Epoch, e.clientID))
		ids = append(ids, strconv.FormatUint(e.clientID, 10))
	}
	return clickhouse.Parameters{
		"pairs": "[" + strings.Join(pairs, ",") + "]",
		"ids":   "[" + strings.Join(ids, ",") + "]",
	}
}

// whoWhere selects the target's rows; use with who's parameters.
const whoWhere = "client_id IN {ids:Array(UInt64)} AND (epoch, client_id) IN {pairs:Array(Tuple(UInt32, UInt64))}"

func (t *Target) ctx(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithParameters(t.who()))
}

func uint32List(v []uint32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatUint(uint64(x), 10)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// chError names what failed; a missing table means nothing stored yet.
func chError(what string, err error) error {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && (ex.Code == 60 || ex.Code == 81) {
		return fmt.Errorf("%s: no data yet (run vakt import or vakt run first): %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CheckFormat refuses a format the action does not write.
func CheckFormat(action, format string) error {
	switch action {
	case "export":
		if format != "json" && format != "csv" {
			return fmt.Errorf("--format %q: export writes json or csv", format)
		}
	default:
		if format != "table" && format != "json" {
			return fmt.Errorf("--format %q: use table or json", format)
		}
	}
	return nil
}

// Outcome is the result of a request that has been answered: nil, or
// NotIdentifiable when nothing was held under a living salt but rows of
// destroyed salts exist (the statement has been written).
func Outcome(held bool, t *Target) error {
	if held || t.Unlinkable == nil {
		return nil
	}
	return &NotIdentifiable{From: t.Unlinkable.From, To: t.Unlinkable.To}
}
