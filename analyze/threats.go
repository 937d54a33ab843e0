package analyze

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/analyze/rules/signatures"
)

// Columns every rule query returns; every other column is evidence and
// must be numeric.
var (
	requiredColumns = []string{"site", "id", "requests", "first_seen", "last_seen"}
	optionalColumns = []string{"epoch", "country", "asn", "signatures"}
)

// materializedCTE finds a CTE the query asks the engine to compute once
// (WITH name AS MATERIALIZED (...)), which needs enable_materialized_cte.
var materializedCTE = regexp.MustCompile(`(?i)\bAS\s+MATERIALIZED\b`)

// RuleParallelism is how many rules ThreatReport evaluates at once: the
// rollup-first rules are short queries, each mostly waiting on one thread
// of the engine, so a few at a time keep the cores busy.
const RuleParallelism = 3

// ThreatReport runs rules over f and returns their offenders, ordered by
// severity (highest first), then requests. When some rules fail, it returns
// the offenders of the others and an error naming each failed rule.
func ThreatReport(ctx context.Context, conn driver.Conn, db string, rules []Rule, f Filter) (*Threats, error) {
	return threatReport(ctx, conn, db, rules, f, nil)
}

// threatReport is ThreatReport with, when ruleCtx is set, the context each
// rule runs with (a client report's bounds: within.go).
func threatReport(ctx context.Context, conn driver.Conn, db string, rules []Rule, f Filter, ruleCtx func(Rule) context.Context) (*Threats, error) {
	now := time.Now()
	f = f.Resolve(now)
	if err := f.check(); err != nil {
		return nil, err
	}
	t := &Threats{Filter: f, Offenders: []Offender{}, Took: make([]RuleTime, len(rules))}
	found := make([][]Offender, len(rules))
	errs := make([]error, len(rules))
	took := make([]time.Duration, len(rules))
	// The per-epoch rules from the findings kept of the epochs f holds
	// whole, when it holds any (epochcache.go); not the rules whose rows
	// are bounded (a client's page) or already of some epochs.
	var plan *epochPlan
	var planned []int
	_, within := withinOf(ctx)
	_, epochs := epochsOf(ctx)
	var staged []int
	if !within && !epochs {
		for i, r := range rules {
			switch {
			case ruleCtx != nil && ruleCtx(r) != ctx:
				// bounded to a client page's offenders
			case r.PerEpoch:
				planned = append(planned, i)
			case r.EpochStage != "":
				staged = append(staged, i)
			}
		}
		if len(planned)+len(staged) > 0 {
			plan, t.Epochs.PlanErr = planEpochs(ctx, conn, db, pick(rules, planned), pick(rules, staged), f, now)
		}
		if plan == nil {
			planned, staged = nil, nil
		}
	}
	var rest []int
	for i := range rules {
		if !slices.Contains(planned, i) && !slices.Contains(staged, i) {
			rest = append(rest, i)
		}
	}
	tasks := ruleTasks(ctx, conn, db, pick(rules, rest), f, ruleCtx, scatter(rest, found, errs, took))
	var stageMu sync.Mutex
	for j, i := range staged {
		s := plan.stages[j]
		tasks = append(tasks, func() error {
			start, kept := time.Now(), len(s.kept)
			if len(s.fill) > 0 {
				err := s.fillStage(ctx, conn, db, plan)
				stageMu.Lock()
				if err != nil {
					t.Epochs.KeepErr = errors.Join(t.Epochs.KeepErr, err)
				} else {
					t.Epochs.StageEvaluated += len(s.fill)
				}
				stageMu.Unlock()
			}
			stageMu.Lock()
			t.Epochs.StageKept += kept
			stageMu.Unlock()
			s.setLive(plan, f)
			found[i], errs[i] = rules[i].Offenders(withStage(ctx, s), conn, db, f)
			took[i] = time.Since(start)
			return errs[i]
		})
	}
	type rangeResult struct {
		found [][]Offender
		errs  []error
	}
	var fills, lives []rangeResult
	var tookMu sync.Mutex // a rule's ranges run at once
	var decodeErr error
	decoded := make(chan struct{})
	others := len(tasks)
	if plan != nil {
		// The kept findings are decoded here while the engine works.
		go func() { decodeErr = plan.decodeKept(); close(decoded) }()
		sub := plan.rules
		add := func(list *[]rangeResult, sel epochSelection, g Filter) {
			r := rangeResult{make([][]Offender, len(sub)), make([]error, len(sub))}
			*list = append(*list, r)
			tasks = append(tasks, ruleTasks(withEpochs(ctx, sel), conn, db, sub, g, nil, func(j int, o []Offender, err error, d time.Duration) {
				r.found[j], r.errs[j] = o, err
				tookMu.Lock()
				took[planned[j]] += d
				tookMu.Unlock()
			})...)
		}
		for _, g := range plan.fillRanges {
			g.Site = "" // every site's, kept for every report
			add(&fills, epochSelection{epochs: plan.fill}, g)
		}
		for _, g := range plan.liveRanges {
			add(&lives, epochSelection{exclude: true, epochs: plan.whole}, g)
		}
	}
	// The per-epoch rules' ranges first: each range's tasks start with the
	// signal rules' one query, the report's longest (24 h of 1 M requests
	// a day: ~190 of ~500 ms of engine time). Started after the others, it
	// set the report's end: 24 h medians 513 -> 472 ms, alternating runs.
	tasks = slices.Concat(tasks[others:], tasks[:others])
	_ = runAtOnce(RuleParallelism, tasks...) // errs holds each rule's
	if ctx.Err() != nil {
		return t, ctx.Err()
	}
	if plan != nil {
		<-decoded
		filled := make([][]Offender, len(plan.rules))
		fillOK := true
		for j, i := range planned {
			var live []Offender
			for _, r := range fills {
				filled[j] = append(filled[j], r.found[j]...)
				errs[i] = errors.Join(errs[i], r.errs[j])
				fillOK = fillOK && r.errs[j] == nil
			}
			for _, r := range lives {
				live = append(live, r.found[j]...)
				errs[i] = errors.Join(errs[i], r.errs[j])
			}
			found[i] = plan.offenders(j, f, filled[j], live)
			errs[i] = errors.Join(errs[i], decodeErr)
		}
		t.Epochs.Kept, t.Epochs.Evaluated = len(plan.keptText), len(plan.fill)
		if fillOK && len(plan.fill) > 0 {
			t.Epochs.KeepErr = errors.Join(t.Epochs.KeepErr, plan.keep(ctx, conn, db, filled))
		}
	}
	for i, r := range rules {
		t.Took[i] = RuleTime{Rule: r.Name, Took: took[i]}
		if errs[i] == nil {
			t.Offenders = append(t.Offenders, found[i]...)
		}
	}
	SortOffenders(t.Offenders)
	return t, errors.Join(errs...)
}

