package analyze

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/vakt-dev/vakt/store"
)

// A signal rule is a client rule written as data rather than as a query:
// which of a client's signal requests ({db}.signal_requests) count, the
// aggregates of them that are its evidence, and thresholds on those.
// vakt writes the query (SignalRule.query), and evaluates every signal rule
// of a report in one pass over the signal requests with one look-up of the
// offenders' totals (signalRulesQuery), where each rule written as SQL is
// a pass and a look-up of its own: over 30 days of 30 M requests the
// eleven built-in signal rules took 0.2-0.5 s each.
type SignalRule struct {
	// Where selects the rule's rows of the signal requests.
	Where string
	// Evidence are the aggregates over those rows, per client and epoch,
	// each one aggregate function call (count(), uniqExact(path),
	// countIf(status >= 500), groupUniqArray(16)(x) ...).
	Evidence []NamedExpr
	// Signatures, optional, is an aggregate of signature ids
	// (Array(String)), sorted into the "signatures" column.
	Signatures string
	// Having filters the clients on the evidence, before the totals.
	Having string
	// Derived are columns computed from the evidence and the client's
	// totals (requests, non_redirects), and Filter a condition on all of
	// them: both after the totals.
	Derived []NamedExpr
	Filter  string
	// MinRows is how many of the rule's rows a client needs at least for
	// its having to hold (an SQL expression, "1" by default, may use
	// thresholds): a necessary condition that spares the one pass the
	// evidence of clients no rule can report.
	MinRows string
}

// NamedExpr is one column of a signal rule: its name and expression.
type NamedExpr struct {
	Name, Expr string
}

// signalRuleFile is the YAML form of SignalRule: the lists are of
// one-entry mappings, `- name: expression`, so that their order is kept.
type signalRuleFile struct {
	Where      string              `yaml:"where"`
	Evidence   []map[string]string `yaml:"evidence"`
	Signatures string              `yaml:"signatures"`
	Having     string              `yaml:"having"`
	Derived    []map[string]string `yaml:"derived"`
	Filter     string              `yaml:"filter"`
	MinRows    string              `yaml:"min_rows"`
}

// reservedColumns are the names a signal rule's columns may not take:
// those of the offender, of the signal requests' key and of the totals.
var reservedColumns = []string{"site", "id", "epoch", "client_id", "network_id", "requests", "non_redirects", "clients",
	"first_seen", "last_seen", "country", "asn", "signatures", "rule", "evidence"}

func (f *signalRuleFile) resolve() (*SignalRule, error) {
	var errs []error
	named := func(key string, l []map[string]string) []NamedExpr {
		var out []NamedExpr
		for i, m := range l {
			if len(m) != 1 {
				errs = append(errs, fmt.Errorf("signals.%s[%d]: write one `name: expression` per entry", key, i))
				continue
			}
			for n, e := range m {
				out = append(out, NamedExpr{n, strings.TrimSpace(e)})
			}
		}
		return out
	}
	s := &SignalRule{
		Where: strings.TrimSpace(f.Where), Evidence: named("evidence", f.Evidence), Signatures: strings.TrimSpace(f.Signatures),
		Having: strings.TrimSpace(f.Having), Derived: named("derived", f.Derived), Filter: strings.TrimSpace(f.Filter),
		MinRows: strings.TrimSpace(f.MinRows),
	}
	if s.MinRows == "" {
		s.MinRows = "1"
	}
	return s, errors.Join(append(errs, s.validate())...)
}

// validate checks the parts a query is built from: the query itself is
// checked as every rule's is (Rule.Validate).
func (s *SignalRule) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Where == "" {
		bad("signals.where is empty: say which signal requests count, e.g. bitAnd(flags, 1) != 0")
	}
	if len(s.Evidence) == 0 {
		bad("signals.evidence is empty: name at least one aggregate, e.g. `- hits: count()`")
	}
	seen := map[string]bool{}
	for _, e := range append(slices.Clone(s.Evidence), s.Derived...) {
		switch {
		case !identRE.MatchString(e.Name):
			bad("signals: column %q: use a lower-case identifier", e.Name)
		case slices.Contains(reservedColumns, e.Name):
			bad("signals: column %q: the name is reserved (%s)", e.Name, strings.Join(reservedColumns, ", "))
		case seen[e.Name]:
			bad("signals: column %q is named twice", e.Name)
		case e.Expr == "":
			bad("signals: column %q has no expression", e.Name)
		}
		seen[e.Name] = true
	}
	for _, e := range s.Evidence {
		if _, err := aggregateIf(e.Expr, "1"); err != nil {
			bad("signals.evidence %s: %v", e.Name, err)
		}
	}
	if s.Signatures != "" {
		if _, err := aggregateIf(s.Signatures, "1"); err != nil {
			bad("signals.signatures: %v", err)
		}
	}
	return errors.Join(errs...)
}

