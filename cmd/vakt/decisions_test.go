package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDecisionsCommandErrors: usage mistakes exit 2 with the fix; an
// address that cannot be hashed yet (no salt) is refused without being
// repeated, and nothing is stored.
func TestDecisionsCommandErrors(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"decisions"}, "needs one of: list, add, delete"},
		{[]string{"decisions", "ban"}, "unknown decisions command"},
		{[]string{"decisions", "delete"}, "the key column of vakt decisions list"},
		{[]string{"decisions", "add", "--client", "1", "--network", "2"}, "not both"},
	} {
		_, stderr, err := vakt(t, append(c.args, "--data-dir", dataDir)...)
		if err == nil || !strings.Contains(stderr, c.want) {
			t.Errorf("vakt %v: %v, stderr %q, want %q", c.args, err, stderr, c.want)
		}
	}
	const addr = "203.0.113.45"
	stdout, stderr, err := vakt(t, "decisions", "add", "--data-dir", dataDir, "--ip", addr)
	if err == nil || !strings.Contains(stderr, "no salt for the current epoch") {
		t.Errorf("add --ip before any salt: %v, stderr %q", err, stderr)
	}
	if strings.Contains(stdout+stderr, addr) {
		t.Errorf("the address appears in the output:\n%s%s", stdout, stderr)
	}
	stdout, stderr, err = vakt(t, "decisions", "list", "--data-dir", dataDir, "--format", "json")
	if err != nil || strings.TrimSpace(stdout) != "" {
		t.Errorf("list after the refusal: %v %q %q", err, stdout, stderr)
	}
}
