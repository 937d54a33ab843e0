package testenv

import (
	"testing"
	"time"
)

// WaitFor checks its condition every 10 ms at first, so a test waits
// little past the moment it holds, backing off to every 100 ms, so a
// costly condition (a query, a scrape) leaves the CPU to what it waits for.
const (
	firstPoll = 10 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// WaitFor polls cond until it holds, and fails the test naming what it
// waited for once timeout has passed. Timeouts are upper bounds for a busy
// machine, not expected durations: a test waits only as long as needed.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for poll := firstPoll; !cond(); poll = min(2*poll, maxPoll) {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(poll)
	}
}
