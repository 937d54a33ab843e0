// Package testenv gives tests the real engines and makes sure none of them
// skips silently in CI.
package testenv

import (
	"fmt"
	"os"
	"testing"

	"github.com/vakt-dev/vakt/internal/chdb"
)

// CI reports whether the tests run in CI, where nothing may be skipped.
func CI() bool { return os.Getenv("CI") != "" && os.Getenv("CI") != "false" }

// CHDBLib returns the libchdb path. Without the library a test fails in CI
// and is skipped, saying why and how to fix it, elsewhere.
func CHDBLib(tb testing.TB) string {
	tb.Helper()
	p, err := chdb.FindLib("")
	if err != nil {
		if CI() {
			tb.Fatalf("the ClickHouse engine is required in CI: %v", err)
		}
		tb.Skipf("skipping: %v", err)
	}
	return p
}

// MainCHDB is for TestMain: it returns the libchdb path, or exits the test
// binary (status 1 in CI, 0 with a message elsewhere) when it is missing.
func MainCHDB() string {
	p, err := chdb.FindLib("")
	if err != nil {
		fmt.Fprintf(os.Stderr, "the ClickHouse engine is required: %v\n", err)
		if CI() {
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "skipping this package's tests")
		os.Exit(0)
	}
	return p
}