// pick is the rules at indices.
func pick(rules []Rule, indices []int) []Rule {
	out := make([]Rule, len(indices))
	for j, i := range indices {
		out[j] = rules[i]
	}
	return out
}

// scatter returns a ruleTasks sink that stores the findings of rule j of
// a subset at its index in the report's rules.
func scatter(indices []int, found [][]Offender, errs []error, took []time.Duration) func(int, []Offender, error, time.Duration) {
	return func(j int, o []Offender, err error, d time.Duration) {
		i := indices[j]
		found[i], errs[i] = o, err
		took[i] += d
	}
}

// ruleTasks are the queries that evaluate rules over f: the signal rules
// of one scope and bound alike in one query, every other rule in one of
// its own. Each task hands each of its rules' findings to sink, with the
// rule's index in rules; ruleCtx, when set, is the context each rule runs
// with.
func ruleTasks(ctx context.Context, conn driver.Conn, db string, rules []Rule, f Filter, ruleCtx func(Rule) context.Context,
	sink func(j int, o []Offender, err error, took time.Duration)) []func() error {
	var evaluate []func() error
	contextOf := func(r Rule) context.Context {
		if ruleCtx != nil {
			return ruleCtx(r)
		}
		return ctx
	}
	var signal []int
	for i, r := range rules {
		if r.Signals != nil && (len(signal) == 0 || r.PerOffender == rules[signal[0]].PerOffender) {
			signal = append(signal, i)
		}
	}
	if len(signal) < 2 {
		signal = nil
	} else {
		evaluate = append(evaluate, func() error {
			start := time.Now()
			group := pick(rules, signal)
			rctx := contextOf(group[0])
			byRule, err := signalOffenders(rctx, conn, db, group, f)
			for j, i := range signal {
				o, rerr := byRule[j], err
				if err != nil && ctx.Err() == nil {
					// One rule's mistake (a rules.dir file) must not
					// silence the others: each on its own names it.
					o, rerr = rules[i].Offenders(rctx, conn, db, f)
				}
				sink(i, o, rerr, time.Since(start))
			}
			return err
		})
	}
	for i, r := range rules {
		if slices.Contains(signal, i) {
			continue
		}
		rctx := contextOf(r)
		evaluate = append(evaluate, func() error {
			start := time.Now()
			o, err := r.Offenders(rctx, conn, db, f)
			sink(i, o, err, time.Since(start))
			return err
		})
	}
	return evaluate
}

