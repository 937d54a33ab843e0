package analyze

import (
	"embed"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vakt-dev/vakt/analyze/rules/signatures"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/configkit"
)

// builtinRules holds the built-in rule files, one YAML file per rule,
// documented in rules/README.md; a rules directory in the configuration
// (rules.dir) adds rules and overrides built-ins of the same name.
//
//go:embed rules/*.yaml
var builtinRules embed.FS

// Scopes of a rule: what its offender id is.
const (
	ScopeClient  = "client"  // client_id (per salt epoch)
	ScopeNetwork = "network" // network_id: the /24 or /48 (per salt epoch)
	ScopeASN     = "asn"     // autonomous system number
	// ScopeCampaign: many clients sharing a probe pattern; the id names
	// the pattern (e.g. user_agent=(none)).
	ScopeCampaign = "campaign"
)

// Rule is one detection: a ClickHouse query over {db}.requests that
// returns offenders, with its thresholds. Rules are data: see
// rules/README.md for the file format and the columns a query returns.
type Rule struct {
	Name        string
	Category    string
	Scope       string // ScopeClient, ScopeNetwork or ScopeASN
	Severity    int    // 1 (informational) to 5 (critical)
	Description string
	// Window is how far back the alert loop looks each time it evaluates
	// the rule (a report uses its own range).
	Window time.Duration
	// Thresholds are passed to the query as server-side parameters: a
	// threshold t is {t:Type} in the SQL.
	Thresholds map[string]float64
	SQL        string
	// Signals, when set, is the rule as data (signalrules.go): SQL is then
	// the query vakt wrote for it, and a report evaluates it with the other
	// signal rules in one pass.
	Signals *SignalRule
	// PerOffender says that an offender's finding depends on its own rows
	// alone (a client's requests, or those of a network's or an AS's
	// clients: no baseline over others, no grouping across offenders), so
	// a client's page may evaluate the rule over its subject's rows only
	// (within.go; TestPerOffenderRulesOnTheirOwnRows checks the built-ins).
	PerOffender bool
	// PerEpoch says that an offender's finding depends on the rows of its
	// salt epoch alone (its id is one epoch's, and nothing is compared
	// across epochs), so a report may keep the findings of an epoch it
	// holds whole and reuse them (epochcache.go).
	PerEpoch bool
	// EpochStage, when set, is a query whose rows each belong to one site
	// and salt epoch (columns site and epoch) and depend on that epoch's
	// rows alone; SQL reads them as {epoch_stage}. A report keeps the
	// stage's rows of the epochs it holds whole, like a per-epoch rule's
	// findings (epochstage.go), for rules that compare across epochs.
	EpochStage string
	// Action is what the alert loop does about a new offender besides
	// alerting (actions.go): from the file's action, or the category's
	// default.
	Action Action
	// Source is the file the rule came from: "builtin:<file>" for an
	// embedded rule, else its path.
	Source string
	// signatures name the ids of a "signatures" column (with their CVE);
	// nil: the built-in ones.
	signatures *signatures.Set
}

// RuleError is a problem of one rule file: its source and every problem,
// on one line.
type RuleError struct {
	Source string
	Err    error
}

func (e *RuleError) Error() string {
	return "rule " + e.Source + ": " + strings.ReplaceAll(e.Err.Error(), "\n", "; ")
}

func (e *RuleError) Unwrap() error { return e.Err }

