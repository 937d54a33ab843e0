package analyze

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/subject/marks"
)

// TestKeptEpochsEqualEvaluated: the findings of per-epoch rules kept per
// epoch (epochcache.go) equal evaluating every epoch's rows, on labelled
// attack traffic: when kept, when read back, for another range sharing
// epochs and for one site; and an epoch that gains rows, or whose
// restricted clients change, is evaluated again.
func TestKeptEpochsEqualEvaluated(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := fillLabelledData(t, conn, db, 10_000)
	rules := loadBuiltin(t)
	var plain []Rule // the same rules, every epoch evaluated
	perEpoch, staged := 0, 0
	for _, r := range rules {
		if r.PerEpoch {
			perEpoch++
		}
		if r.EpochStage != "" {
			staged++
			r.SQL = strings.ReplaceAll(r.SQL, epochStageMacro, "("+r.EpochStage+")")
		}
		r.PerEpoch, r.EpochStage = false, ""
		plain = append(plain, r)
	}
	if perEpoch < 10 || staged < 3 {
		t.Fatalf("%d built-in rules are per_epoch, %d have an epoch stage", perEpoch, staged)
	}
	report := func(ctx context.Context, f Filter, wantKept, wantEvaluated func(int) bool) *Threats {
		t.Helper()
		got, err := ThreatReport(ctx, conn, db, rules, f)
		if err != nil {
			t.Fatal(err)
		}
		if got.Epochs.KeepErr != nil || got.Epochs.PlanErr != nil {
			t.Fatalf("keep: %v; plan: %v", got.Epochs.KeepErr, got.Epochs.PlanErr)
		}
		want, err := ThreatReport(ctx, conn, db, plain, f)
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("%s..%s site %q (%d epochs kept, %d evaluated)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339),
			f.Site, got.Epochs.Kept, got.Epochs.Evaluated)
		if len(want.Offenders) == 0 {
			t.Fatalf("%s: nobody caught, the comparison proves nothing", what)
		}
		if !wantKept(got.Epochs.Kept) || !wantEvaluated(got.Epochs.Evaluated) {
			t.Errorf("%s: not the epochs expected", what)
		}
		// Each staged rule keeps and reads the epochs the per-epoch ones do.
		if got.Epochs.StageKept != staged*got.Epochs.Kept || got.Epochs.StageEvaluated != staged*got.Epochs.Evaluated {
			t.Errorf("%s: stage epochs kept %d, evaluated %d", what, got.Epochs.StageKept, got.Epochs.StageEvaluated)
		}
		diffOffenders(t, what, got.Offenders, want.Offenders)
		return got
	}
	none := func(n int) bool { return n == 0 }
	some := func(n int) bool { return n > 0 }
	ctx := t.Context()

	f := Filter{Since: now.Add(-20*24*time.Hour + 5*time.Hour), Until: now.Add(-2*24*time.Hour - 3*time.Hour)}
	first := report(ctx, f, none, func(n int) bool { return n >= 16 })
	report(ctx, f, func(n int) bool { return n == first.Epochs.Evaluated }, none)
	// A range sharing most epochs, its older ones new; one site's.
	report(ctx, Filter{Since: now.Add(-25*24*time.Hour - 7*time.Hour), Until: f.Until}, some, func(n int) bool { return n >= 4 })
	report(ctx, Filter{Since: f.Since, Until: f.Until, Site: "www.example.org"}, some, none)

	// A late client in a kept epoch, with the SQL injections of a rule
	// case: its epoch alone is evaluated again.
	var victim Offender
	for _, o := range first.Offenders {
		// of a whole epoch of the range
		if o.Rule == "sql-injection" && o.FirstSeen.After(f.Since.Add(24*time.Hour)) && o.LastSeen.Before(f.Until.Add(-24*time.Hour)) {
			victim = o
			break
		}
	}
	if victim.ID == "" {
		t.Fatal("no sql-injection offender to copy")
	}
	const lateID = 777_000_001
	at := time.Unix(int64(victim.Epoch)*86400+6*3600, 0).UTC() // the bench data's epochs are UTC days
	rows := ruleCases["sql-injection"][0].rows(victim.Site, at)
	for i := range rows {
		rows[i].client, rows[i].epoch = lateID, victim.Epoch
	}
	insert(t, conn, db, rows)
	caught := func(th *Threats) bool {
		return slices.ContainsFunc(th.Offenders, func(o Offender) bool {
			return o.Rule == "sql-injection" && o.ID == strconv.Itoa(lateID) && o.Epoch == victim.Epoch
		})
	}
	if th := report(ctx, f, func(n int) bool { return n == first.Epochs.Evaluated-1 }, func(n int) bool { return n == 1 }); !caught(th) {
		t.Errorf("the late client %d of epoch %d is not among the offenders", lateID, victim.Epoch)
	}
	// Restricting it: its epoch is evaluated again, without it.
	rctx := WithRestricted(ctx, []marks.Client{{Epoch: victim.Epoch, ID: uint64(lateID)}})
	if th := report(rctx, f, func(n int) bool { return n == first.Epochs.Evaluated-1 }, func(n int) bool { return n == 1 }); caught(th) {
		t.Errorf("the restricted client %d is reported", lateID)
	}
	report(rctx, f, func(n int) bool { return n == first.Epochs.Evaluated }, none)
	// Many restricted clients, over a range with the rule cases' epoch.
	tenth := WithRestricted(ctx, restrictedTenth(t, conn, db))
	wide := Filter{Since: now.Add(-31 * 24 * time.Hour), Until: now.Add(time.Hour)}
	report(tenth, wide, func(int) bool { return true }, some)
	report(tenth, wide, some, func(int) bool { return true })
}

