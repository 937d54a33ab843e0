package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vakt-dev/vakt/internal/config"
)

// The signatures directory of rules.dir reaches the pseudonymiser, and a
// broken signature file is a `vakt check` problem under rules.dir naming
// the file.
func TestSignaturesFromRulesDir(t *testing.T) {
	rules := t.TempDir()
	cfg := config.Defaults()
	if pc := cfg.PseudonymizeStage(); len(pc.SignatureDirs) != 0 {
		t.Errorf("no rules.dir: signature dirs %v", pc.SignatureDirs)
	}
	cfg.Rules.Dir = rules
	if pc := cfg.PseudonymizeStage(); !slices.Equal(pc.SignatureDirs, []string{filepath.Join(rules, "signatures")}) {
		t.Errorf("signature dirs %v", pc.SignatureDirs)
	}
	if err := os.Mkdir(filepath.Join(rules, "signatures"), 0o700); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(rules, "signatures", "exploit.yaml")
	if err := os.WriteFile(broken, []byte("family: exploit\nsignatures:\n  - id: x\n    name: x\n    any: [\"abcd\"]\n    pattern: '('\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, p := range Check(t.Context(), cfg, nil, false, quiet) {
		if p.Key == "rules.dir" && strings.Contains(p.Problem, broken) && strings.Contains(p.Problem, "pattern") {
			found = true
		}
	}
	if !found {
		t.Errorf("vakt check does not report %s: %v", broken, Check(t.Context(), cfg, nil, false, quiet))
	}
}
