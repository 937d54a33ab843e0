package analyze

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// A client's page (ClientReport) lists the rules its subject matched, its
// networks' and its AS's, and those its neighbours matched. A rule that
// judges each offender by its own rows (Rule.PerOffender) gives an
// offender the same finding over any rows that hold all of the offender's,
// so the page evaluates it over the rows of the offenders it shows only:
// for a client rule the subject's and its listed neighbours', for a
// network rule its networks', for an AS rule its AS's. Every table with
// client ids is read through a subquery of those rows, the keys passed as
// a query parameter, as restrict.go leaves restricted clients out. The
// other rules (a site's baseline, groups across clients) read every row.

type withinKey struct{}

// withinParam names the query parameter with the offenders' keys.
const withinParam = "vakt_within"

// maxListedNetworks is how many networks a client report lists: a list
// that long may be cut short and cannot bound the rows.
const maxListedNetworks = 100

// subjectRows is the rows of a client report's offenders of one scope:
// those of clients or networks (ids, each of its epoch), or of an AS.
type subjectRows struct {
	column string    // client_id or network_id; "" for the AS
	ids    []EpochID // with column
	asn    uint32    // without
}

// ruleContext returns, for each rule, the context it runs with on the
// page: bounded to the rows of the offenders the page shows when the rule
// is per offender and the page knows them all, else ctx.
func (c *Client) ruleContext(ctx context.Context) func(Rule) context.Context {
	bounded := map[string]context.Context{}
	var clients []EpochID
	if c.Query.Scope == ScopeClient {
		if c.Query.Epoch != 0 {
			clients = append(clients, EpochID{c.Query.ID, c.Query.Epoch})
		} else {
			for _, e := range c.Summary.Epochs {
				clients = append(clients, EpochID{c.Query.ID, e})
			}
		}
	}
	for _, nb := range c.Neighbours {
		clients = append(clients, EpochID{nb.ID, nb.Epoch})
	}
	bounded[ScopeClient] = context.WithValue(ctx, withinKey{}, subjectRows{column: "client_id", ids: clients})
	if n := c.Summary.Networks; len(n) < maxListedNetworks {
		bounded[ScopeNetwork] = context.WithValue(ctx, withinKey{}, subjectRows{column: "network_id", ids: n})
	}
	asn := c.Summary.ASN
	if c.Query.Scope == ScopeASN {
		if _, id, err := c.Query.subject(); err == nil {
			if n, err := strconv.ParseUint(fmt.Sprint(id), 10, 32); err == nil {
				asn = uint32(n)
			}
		}
	}
	bounded[ScopeASN] = context.WithValue(ctx, withinKey{}, subjectRows{asn: asn})
	return func(r Rule) context.Context {
		if b, ok := bounded[r.Scope]; ok && r.PerOffender {
			return b
		}
		return ctx
	}
}

func withinOf(ctx context.Context) (subjectRows, bool) {
	w, ok := ctx.Value(withinKey{}).(subjectRows)
	return w, ok
}

// condition is the filter of the offenders' rows, with withinParam.
func (w subjectRows) condition() string {
	if w.column == "" {
		return "asn = {" + withinParam + ":UInt32}"
	}
	return "(epoch, " + w.column + ") IN {" + withinParam + ":Array(Tuple(UInt32, UInt64))}"
}

// value is withinParam's value: the AS, or [(epoch,id),...].
func (w subjectRows) value() string {
	if w.column == "" {
		return strconv.FormatUint(uint64(w.asn), 10)
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range w.ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,%s)", c.Epoch, c.ID)
	}
	b.WriteByte(']')
	return b.String()
}