// query is the rule's query on its own: for the alert loop (each rule over
// its own window), a report of this rule alone, and a report whose one
// query failed.
func (s *SignalRule) query() string {
	var b strings.Builder
	b.WriteString("WITH\n    hits AS MATERIALIZED\n    (\n        SELECT site, epoch, client_id")
	for _, e := range s.Evidence {
		fmt.Fprintf(&b, ",\n               %s AS %s", e.Expr, e.Name)
	}
	if s.Signatures != "" {
		fmt.Fprintf(&b, ",\n               arraySort(%s) AS signatures", s.Signatures)
	}
	b.WriteString(",\n               any(country) AS country, any(asn) AS asn\n        FROM {db}." + store.SignalRowsTable)
	b.WriteString("\n        WHERE " + where + "\n          AND (" + s.Where + ")\n        GROUP BY site, epoch, client_id")
	b.WriteString("\n        HAVING count() >= " + s.MinRows)
	if s.Having != "" {
		b.WriteString(" AND (" + s.Having + ")")
	}
	b.WriteString("\n    ),\n    totals AS ({client_totals})\nSELECT site, toString(client_id) AS id, epoch, requests")
	for _, e := range s.Evidence {
		b.WriteString(", " + e.Name)
	}
	for _, e := range s.Derived {
		fmt.Fprintf(&b, ", %s AS %s", e.Expr, e.Name)
	}
	if s.Signatures != "" {
		b.WriteString(", signatures")
	}
	b.WriteString(", first_seen, last_seen, country, asn\nFROM hits INNER JOIN totals USING (site, epoch, client_id)")
	if s.Filter != "" {
		b.WriteString("\nWHERE " + s.Filter)
	}
	return b.String()
}

