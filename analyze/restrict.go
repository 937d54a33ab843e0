package analyze

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject/marks"
)

// Restriction of processing (GDPR Art. 18, `vakt subject restrict`): a
// restricted client's rows stay stored, but every report, rule, alert and
// dashboard answer reads the requests table without them. The list comes
// with the query context; every query over {db}.requests then reads a
// subquery that leaves the restricted (epoch, client_id) pairs out, passed
// as a query parameter so that no id is in the statement's text.

type restrictedKey struct{}

// restrictedParam names the query parameter with the restricted pairs.
const restrictedParam = "vakt_restricted"

// WithRestricted returns ctx carrying the restricted clients.
func WithRestricted(ctx context.Context, clients []marks.Client) context.Context {
	return context.WithValue(ctx, restrictedKey{}, clients)
}

// LoadRestricted reads the restriction list through js and returns ctx
// carrying it. A list that cannot be read is an error: answering without
// it would process restricted data.
func LoadRestricted(ctx context.Context, js jetstream.JetStream) (context.Context, error) {
	list, err := marks.Restricted(ctx, js)
	if err != nil {
		return ctx, fmt.Errorf("read the restriction list (data subjects' requests): %w", err)
	}
	return WithRestricted(ctx, list), nil
}

func restrictedOf(ctx context.Context) []marks.Client {
	l, _ := ctx.Value(restrictedKey{}).([]marks.Client)
	return l
}

// restrictedValue is the parameter's value: [(epoch,id),...].
func restrictedValue(l []marks.Client) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,%d)", c.Epoch, c.ID)
	}
	b.WriteByte(']')
	return b.String()
}

// withoutRestricted replaces the tables with client ids in a query written
// with {db}. by the tables without the restricted clients.
func withoutRestricted(query string) string {
	return filterClientTables(query, "(epoch, client_id) NOT IN {"+restrictedParam+":Array(Tuple(UInt32, UInt64))}")
}

// filterClientTables replaces the tables with client ids
// (store.ClientTables) in a query written with {db}. by subqueries of
// their rows that meet cond. A table read FINAL is read so within its
// subquery (a subquery cannot be).
func filterClientTables(query, cond string) string {
	for _, t := range store.ClientTables {
		query = clientTableRE[t].ReplaceAllStringFunc(query, func(ref string) string {
			final := ""
			if strings.HasSuffix(strings.ToUpper(ref), "FINAL") {
				final = " FINAL"
			}
			return "(SELECT * FROM {db}." + t + final + " WHERE " + cond + ")"
		})
	}
	return query
}

// clientTableRE matches a reference to each client table, with FINAL.
var clientTableRE = func() map[string]*regexp.Regexp {
	m := map[string]*regexp.Regexp{}
	for _, t := range store.ClientTables {
		m[t] = regexp.MustCompile(`\{db\}\.` + regexp.QuoteMeta(t) + `\b(\s+(?i:FINAL)\b)?`)
	}
	return m
}()
