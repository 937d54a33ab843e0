package analyze

import (
	"errors"
	"fmt"
	"time"

	"github.com/vakt-dev/vakt/internal/config"
)

// Action types of a rule file's `action: {type: ...}`.
const (
	ActionNone = "none" // alert only
	ActionBan  = "ban"  // alert, and deny the offender at the web server for a duration
)

// MaxBanDuration bounds a ban: the decisions bucket keeps nothing longer.
const MaxBanDuration = 30 * 24 * time.Hour

// Action is what the alert loop does about a new offender besides
// alerting: nothing, or a ban (a decision the decision endpoint enforces,
// see enforce/). See rules/README.md#actions.
type Action struct {
	Type     string        // ActionNone or ActionBan
	Duration time.Duration // how long a ban lasts
	// Status is the HTTP status a banned request gets: 403, or 429 for a
	// flood (the client may come back once it slows down).
	Status int
}

// Bans reports whether the action makes a decision.
func (a Action) Bans() bool { return a.Type == ActionBan }

// String is the action as the table of rules/README.md writes it.
func (a Action) String() string {
	if !a.Bans() {
		return ActionNone
	}
	return fmt.Sprintf("ban %s (%d)", config.Duration(a.Duration), a.Status)
}

// categoryBans are the default bans per category, chosen for a typical
// site: long for attacks that only tools send (an injection or a probe
// for secrets is never a mistake), an hour for what a misconfigured
// client or a forgetful user could come near, ten minutes with 429 for a
// flood, which ends when the client slows down.
var categoryBans = map[string]time.Duration{
	"sql_injection":  4 * time.Hour,
	"path_traversal": 4 * time.Hour,
	"sensitive_file": 4 * time.Hour,
	"xss":            time.Hour,
	"brute_force":    time.Hour,
	"scanning":       time.Hour,
	"admin_probe":    time.Hour,
	"bad_user_agent": time.Hour,
	"distributed":    time.Hour,
	"flood":          10 * time.Minute,
}

// defaultUnknownBan is the ban of a category not in categoryBans (a rule
// family added later) at severity 3 or more.
const defaultUnknownBan = time.Hour

// DefaultAction is the action of a rule whose file has none: none for
// severity 1 and 2 (informational and low: tool user agents, which
// monitoring also sends) and for AS scope (a whole autonomous system is
// too big a hammer to swing by default); else a ban of the category's
// default duration, 429 for floods and 403 otherwise.
func DefaultAction(category, scope string, severity int) Action {
	if severity <= 2 || scope == ScopeASN {
		return Action{Type: ActionNone}
	}
	d, ok := categoryBans[category]
	if !ok {
		d = defaultUnknownBan
	}
	return Action{Type: ActionBan, Duration: d, Status: defaultStatus(category)}
}

func defaultStatus(category string) int {
	if category == "flood" {
		return 429
	}
	return 403
}

// actionFile is the YAML form of an action.
type actionFile struct {
	Type     string          `yaml:"type"`
	Duration config.Duration `yaml:"duration"`
	Status   int             `yaml:"status"`
}

// resolveAction turns a rule file's action (nil: none written) into the
// rule's action, applying the defaults.
func resolveAction(f *actionFile, category, scope string, severity int) (Action, error) {
	if f == nil {
		return DefaultAction(category, scope, severity), nil
	}
	switch f.Type {
	case ActionNone:
		if f.Duration != 0 || f.Status != 0 {
			return Action{}, errors.New("action: type none takes no duration or status")
		}
		return Action{Type: ActionNone}, nil
	case ActionBan:
	default:
		return Action{}, fmt.Errorf("action: type %q: use ban (with a duration, e.g. {type: ban, duration: 1h}) or none", f.Type)
	}
	a := Action{Type: ActionBan, Duration: f.Duration.D(), Status: f.Status}
	if a.Duration == 0 {
		a.Duration = DefaultAction(category, ScopeClient, 5).Duration
	}
	if a.Status == 0 {
		a.Status = defaultStatus(category)
	}
	var errs []error
	if a.Duration < time.Second || a.Duration > MaxBanDuration {
		errs = append(errs, fmt.Errorf("action: duration %s: use 1s to %s, e.g. 1h", config.Duration(a.Duration), config.Duration(MaxBanDuration)))
	}
	if a.Status != 403 && a.Status != 429 {
		errs = append(errs, fmt.Errorf("action: status %d: use 403 (forbidden) or 429 (too many requests)", a.Status))
	}
	return a, errors.Join(errs...)
}