// ruleFile is the YAML form of a rule.
type ruleFile struct {
	Name        string             `yaml:"name"`
	Category    string             `yaml:"category"`
	Scope       string             `yaml:"scope"`
	Severity    int                `yaml:"severity"`
	Description string             `yaml:"description"`
	Window      config.Duration    `yaml:"window"`
	Thresholds  map[string]float64 `yaml:"thresholds"`
	SQL         string             `yaml:"sql"`
	Signals     *signalRuleFile    `yaml:"signals"`
	PerOffender bool               `yaml:"per_offender"`
	PerEpoch    bool               `yaml:"per_epoch"`
	EpochStage  string             `yaml:"epoch_stage"`
	// Action is optional: nil takes DefaultAction.
	Action *actionFile `yaml:"action"`
	// Disabled, in a rules directory, removes the built-in rule of the
	// same name.
	Disabled bool `yaml:"disabled"`
}

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)
	// paramRE finds ClickHouse query parameters, {name:Type}.
	paramRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\s*:`)
	// builtinParams are the parameters every rule gets.
	builtinParams = []string{"since", "until", "site"}
)

// LoadRules returns the built-in rules (embedded from rules/), overridden
// and extended by the *.yaml and *.yml files in dirs, in order: a rule
// with the name of an earlier one replaces it, and one with "disabled:
// true" removes it. Empty dirs are skipped. Every problem of every file is
// reported, each naming its file. Rules come back ordered by severity
// (highest first), then name.
func LoadRules(dirs ...string) ([]Rule, error) {
	byName := map[string]Rule{}
	var errs []error
	add := func(src string, b []byte) {
		r, disabled, err := parseRule(src, b)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if disabled {
			delete(byName, r.Name)
			return
		}
		byName[r.Name] = r
	}
	files, err := configkit.ReadYAMLFiles(builtinRules, "rules/*.yaml", "", dirs, false)
	if err != nil {
		errs = append(errs, fmt.Errorf("rules: %w", err))
	}
	for _, f := range files {
		add(f.Src, f.Data)
	}
	var sigDirs []string
	for _, dir := range dirs {
		if dir != "" {
			sigDirs = append(sigDirs, filepath.Join(dir, "signatures"))
		}
	}
	sigs, err := signatures.Load(sigDirs...)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]Rule, 0, len(byName))
	for _, r := range byName {
		r.signatures = sigs
		out = append(out, r)
	}
	sortRules(out)
	return out, nil
}

func sortRules(rs []Rule) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Severity != rs[j].Severity {
			return rs[i].Severity > rs[j].Severity
		}
		return rs[i].Name < rs[j].Name
	})
}

// ParseRule parses and checks one rule file's content; src names it in
// errors.
func ParseRule(src string, b []byte) (Rule, error) {
	r, disabled, err := parseRule(src, b)
	if err == nil && disabled {
		err = &RuleError{src, errors.New("disabled")}
	}
	return r, err
}

func parseRule(src string, b []byte) (Rule, bool, error) {
	var f ruleFile
	if err := configkit.DecodeYAML(b, &f, true); err != nil {
		return Rule{}, false, &RuleError{src, err}
	}
	if f.Disabled {
		if !nameRE.MatchString(f.Name) {
			return Rule{}, false, &RuleError{src, fmt.Errorf("name %q: use lower-case letters, digits, '-' and '_'", f.Name)}
		}
		return Rule{Name: f.Name, Source: src}, true, nil
	}
	r := Rule{
		Name: f.Name, Category: f.Category, Scope: f.Scope, Severity: f.Severity,
		Description: strings.Join(strings.Fields(f.Description), " "), Window: f.Window.D(),
		Thresholds: f.Thresholds, SQL: strings.TrimRight(strings.TrimSpace(f.SQL), ";"), PerOffender: f.PerOffender, PerEpoch: f.PerEpoch,
		EpochStage: strings.TrimRight(strings.TrimSpace(f.EpochStage), ";"), Source: src,
	}
	if r.Thresholds == nil {
		r.Thresholds = map[string]float64{}
	}
	var serr error
	if f.Signals != nil {
		switch {
		case r.SQL != "":
			serr = errors.New("sql and signals: write the rule as one or the other")
		case r.Scope != ScopeClient:
			serr = fmt.Errorf("signals: a rule written as signals has scope client, not %q", r.Scope)
		default:
			if r.Signals, serr = f.Signals.resolve(); serr == nil {
				r.SQL = r.Signals.query()
			}
		}
	}
	if serr != nil {
		return Rule{}, false, &RuleError{src, serr}
	}
	action, aerr := resolveAction(f.Action, f.Category, f.Scope, f.Severity)
	r.Action = action
	if err := errors.Join(r.Validate(), aerr); err != nil {
		return Rule{}, false, &RuleError{src, err}
	}
	return r, false, nil
}

// Validate checks a rule without running it: its fields, and that its SQL
// reads {db}.requests, takes {since}, {until} and {site} as parameters and
// uses exactly its thresholds as the other parameters.
func (r Rule) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !nameRE.MatchString(r.Name) {
		bad("name %q: use lower-case letters, digits, '-' and '_' (at most 64)", r.Name)
	}
	if !identRE.MatchString(r.Category) {
		bad("category %q: use a lower-case identifier such as scanning or brute_force", r.Category)
	}
	switch r.Scope {
	case ScopeClient, ScopeNetwork, ScopeASN, ScopeCampaign:
	default:
		bad("scope %q: use client, network, asn or campaign", r.Scope)
	}
	if r.PerOffender && r.Scope == ScopeCampaign {
		bad("per_offender: a campaign's finding groups many clients; leave it out")
	}
	if r.PerEpoch && r.Scope != ScopeClient && r.Scope != ScopeNetwork {
		bad("per_epoch: an %s's finding spans salt epochs; only client and network rules judge one epoch's rows", r.Scope)
	}
	if r.Severity < 1 || r.Severity > 5 {
		bad("severity %d: use 1 (informational) to 5 (critical)", r.Severity)
	}
	if r.Description == "" {
		bad("description is empty: say what the rule finds and why its thresholds are what they are")
	}
	if r.Window <= 0 {
		bad("window: set how far back the alert loop looks, e.g. 1h")
	}
	if r.SQL == "" {
		bad("sql is empty: write the rule's query, or its signals (rules/README.md)")
	} else {
		if !strings.Contains(r.SQL+r.EpochStage, "{db}.") {
			bad("sql: read the table as {db}.requests, so the rule follows the configured database")
		}
		used := map[string]bool{}
		for _, m := range paramRE.FindAllStringSubmatch(r.SQL+"\n"+r.EpochStage, -1) {
			used[m[1]] = true
		}
		switch staged := strings.Contains(r.SQL, epochStageMacro); {
		case r.EpochStage != "" && !staged:
			bad("epoch_stage: the sql does not read it; write FROM %s", epochStageMacro)
		case r.EpochStage == "" && staged:
			bad("sql reads %s: write the epoch_stage query", epochStageMacro)
		case r.EpochStage != "" && r.PerEpoch:
			bad("epoch_stage and per_epoch: a per-epoch rule's findings are kept whole; leave epoch_stage out")
		case r.EpochStage != "" && !strings.Contains(r.EpochStage, "{db}."):
			bad("epoch_stage: read the tables as {db}.requests, so the stage follows the configured database")
		}
		for _, p := range builtinParams {
			if !used[p] {
				bad("sql does not use {%s:...}: filter with ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')} AND ({site:String} = '' OR site = {site:String})", p)
			}
		}
		for name := range used {
			if _, ok := r.Thresholds[name]; !ok && !slices.Contains(builtinParams, name) {
				bad("sql uses parameter {%s:...}, which is not a threshold", name)
			}
		}
		for name := range r.Thresholds {
			if slices.Contains(builtinParams, name) {
				bad("threshold %q: the name is reserved", name)
			} else if !identRE.MatchString(name) {
				bad("threshold %q: use a lower-case identifier", name)
			} else if !used[name] {
				bad("threshold %q is not used in the sql as {%s:Type}", name, name)
			}
		}
	}
	return errors.Join(errs...)
}
