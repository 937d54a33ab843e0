package analyze

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/store"
)

// TestPerOffenderRulesOnTheirOwnRows checks the built-in rules marked
// per_offender: over the rows of a few offenders only (clients, networks
// or ASes, as a client's page reads them), each finds exactly what it
// finds over every row for those offenders, on labelled attack traffic,
// with restricted clients too. And a client's page, which reads them so,
// lists the same matches and neighbours' rules as when every rule reads
// every row.
func TestPerOffenderRulesOnTheirOwnRows(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := fillLabelledData(t, conn, db, 10_000)
	all := loadBuiltin(t)
	f := Filter{Since: now.Add(-31 * 24 * time.Hour), Until: now.Add(time.Hour)}
	restricted := restrictedTenth(t, conn, db)
	for _, scope := range []struct{ name, column string }{{ScopeClient, "client_id"}, {ScopeNetwork, "network_id"}, {ScopeASN, ""}} {
		var rules []Rule
		for _, r := range all {
			if r.PerOffender && r.Scope == scope.name {
				rules = append(rules, r)
			}
		}
		if len(rules) == 0 {
			t.Fatalf("no built-in %s rule is per_offender", scope.name)
		}
		full, err := ThreatReport(t.Context(), conn, db, rules, f)
		if err != nil {
			t.Fatal(err)
		}
		// The keys of every signalling offender of the scope: offenders
		// first, then the others.
		key, epoch := scope.column, "epoch"
		if key == "" {
			key, epoch = "asn", "toUInt32(0)"
		}
		rows, err := conn.Query(t.Context(), "SELECT DISTINCT toString("+key+") AS k, "+epoch+" AS e FROM `"+db+"`."+store.SignalRowsTable+" ORDER BY e, k")
		if err != nil {
			t.Fatal(err)
		}
		offending := map[EpochID]bool{}
		for _, o := range full.Offenders {
			offending[EpochID{o.ID, o.Epoch}] = true
		}
		var caught, others []EpochID
		for rows.Next() {
			var k EpochID
			if err := rows.Scan(&k.ID, &k.Epoch); err != nil {
				t.Fatal(err)
			}
			if offending[k] {
				caught = append(caught, k)
			} else {
				others = append(others, k)
			}
		}
		rows.Close()
		if len(caught) == 0 || len(others) < 3 {
			t.Fatalf("%s: %d offending and %d other signalling offenders: too few to show anything", scope.name, len(caught), len(others))
		}
		checked := 0
		for b := 0; b*20 < len(caught) && b < 6; b++ {
			batch := slices.Clone(caught[b*20 : min((b+1)*20, len(caught))])
			batch = append(batch, others[min(b*10, len(others)):min(b*10+10, len(others))]...)
			bounds := []subjectRows{{column: scope.column, ids: batch}}
			if scope.column == "" { // one AS at a time
				bounds = nil
				for _, k := range batch {
					asn, _ := strconv.ParseUint(k.ID, 10, 32)
					bounds = append(bounds, subjectRows{asn: uint32(asn)})
				}
			}
			for _, restrict := range []bool{false, true} {
				ctx, offenders := t.Context(), full.Offenders
				if restrict {
					ctx = WithRestricted(ctx, restricted)
					r, err := ThreatReport(ctx, conn, db, rules, f)
					if err != nil {
						t.Fatal(err)
					}
					offenders = r.Offenders
				}
				for _, w := range bounds {
					in := w.ids
					if w.column == "" {
						in = []EpochID{{strconv.FormatUint(uint64(w.asn), 10), 0}}
					}
					want := slices.DeleteFunc(slices.Clone(offenders), func(o Offender) bool { return !slices.Contains(in, EpochID{o.ID, o.Epoch}) })
					got, err := ThreatReport(context.WithValue(ctx, withinKey{}, w), conn, db, rules, f)
					if err != nil {
						t.Fatal(err)
					}
					diffOffenders(t, fmt.Sprintf("%s rules over the rows of %v (restricted clients: %v)", scope.name, in, restrict), got.Offenders, want)
					checked += len(want)
				}
			}
		}
		if checked == 0 {
			t.Fatalf("%s: no offender in any batch: the comparison proves nothing", scope.name)
		}
		t.Logf("%d per-offender %s rules, %d offenders over every row, %d compared over their own rows", len(rules), scope.name, len(full.Offenders), checked)
	}

	// A client's page: the same with the per-offender rules over its
	// offenders' rows as with every rule over every row.
	everyRow := slices.Clone(all)
	for i := range everyRow {
		everyRow[i].PerOffender = false
	}
	full, err := ThreatReport(t.Context(), conn, db, all, f)
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]int{}
	for _, o := range full.Offenders {
		if o.Scope == ScopeCampaign || pages[o.Scope] == 3 {
			continue
		}
		pages[o.Scope]++
		q := ClientQuery{Scope: o.Scope, ID: o.ID, Epoch: o.Epoch}
		got, err := ClientReport(t.Context(), conn, db, all, f, q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ClientReport(t.Context(), conn, db, everyRow, f, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Matches) == 0 {
			t.Fatalf("%s %s: no match over every row", o.Scope, o.ID)
		}
		if !reflect.DeepEqual(matchKeys(got.Matches), matchKeys(want.Matches)) || !reflect.DeepEqual(got.Neighbours, want.Neighbours) {
			t.Errorf("%s %s of epoch %d: the per-offender rules over their offenders' rows give\n%v\n%+v\nevery rule over every row\n%v\n%+v",
				o.Scope, o.ID, o.Epoch, matchKeys(got.Matches), got.Neighbours, matchKeys(want.Matches), want.Neighbours)
		}
	}
	if pages[ScopeClient] == 0 || pages[ScopeNetwork] == 0 || pages[ScopeASN] == 0 {
		t.Fatalf("pages compared by scope: %v; want each scope's", pages)
	}
}

func matchKeys(os []Offender) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = offenderKey(o)
	}
	return out
}
