package web_test

import (
	"testing"
)

// TestDecisionsEndpoint: /api/decisions lists the decision endpoint's
// bans (the bucket is readable by the dashboard's user), each with a
// pseudonymous id and no address.
func TestDecisionsEndpoint(t *testing.T) {
	var d struct {
		Decisions []map[string]any `json:"decisions"`
		Error     string           `json:"error"`
	}
	code, body := get(t, "/api/decisions", &d)
	if code != 200 || d.Error != "" || d.Decisions == nil {
		t.Fatalf("%d %s", code, body)
	}
	for _, x := range d.Decisions {
		if x["scope"] == nil || x["id"] == nil || x["expires"] == nil {
			t.Errorf("decision %v lacks scope, id or expiry", x)
		}
	}
}