// SortOffenders orders offenders by severity (highest first), then
// requests (most first), then rule, site and id.
func SortOffenders(o []Offender) {
	sortStableBy(o, func(a, b *Offender) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(b.Requests, a.Requests),
			strings.Compare(a.Rule, b.Rule), strings.Compare(a.Site, b.Site), strings.Compare(a.ID, b.ID))
	})
}

// sortStableBy sorts s stably by cmp through a permutation of indices: a
// stable sort moves elements O(n log² n) times, and an Offender is ~200
// bytes (16,000 findings over 30 days: 44 ms of copying).
func sortStableBy[T any](s []T, cmp func(a, b *T) int) {
	idx := make([]int32, len(s))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(i, j int32) int { return cmp(&s[i], &s[j]) })
	sorted := make([]T, len(s))
	for i, k := range idx {
		sorted[i] = s[k]
	}
	copy(s, sorted)
}

// Offenders runs the rule over f (which should be resolved; see
// Filter.Resolve) and returns what it caught.
func (r Rule) Offenders(ctx context.Context, conn driver.Conn, db string, f Filter) ([]Offender, error) {
	f = f.Resolve(time.Now())
	sql := r.SQL
	if r.EpochStage != "" {
		sql = strings.ReplaceAll(sql, epochStageMacro, r.stageSQL(ctx))
	}
	query, err := expand(ctx, sql, db)
	if err != nil {
		return nil, err
	}
	p := f.params()
	for k, v := range r.Thresholds {
		p[k] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	stageParams(ctx, r, p)
	qctx := withParams(ctx, p)
	if materializedCTE.MatchString(query) {
		// Computed once rather than once per reference; a server
		// without materialized CTEs says so by the setting's name.
		qctx = clickhouse.Context(qctx, clickhouse.WithSettings(clickhouse.Settings{"enable_materialized_cte": 1}))
	}
	var out []Offender
	err = scanOffenders(qctx, conn, query, func(columns map[string]reflect.Value) (string, error) {
		// Over HTTP an empty result carries no columns: check them with
		// the first row.
		if out == nil {
			for _, c := range requiredColumns {
				if _, ok := columns[c]; !ok {
					return "", fmt.Errorf("the query returns no column %q (it must return %v, and may return %v and numeric evidence)", c, requiredColumns, optionalColumns)
				}
			}
		}
		o, column, err := r.offender(columns)
		out = append(out, o)
		return column, err
	})
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	return out, nil
}

// offender is one result row of the rule: the known columns, and every
// other as numeric evidence. It returns the column an error is about.
func (r Rule) offender(columns map[string]reflect.Value) (Offender, string, error) {
	o := Offender{Rule: r.Name, Category: r.Category, Scope: r.Scope, Severity: r.Severity, Evidence: map[string]float64{}}
	for name, v := range columns {
		var err error
		switch name {
		case "signatures":
			o.Signatures, err = r.describeSignatures(v)
		case "evidence":
			if m, ok := v.Interface().(map[string]float64); ok {
				maps.Copy(o.Evidence, m)
			} else {
				err = errors.New("want a Map(String, Float64)")
			}
		default:
			err = o.set(name, v)
		}
		if err != nil {
			return o, name, err
		}
	}
	return o, "", nil
}

// scanOffenders runs query and calls row with each result row's columns by
// name (pointers followed, NULL left a nil pointer); row returns the column
// its error is about.
func scanOffenders(ctx context.Context, conn driver.Conn, query string, row func(map[string]reflect.Value) (string, error)) error {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return chError(err)
	}
	defer rows.Close()
	names := rows.Columns()
	types := rows.ColumnTypes()
	dest := make([]any, len(types))
	for i, ct := range types {
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	columns := make(map[string]reflect.Value, len(names))
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return chError(err)
		}
		for i, name := range names {
			v := reflect.ValueOf(dest[i]).Elem()
			for v.Kind() == reflect.Pointer && !v.IsNil() {
				v = v.Elem()
			}
			columns[name] = v
		}
		if column, err := row(columns); err != nil {
			if i := slices.Index(names, column); i >= 0 {
				return fmt.Errorf("column %s (%s): %w", column, types[i].DatabaseTypeName(), err)
			}
			return err
		}
	}
	return chError(rows.Err())
}

