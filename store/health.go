package store

import (
	"sync"
	"time"
)

// InsertHealth is the outcome of the store's latest insert attempts, for
// readiness probes: a store that cannot insert is not ready even though
// ClickHouse answers pings.
type InsertHealth struct {
	// LastSuccess is when an insert last committed (zero: none yet).
	LastSuccess time.Time
	// FailingSince is when the current run of failed attempts began; zero
	// while the latest attempt succeeded (or none was made).
	FailingSince time.Time
	// LastError is the latest failed attempt's error, empty when
	// FailingSince is zero. It is ClickHouse's message as is: callers that
	// show it to others must drop addresses from it.
	LastError string
}

// insertHealth records insert outcomes; every worker reports to it.
type insertHealth struct {
	mu sync.Mutex
	h  InsertHealth
}

func (ih *insertHealth) record(now time.Time, err error) {
	ih.mu.Lock()
	defer ih.mu.Unlock()
	if err == nil {
		ih.h = InsertHealth{LastSuccess: now}
		return
	}
	if ih.h.FailingSince.IsZero() {
		ih.h.FailingSince = now
	}
	ih.h.LastError = err.Error()
}

// InsertHealth returns the outcome of the latest insert attempts.
func (s *Store) InsertHealth() InsertHealth {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return s.health.h
}