// signalRulesQuery evaluates rules (each with Signals) in one query: one
// pass over the signal requests computes every rule's evidence per client
// (each aggregate restricted to its rule's rows) and unfolds a row per
// rule whose thresholds the client meets; the totals are looked up once for
// all of them. Each rule's thresholds become parameters r<i>_<name>. It
// returns one row per rule and offender: rule (the index in rules), the
// offender's columns and its evidence as a Map(String, Float64).
//
// A rule's having, derived and filter expressions name its evidence: each
// is evaluated in a lambda whose parameters bind those names to the
// rule's columns (arrayMap((a, b) -> expr, [r0_a], [r0_b])[1]), since
// ClickHouse has no other way to scope names within one SELECT. (A
// materialized CTE per rule, read from a materialized one, failed in the
// engine: "Reading from materialized CTE before its materialization
// completed".)
func signalRulesQuery(rules []Rule) (string, map[string]string, error) {
	params := map[string]string{}
	var pass strings.Builder
	var conds, enough, unfold []string
	evidence := "evidence"
	var filters []string
	for i, r := range rules {
		s := r.Signals
		p := fmt.Sprintf("r%d_", i)
		for k, v := range r.Thresholds {
			params[p+k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
		rename := func(expr string) string {
			return paramRE.ReplaceAllStringFunc(expr, func(m string) string {
				name := paramRE.FindStringSubmatch(m)[1]
				if _, ok := r.Thresholds[name]; ok {
					return "{" + p + m[1:]
				}
				return m
			})
		}
		// The rule's condition, computed once per row as a column
		// (rows, below), which its aggregates take as their If.
		conds = append(conds, fmt.Sprintf("(%s) AS %smatch", rename(s.Where), p))
		where := p + "match"
		enough = append(enough, fmt.Sprintf("countIf(%s) >= %s", where, rename(s.MinRows)))
		fmt.Fprintf(&pass, ",\n               countIf(%s) AS %srows", where, p)
		var names, columns, entries []string
		for _, e := range s.Evidence {
			agg, err := aggregateIf(rename(e.Expr), where)
			if err != nil {
				return "", nil, fmt.Errorf("rule %s: %w", r.Name, err)
			}
			fmt.Fprintf(&pass, ",\n               %s AS %s%s", agg, p, e.Name)
			names = append(names, e.Name)
			columns = append(columns, p+e.Name)
			entries = append(entries, fmt.Sprintf("'%s', toFloat64(%s%s)", e.Name, p, e.Name))
		}
		sigs := "CAST([], 'Array(String)')"
		if s.Signatures != "" {
			agg, err := aggregateIf(rename(s.Signatures), where)
			if err != nil {
				return "", nil, fmt.Errorf("rule %s: %w", r.Name, err)
			}
			fmt.Fprintf(&pass, ",\n               arraySort(%s) AS %ssignatures", agg, p)
			sigs = p + "signatures"
		}
		having := "true"
		if s.Having != "" {
			having = bind(names, columns, rename(s.Having))
		}
		unfold = append(unfold, fmt.Sprintf("(toUInt16(%d), %srows >= %s AND toBool(%s), %s, map(%s))", i, p, rename(s.MinRows), having, sigs, strings.Join(entries, ", ")))
		// After the totals: the derived columns from the evidence (as
		// Float64), then the filter on both.
		if len(s.Derived) > 0 || s.Filter != "" {
			var dnames, dcolumns, dentries []string
			for _, n := range names {
				dnames = append(dnames, n)
				dcolumns = append(dcolumns, "evidence['"+n+"']")
			}
			for _, d := range s.Derived {
				v := bind(dnames, dcolumns, rename(d.Expr))
				dentries = append(dentries, fmt.Sprintf("'%s', toFloat64(%s)", d.Name, v))
				dnames = append(dnames, d.Name)
				dcolumns = append(dcolumns, "toFloat64("+v+")")
			}
			if len(dentries) > 0 {
				evidence = fmt.Sprintf("if(rule = %d, mapUpdate(evidence, map(%s)), %s)", i, strings.Join(dentries, ", "), evidence)
			}
			if s.Filter != "" {
				filters = append(filters, fmt.Sprintf("(rule != %d OR %s)", i, bind(dnames, dcolumns, rename(s.Filter))))
			}
		}
	}
	// Each rule's condition is a column of the rows, computed once: as
	// the filter and again in the aggregates, the engine evaluated each
	// regular expression twice per row (over 30 days of 30 M requests the
	// count of every client's rows took 0.9 CPU-s, 0.5 of it matching).
	var matches []string
	for i := range rules {
		matches = append(matches, fmt.Sprintf("r%d_match", i))
	}
	rows := `FROM
            (
                SELECT *, ` + strings.Join(conds, ", ") + `
                FROM {db}.` + store.SignalRowsTable + `
                WHERE ` + where + `
            )
            WHERE (` + strings.Join(matches, " OR ") + ")"
	// candidates: the clients with enough rows for some rule, counted
	// first; the evidence (distinct counts: a hash set per client and
	// rule) only for them. Over every client with a signal request the
	// evidence took 2 GB for the built-in rules over 30 days of 30 M
	// requests. Counted by client id alone (a client of several sites or
	// epochs counts their rows together: a superset of the candidates,
	// each of which is then judged on its own rows): a map of UInt64 keys
	// is a third faster than one of (site, epoch, client_id). The totals
	// are those of the candidates too: the engine analyses a CTE again at
	// each reference, and reading the offenders a second time for the
	// totals made the query's analysis alone take as long as a day's rows
	// (24 h of 1 M requests: 0.23 -> 0.18 s, 0.13 -> 0.10 s over no rows).
	q := `WITH
    candidates AS MATERIALIZED
    (
        SELECT client_id
        ` + rows + `
        GROUP BY client_id
        HAVING ` + strings.Join(enough, " OR ") + `
    ),
    offenders AS MATERIALIZED
    (
        SELECT site, epoch, client_id, country, asn, o.1 AS rule, o.3 AS signatures, o.4 AS evidence
        FROM
        (
            SELECT site, epoch, client_id, any(country) AS country, any(asn) AS asn` + pass.String() + `
            ` + rows + `
              AND identity(client_id) IN (SELECT client_id FROM candidates)
            GROUP BY site, epoch, client_id
        )
        ARRAY JOIN arrayFilter(o -> o.2, [` + strings.Join(unfold, ",\n            ") + `]) AS o
    ),
    hits AS (SELECT client_id FROM candidates),
    totals AS ({client_totals})
SELECT rule, site, toString(client_id) AS id, epoch, requests, first_seen, last_seen, country, asn, signatures,
       ` + evidence + ` AS evidence
FROM offenders INNER JOIN totals USING (site, epoch, client_id)`
	if len(filters) > 0 {
		q += "\nWHERE " + strings.Join(filters, " AND ")
	}
	return q, params, nil
}

// bind is expr with names bound to values, each of which is a column or
// an expression of one row: a lambda applied once.
func bind(names, values []string, expr string) string {
	if len(names) == 0 {
		return "(" + expr + ")"
	}
	arrays := make([]string, len(values))
	for i, v := range values {
		arrays[i] = "[" + v + "]"
	}
	return fmt.Sprintf("arrayMap((%s) -> (%s), %s)[1]", strings.Join(names, ", "), expr, strings.Join(arrays, ", "))
}

// aggregateRE is the head of an aggregate function call: its name and, for
// a parametric one, its parameters (groupUniqArray(16)(x)).
var aggregateRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s*\(`)

// aggregateIf restricts one aggregate function call to the rows where cond
// holds, with ClickHouse's If combinator: count() -> countIf(cond),
// uniqExact(x) -> uniqExactIf(x, cond), countIf(c) -> countIf((c) AND
// cond), groupUniqArray(16)(x) -> groupUniqArrayIf(16)(x, cond). Written by
// hand: the rule's expression must be a single call, which is all this
// needs to know of its syntax.
func aggregateIf(expr, cond string) (string, error) {
	expr = strings.TrimSpace(expr)
	m := aggregateRE.FindStringSubmatch(expr)
	if m == nil {
		return "", fmt.Errorf("%q: write one aggregate function call, such as count() or uniqExact(path)", expr)
	}
	name := m[1]
	rest := expr[len(m[0])-1:]
	first, after, err := splitParens(rest)
	if err != nil {
		return "", fmt.Errorf("%q: %w", expr, err)
	}
	params, args := "", first
	if strings.HasPrefix(strings.TrimSpace(after), "(") {
		// parametric: name(params)(args)
		params = first
		if args, after, err = splitParens(strings.TrimSpace(after)); err != nil {
			return "", fmt.Errorf("%q: %w", expr, err)
		}
	}
	if strings.TrimSpace(after) != "" {
		return "", fmt.Errorf("%q: write one aggregate function call, with nothing after it", expr)
	}
	if strings.HasSuffix(name, "If") {
		// the condition is the last argument
		cut := lastTopLevelComma(args)
		args = args[:cut+1] + " (" + strings.TrimSpace(args[cut+1:]) + ") AND " + cond
	} else {
		name += "If"
		if strings.TrimSpace(args) == "" {
			args = cond
		} else {
			args += ", " + cond
		}
	}
	if params != "" {
		return name + "(" + params + ")(" + args + ")", nil
	}
	return name + "(" + args + ")", nil
}

// splitParens takes s, starting with "(", apart at its matching ")": the
// text inside and the text after. Quoted strings may hold parentheses.
func splitParens(s string) (inside, after string, err error) {
	depth, end := 0, -1
	outsideQuotes(s, func(i int, c byte) bool {
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				end = i
				return false
			}
		}
		return true
	})
	if end < 0 {
		return "", "", errors.New("unbalanced parentheses or quotes")
	}
	return s[1:end], s[end+1:], nil
}

// lastTopLevelComma is the index of the last comma of args outside
// parentheses, brackets and quotes, or -1.
func lastTopLevelComma(args string) int {
	depth, last := 0, -1
	outsideQuotes(args, func(i int, c byte) bool {
		switch c {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case ',':
			if depth == 0 {
				last = i
			}
		}
		return true
	})
	return last
}

// outsideQuotes calls visit with each byte of s outside quoted strings
// ('...', "..." and `...`, with backslash escapes) until it returns false.
func outsideQuotes(s string, visit func(i int, c byte) bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case !visit(i, c):
			return
		}
	}
}