// signalOffenders evaluates signal rules (Rule.Signals) in one query
// (signalRulesQuery) and returns each rule's offenders.
func signalOffenders(ctx context.Context, conn driver.Conn, db string, rules []Rule, f Filter) ([][]Offender, error) {
	out := make([][]Offender, len(rules))
	q, thresholds, err := signalRulesQuery(rules)
	if err != nil {
		return out, err
	}
	if q, err = expand(ctx, q, db); err != nil {
		return out, err
	}
	p := f.Resolve(time.Now()).params()
	maps.Copy(p, thresholds)
	qctx := clickhouse.Context(withParams(ctx, p), clickhouse.WithSettings(clickhouse.Settings{"enable_materialized_cte": 1}))
	err = scanOffenders(qctx, conn, q, func(columns map[string]reflect.Value) (string, error) {
		i, ok := columns["rule"]
		if !ok || !i.CanUint() || i.Uint() >= uint64(len(rules)) {
			return "rule", errors.New("not a rule's index")
		}
		r := rules[i.Uint()]
		delete(columns, "rule")
		o, column, err := r.offender(columns)
		out[i.Uint()] = append(out[i.Uint()], o)
		return column, err
	})
	if err != nil {
		names := make([]string, len(rules))
		for i, r := range rules {
			names[i] = r.Name
		}
		return out, fmt.Errorf("rules %s (evaluated together): %w", strings.Join(names, ", "), err)
	}
	return out, nil
}

// describeSignatures names the signature ids of a "signatures" column
// (Array(String)) with their CVEs.
func (r Rule) describeSignatures(v reflect.Value) ([]string, error) {
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.String {
		return nil, errors.New("signatures must be an Array(String) of signature ids")
	}
	set := r.signatures
	if set == nil {
		set = signatures.Builtin()
	}
	out := make([]string, 0, v.Len())
	for i := range v.Len() {
		id := v.Index(i).String()
		if id == "" {
			continue
		}
		if s, ok := set.Lookup(id); ok && s.CVE != "" {
			id += " (" + s.CVE + ")"
		}
		out = append(out, id)
	}
	return out, nil
}

// set sets the field of a result column: the known ones, and any other as
// numeric evidence.
func (o *Offender) set(name string, v reflect.Value) error {
	var err error
	switch name {
	case "site":
		o.Site, err = asString(v)
	case "id":
		o.ID, err = asString(v)
	case "country":
		o.Country, err = asString(v)
	case "first_seen":
		o.FirstSeen, err = asTime(v)
	case "last_seen":
		o.LastSeen, err = asTime(v)
	case "requests", "epoch", "asn":
		var x float64
		if x, err = asNumber(v); err == nil {
			switch name {
			case "requests":
				o.Requests = uint64(x)
			case "epoch":
				o.Epoch = uint32(x)
			default:
				o.ASN = uint32(x)
			}
		}
	default:
		var x float64
		if x, err = asNumber(v); err == nil {
			o.Evidence[name] = x
		}
	}
	return err
}

func asString(v reflect.Value) (string, error) {
	switch v.Kind() {
	case reflect.String:
		return v.String(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), nil
	case reflect.Pointer:
		return "", nil // NULL
	}
	return "", errors.New("want a String or an integer")
}

func asTime(v reflect.Value) (time.Time, error) {
	if t, ok := v.Interface().(time.Time); ok {
		return t.UTC(), nil
	}
	if v.Kind() == reflect.Pointer {
		return time.Time{}, nil
	}
	return time.Time{}, errors.New("want a DateTime or DateTime64")
}

func asNumber(v reflect.Value) (float64, error) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint()), nil
	case reflect.Float32:
		return f32(float32(v.Float())), nil
	case reflect.Float64:
		return v.Float(), nil
	case reflect.Bool:
		if v.Bool() {
			return 1, nil
		}
		return 0, nil
	case reflect.Pointer:
		return math.NaN(), nil // NULL
	}
	return 0, errors.New("evidence must be numeric: return a count, a ratio or another number")
}