// TestPerEpochScopes: only client and network rules judge one epoch.
func TestPerEpochScopes(t *testing.T) {
	for _, r := range loadBuiltin(t) {
		if r.Scope != ScopeClient && r.Scope != ScopeNetwork {
			r.PerEpoch = true
			if err := r.Validate(); err == nil {
				t.Errorf("%s (scope %s): per_epoch accepted", r.Name, r.Scope)
			}
		}
	}
}

func TestCoveringRanges(t *testing.T) {
	at := func(h int) time.Time {
		return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
	}
	f := Filter{Since: at(5), Until: at(100), Site: "s"}
	got := coveringRanges([]epochExtent{
		{epoch: 3, first: at(48), end: at(72)},
		{epoch: 1, first: at(0), end: at(24)},  // cut at Since
		{epoch: 2, first: at(24), end: at(30)}, // touches 1: merged
		{epoch: 4, first: at(90), end: at(200)},
		{epoch: 5, first: at(60), end: at(70)}, // inside 3
		{epoch: 6, first: at(101), end: at(120)},
	}, f)
	want := []Filter{{Since: at(5), Until: at(30), Site: "s"}, {Since: at(48), Until: at(72), Site: "s"}, {Since: at(90), Until: at(100), Site: "s"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEpochStageErrors(t *testing.T) {
	base := "name: x\n" + testRuleHead
	const where = `ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')} AND ({site:String} = '' OR site = {site:String})`
	stage := "epoch_stage: \"SELECT site, epoch, count() AS n FROM {db}.requests WHERE " + where + " GROUP BY site, epoch\"\n"
	for _, c := range []struct{ body, want string }{
		{stage + "sql: \"SELECT site, '' AS id, sum(n) AS requests FROM {db}.requests HAVING requests >= {min_hits:UInt32}\"", "the sql does not read it"},
		{"sql: \"SELECT site FROM {epoch_stage} WHERE {min_hits:UInt32} > 0\"", "write the epoch_stage query"},
		{"per_epoch: true\n" + stage + "sql: \"SELECT site FROM {epoch_stage} WHERE {min_hits:UInt32} > 0\"", "leave epoch_stage out"},
		{"epoch_stage: \"SELECT 1 WHERE " + where + "\"\nsql: \"SELECT site FROM {epoch_stage} WHERE {min_hits:UInt32} > 0\"", "epoch_stage: read the tables as {db}"},
	} {
		_, err := ParseRule("x.yaml", []byte(base+c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.body, err, c.want)
		}
	}
	// A stage and a sql that read it, each with some of the parameters.
	if _, err := ParseRule("x.yaml", []byte(base+stage+"sql: \"SELECT site, '' AS id, sum(n) AS requests FROM {epoch_stage} GROUP BY site HAVING requests >= {min_hits:UInt32}\"")); err != nil {
		t.Error(err)
	}
}

func TestFilterClientTablesFinal(t *testing.T) {
	got := filterClientTables("SELECT * FROM {db}.client_activity_1h FINAL AS a JOIN {db}.requests AS r USING (x) JOIN {db}.requests_other AS o", "c")
	want := "SELECT * FROM (SELECT * FROM {db}.client_activity_1h FINAL WHERE c) AS a JOIN (SELECT * FROM {db}.requests WHERE c) AS r USING (x) JOIN {db}.requests_other AS o"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestKeepSettled: the alert loop keeps the findings of the settled epochs
// (not the newest, being written), so that the next report over them
// evaluates none; a second round has nothing to keep.
func TestKeepSettled(t *testing.T) {
	conn := openConn(t)
	db := testDB(t, conn)
	now := fillLabelledData(t, conn, db, 3_000)
	rules := loadBuiltin(t)
	a := &Alerter{rules: rules, conn: conn, db: db, log: slog.New(slog.DiscardHandler), now: time.Now}
	if n := a.keepSettled(t.Context()); n == 0 {
		t.Fatal("nothing kept")
	}
	if n := a.keepSettled(t.Context()); n != 0 {
		t.Errorf("the second round kept %d epochs again", n)
	}
	th, err := ThreatReport(t.Context(), conn, db, rules, Filter{Since: now.Add(-20 * 24 * time.Hour), Until: now.Add(-3 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if th.Epochs.Kept < 15 || th.Epochs.Evaluated != 0 || th.Epochs.StageEvaluated != 0 {
		t.Errorf("a report after it: %+v", th.Epochs)
	}
	var newest uint32
	var kept uint64
	if err := conn.QueryRow(t.Context(), "SELECT max(epoch) FROM `"+db+"`.epoch_rows").Scan(&newest); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM `"+db+"`.rule_results WHERE epoch = ?", newest).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept != 0 {
		t.Errorf("the newest epoch %d, being written, has %d kept rows", newest, kept)
	}
}

// TestPlanPays: kept findings are used when the whole epochs hold at
// least 1.5 times the other rows for each live range, live epochs counted
// by their time in the range.
func TestPlanPays(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	ext := map[uint32]epochExtent{}
	for d := 1; d <= 7; d++ {
		ext[uint32(d)] = epochExtent{epoch: uint32(d), requests: 1000, first: day(d), end: day(d + 1)}
	}
	ext[8] = epochExtent{epoch: 8, requests: 100, first: day(8), end: day(8).Add(2 * time.Hour)}
	noon := func(d int) time.Time { return day(d).Add(12 * time.Hour) }
	for _, c := range []struct {
		name  string
		whole []uint32
		live  []uint32
		f     Filter
		want  bool
	}{
		// The last 24 h when the newest epoch has had no row for hours:
		// it is whole, but holds 100 of the ~1,010 rows.
		{"last 24 h, a small whole epoch", []uint32{8}, []uint32{7}, Filter{Since: day(7).Add(2 * time.Hour), Until: day(9)}, false},
		{"one whole day", []uint32{6}, nil, Filter{Since: day(6), Until: day(7)}, true},
		{"three days to the end, two whole", []uint32{6, 7, 8}, []uint32{5}, Filter{Since: day(5).Add(time.Hour), Until: day(9)}, true},
		// Live at both ends: two ranges of queries.
		{"noon to noon, one whole", []uint32{6}, []uint32{5, 7}, Filter{Since: noon(5), Until: noon(7)}, false},
		{"noon to noon, two whole", []uint32{3, 4}, []uint32{2, 5}, Filter{Since: noon(2), Until: noon(5)}, false},
		{"noon to noon, three whole", []uint32{3, 4, 5}, []uint32{2, 6}, Filter{Since: noon(2), Until: noon(6)}, true},
		{"seven days", []uint32{2, 3, 4, 5, 6, 7, 8}, []uint32{1}, Filter{Since: day(1).Add(time.Hour), Until: day(9)}, true},
		{"no whole epoch", nil, []uint32{6, 7}, Filter{Since: day(6).Add(time.Hour), Until: day(8)}, false},
	} {
		var live []epochExtent
		for _, e := range c.live {
			live = append(live, ext[e])
		}
		if got := planPays(c.whole, live, ext, c.f, len(coveringRanges(live, c.f))); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
