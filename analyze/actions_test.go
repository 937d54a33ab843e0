package analyze

import (
	"strings"
	"testing"
	"time"
)

// TestRuleActions: a rule without an action gets its category's default
// (none for low severity and AS scope); an action in the file overrides
// it; a bad action is refused naming the fix.
func TestRuleActions(t *testing.T) {
	rules, err := LoadRules()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sensitive-file-probe": "ban 4h0m0s (403)", "sql-injection": "ban 4h0m0s (403)", "path-traversal": "ban 4h0m0s (403)",
		"xss": "ban 1h0m0s (403)", "login-brute-force": "ban 1h0m0s (403)", "scanning": "ban 1h0m0s (403)",
		"admin-probe": "ban 1h0m0s (403)", "bad-user-agent": "ban 1h0m0s (403)", "flood": "ban 10m0s (429)",
		"distributed-network": "ban 1h0m0s (403)", "distributed-asn": "none", "tool-user-agent": "none",
	}
	for _, r := range rules {
		if w, ok := want[r.Name]; ok && r.Action.String() != w {
			t.Errorf("%s: action %s, want %s", r.Name, r.Action, w)
		}
	}
	base := "name: x\ncategory: newfamily\nscope: client\nseverity: 4\ndescription: d\nwindow: 1h\n" +
		"sql: SELECT 1 FROM {db}.requests WHERE ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')} AND {site:String} = ''\n"
	for _, c := range []struct{ action, want, err string }{
		{"", "ban 1h0m0s (403)", ""},
		{"action: {type: none}\n", "none", ""},
		{"action: {type: ban, duration: 2d, status: 429}\n", "ban 2d (429)", ""},
		{"action: {type: ban}\n", "ban 1h0m0s (403)", ""},
		{"action: {type: block}\n", "", "use ban"},
		{"action: {type: ban, duration: 90d}\n", "", "use 1s to 30d"},
		{"action: {type: ban, status: 500}\n", "", "use 403"},
		{"action: {type: none, duration: 1h}\n", "", "takes no duration"},
	} {
		r, err := ParseRule("test.yaml", []byte(base+c.action))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one saying %q", c.action, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.action, err)
		case c.err == "" && r.Action.String() != c.want:
			t.Errorf("%q: action %s, want %s", c.action, r.Action, c.want)
		}
	}
	if a := DefaultAction("scanning", ScopeClient, 2); a.Bans() {
		t.Errorf("severity 2 bans: %v", a)
	}
	if a := DefaultAction("flood", ScopeClient, 3); a.Duration != 10*time.Minute || a.Status != 429 {
		t.Errorf("flood default %v", a)
	}
}
