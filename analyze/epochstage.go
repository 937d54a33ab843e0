package analyze

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/store"
)

// A rule that compares across salt epochs (an AS's clients over days, a
// campaign's members) cannot keep its findings per epoch, but often it is
// a cheap query over per-epoch rows that are costly to compute: an AS's
// signalling clients per epoch, a campaign's members. Such a rule writes
// those rows as its epoch stage (Rule.EpochStage), which its SQL reads as
// {epoch_stage}. A report keeps the stage's rows of every epoch its range
// holds whole in store.RuleResultsTable, valid as a per-epoch rule's
// findings are (epochcache.go), and the stage is evaluated only over the
// other epochs: {epoch_stage} becomes the kept rows of the whole epochs
// and the stage over the rest.

// epochStageMacro is where a rule's SQL reads its epoch stage.
const epochStageMacro = "{epoch_stage}"

// Query parameters of a rule's kept stage rows.
const (
	stageHashParam = "vakt_stage_hash"
	stageKeptParam = "vakt_stage_kept"
)

// stageColumn is one column of an epoch stage's rows.
type stageColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// stagePlan is how a report reads a rule's epoch stage: the kept rows of
// some whole epochs, the stage over every other.
type stagePlan struct {
	rule    Rule
	hash    uint64
	columns []stageColumn // of the kept rows; nil when none holds a row
	kept    []uint32      // whole epochs with valid kept rows
	fill    []uint32      // whole epochs without: evaluated and kept first
	// live are the time ranges of the other epochs' rows, where the
	// stage is evaluated (each with its own bounds).
	live []Filter
}

// setLive sets the ranges the stage is evaluated over: those of the rows
// in f of every epoch without kept rows.
func (s *stagePlan) setLive(p *epochPlan, f Filter) {
	var live []epochExtent
	for _, e := range p.ext {
		if e.end.After(f.Since) && e.first.Before(f.Until) && !slices.Contains(s.kept, e.epoch) {
			live = append(live, e)
		}
	}
	s.live = coveringRanges(live, f)
}

type stageKey struct{}

func withStage(ctx context.Context, s *stagePlan) context.Context {
	return context.WithValue(ctx, stageKey{}, s)
}

// stageSQL is what the rule's {epoch_stage} reads under ctx: the stage
// itself, or the kept rows of a stage plan's kept epochs and the stage
// over the others.
func (r Rule) stageSQL(ctx context.Context) string {
	s, ok := ctx.Value(stageKey{}).(*stagePlan)
	if !ok || s.rule.Name != r.Name || len(s.kept) == 0 {
		return "(" + r.EpochStage + ")"
	}
	// The stage over each live range, with the range's bounds.
	stage := filterClientTables(r.EpochStage, "epoch NOT IN {"+stageKeptParam+":Array(UInt32)}")
	var lives []string
	for i := range s.live {
		lives = append(lives, "SELECT * FROM ("+strings.NewReplacer("{since:", "{"+stageSinceParam(i)+":", "{until:", "{"+stageUntilParam(i)+":").Replace(stage)+")")
	}
	live := strings.Join(lives, "\nUNION ALL\n")
	switch {
	case s.columns == nil && len(lives) == 0:
		// Nothing kept holds a row, and nothing is live: no row, of a type
		// the stage itself gives.
		return "(SELECT * FROM (" + r.EpochStage + ") WHERE 0)"
	case s.columns == nil:
		return "(" + live + ")"
	}
	types := make([]string, len(s.columns))
	cols := make([]string, len(s.columns))
	site := 0
	for i, c := range s.columns {
		types[i] = c.Type
		cols[i] = fmt.Sprintf("t.%d AS %s", i+1, quoteIdent(c.Name))
		if c.Name == "site" {
			site = i + 1
		}
	}
	kept := "(SELECT " + strings.Join(cols, ", ") + "\nFROM (SELECT arrayJoin(CAST(k, " + quoteString("Array(Tuple("+strings.Join(types, ", ")+"))") + ")) AS t" +
		"\n    FROM (SELECT argMax(kept, evaluated_at) AS k FROM {db}." + store.RuleResultsTable +
		"\n        WHERE rule_hash = {" + stageHashParam + ":UInt64} AND has({" + stageKeptParam + ":Array(UInt32)}, epoch) GROUP BY epoch))" +
		fmt.Sprintf("\nWHERE {site:String} = '' OR t.%d = {site:String}", site)
	if live == "" {
		return kept + ")"
	}
	return kept + "\nUNION ALL\n" + live + ")"
}

func stageSinceParam(i int) string { return fmt.Sprintf("vakt_stage_since_%d", i) }
func stageUntilParam(i int) string { return fmt.Sprintf("vakt_stage_until_%d", i) }

