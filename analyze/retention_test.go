package analyze

import (
	"testing"
	"time"
)

func TestDaysWords(t *testing.T) {
	for n, want := range map[int]string{1: "1 day", 30: "30 days", 90: "90 days (about 3 months)", 396: "396 days (about 13 months)", 365: "365 days (1 year)", 730: "730 days (2 years)"} {
		if got := daysWords(n); got != want {
			t.Errorf("daysWords(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{15 * time.Minute: "15 minutes", 24 * time.Hour: "24 hours", 48 * time.Hour: "48 hours", 7 * 24 * time.Hour: "7 days", 90 * time.Second: "90 seconds", time.Hour: "1 hour"} {
		if got := durationWords(d); got != want {
			t.Errorf("durationWords(%s) = %q, want %q", d, got, want)
		}
	}
}
