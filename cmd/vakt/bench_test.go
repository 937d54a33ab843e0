package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/vakt-dev/vakt/internal/testenv"
)

func TestBenchPrintsEveryFigure(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	stdout, stderr, err := vakt(t, "bench", "--lines", "20000", "--clients", "2000", "--live-for", "1s", "--live-rate", "500", "--log-level", "warn")
	if err != nil {
		t.Fatalf("vakt bench: %v\n%s\n%s", err, stdout, stderr)
	}
	t.Log(stdout)
	for _, re := range []string{
		`lines:\s+20000 read, (\d+) stored \(verified`,
		`throughput:\s+(\d+) lines/s`,
		`CPU:\s+[\d.]+ s`,
		`peak RSS:\s+(\d+) MB`,
		`peak Go memory:\s+(\d+) MB`,
		`ingest:\s+(\d+)/s`,
		`pseudonymize:\s+(\d+)/s`,
		`store:\s+(\d+)/s`,
		`p50 / p99 / max:\s+\S+ / \S+ / \S+`,
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(stdout)
		if m == nil {
			t.Fatalf("output lacks %q", re)
		}
		if len(m) > 1 {
			if n, _ := strconv.Atoi(m[1]); n <= 0 {
				t.Fatalf("%q: figure %s is not positive", re, m[1])
			}
		}
	}
}