// stageParams are the query parameters stageSQL's text uses.
func stageParams(ctx context.Context, r Rule, p clickhouse.Parameters) {
	if s, ok := ctx.Value(stageKey{}).(*stagePlan); ok && s.rule.Name == r.Name && len(s.kept) > 0 {
		p[stageHashParam] = strconv.FormatUint(s.hash, 10)
		p[stageKeptParam] = numberList(s.kept)
		for i, g := range s.live {
			p[stageSinceParam(i)] = g.Since.UTC().Format(paramTime)
			p[stageUntilParam(i)] = g.Until.UTC().Format(paramTime)
		}
	}
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// stageHash identifies a rule's stage: its query and thresholds.
func stageHash(r Rule) uint64 {
	s := r
	s.SQL = "stage\x00" + r.EpochStage
	return ruleHash(s)
}

// fillStage evaluates the rule's stage over the fill epochs (whose rows
// lie in [since, until)) and keeps its rows, one row of RuleResultsTable
// per epoch, in one INSERT … SELECT; then those epochs count as kept.
func (s *stagePlan) fillStage(ctx context.Context, conn driver.Conn, db string, p *epochPlan) error {
	var since, until time.Time
	fps := make([]string, len(s.fill))
	ends := make([]string, len(s.fill))
	for i, e := range s.fill {
		x := p.ext[e]
		if since.IsZero() || x.first.Before(since) {
			since = x.first
		}
		until = maxTime(until, x.end)
		fps[i] = strconv.FormatUint(p.fp[e], 10)
		ends[i] = "'" + x.end.UTC().Format(time.DateTime) + "'"
	}
	f := Filter{Since: since, Until: until}
	params := f.params()
	for k, v := range s.rule.Thresholds {
		params[k] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	params["vakt_fill"] = numberList(s.fill)
	stage, err := expand(ctx, filterClientTables(s.rule.EpochStage, "epoch IN {vakt_fill:Array(UInt32)}"), db)
	if err != nil {
		return err
	}
	qctx := clickhouse.Context(withParams(ctx, params), clickhouse.WithSettings(clickhouse.Settings{"enable_materialized_cte": 1}))
	columns, err := describe(qctx, conn, stage)
	if err != nil {
		return err
	}
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = quoteIdent(c.Name)
	}
	if !slices.Contains(names, "`site`") || !slices.Contains(names, "`epoch`") {
		return fmt.Errorf("rule %s: epoch_stage returns no site or no epoch column", s.rule.Name)
	}
	structure, err := json.Marshal(columns)
	if err != nil {
		return err
	}
	params["vakt_fps"] = "[" + strings.Join(fps, ",") + "]"
	params["vakt_ends"] = "[" + strings.Join(ends, ",") + "]"
	params["vakt_rule"] = s.rule.Name
	params["vakt_hash"] = strconv.FormatUint(s.hash, 10)
	params["vakt_structure"] = string(structure)
	insert := "INSERT INTO `" + db + "`." + store.RuleResultsTable +
		" (rule, rule_hash, epoch, fingerprint, end_ts, evaluated_at, kept, structure) SETTINGS async_insert = 0\n" +
		"SELECT {vakt_rule:String}, {vakt_hash:UInt64}, e, transform(e, {vakt_fill:Array(UInt32)}, {vakt_fps:Array(UInt64)}, toUInt64(0)),\n" +
		"    transform(e, {vakt_fill:Array(UInt32)}, {vakt_ends:Array(DateTime('UTC'))}, toDateTime(0, 'UTC')), now64(3),\n" +
		"    toString(rows), if(empty(rows), '', {vakt_structure:String})\n" +
		"FROM (SELECT arrayJoin({vakt_fill:Array(UInt32)}) AS e) AS f\n" +
		"LEFT JOIN (SELECT epoch AS e, groupArray(tuple(" + strings.Join(names, ", ") + ")) AS rows FROM (" + stage + ") GROUP BY epoch) AS s USING (e)"
	if err := conn.Exec(clickhouse.Context(qctx, clickhouse.WithParameters(params)), insert); err != nil {
		return fmt.Errorf("rule %s: keep the epoch stage: %w", s.rule.Name, chError(err))
	}
	s.kept = append(s.kept, s.fill...)
	if s.columns == nil {
		s.columns = columns
	}
	return nil
}

// describe returns the columns of query.
func describe(ctx context.Context, conn driver.Conn, query string) ([]stageColumn, error) {
	rows, err := conn.Query(ctx, "DESCRIBE TABLE ("+query+")")
	if err != nil {
		return nil, chError(err)
	}
	defer rows.Close()
	var out []stageColumn
	// name and type first; how many columns follow is the engine's
	dest := make([]any, len(rows.Columns()))
	for i := range dest {
		dest[i] = new(string)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, stageColumn{Name: *dest[0].(*string), Type: *dest[1].(*string)})
	}
	if len(out) == 0 {
		return nil, errors.New("the epoch stage returns no column")
	}
	return out, rows.Err()
}
