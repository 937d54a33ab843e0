package ingest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// ImportSummary is what `vakt import` reports: ingest's counts, with the
// duplicates the store found.
type ImportSummary struct {
	Read   int64 `json:"lines_read"`
	Stored int64 `json:"stored"`
	// InFlight were published but not confirmed stored when an import
	// was interrupted: they wait in NATS for a running pipeline or the
	// next import.
	InFlight   int64            `json:"in_flight"`
	Duplicates int64            `json:"duplicates"`
	Dropped    int64            `json:"dropped"`
	Rejected   map[string]int64 `json:"rejected"`
	Elapsed    time.Duration    `json:"elapsed_ns"`
}

// ImportSummary counts an import: ingest's counts, with found (lines the
// import's store stage found stored already) and committed (rows it
// stored). Lines of a repeated import are dropped as duplicates by
// JetStream (ingest's count) or found stored by the store (other replicas'
// finds are not counted here). When the pipeline drained, everything
// published is stored; when the import was interrupted, stored is what the
// store committed, and the rest of what was published is in flight: in
// NATS, for a running pipeline or the next import to store.
func (i *Ingest) ImportSummary(found, committed int64, drained bool, elapsed time.Duration) ImportSummary {
	st := i.Stats()
	sum := ImportSummary{
		Read:       st.LinesRead,
		Stored:     st.Published - found,
		Duplicates: st.Duplicates + found,
		Dropped:    st.Dropped,
		Rejected:   st.Rejected,
		Elapsed:    elapsed,
	}
	if !drained {
		sum.InFlight = max(sum.Stored-committed, 0)
		sum.Stored = min(sum.Stored, committed)
	}
	return sum
}

// RejectedTotal is the number of rejected lines over all reasons.
func (s ImportSummary) RejectedTotal() int64 {
	var n int64
	for _, v := range s.Rejected {
		n += v
	}
	return n
}

// Print writes the summary for a person.
// An import that never started (a missing file, engines that would not
// open) has nothing to sum up: it prints nothing, and its error speaks.
func (s ImportSummary) Print(w io.Writer) {
	if s.Elapsed == 0 {
		return
	}
	rate := float64(s.Read) / max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "lines read:  %d\n", s.Read)
	fmt.Fprintf(w, "stored:      %d\n", s.Stored)
	if s.InFlight > 0 {
		fmt.Fprintf(w, "in flight:   %d (published, not yet stored: a running pipeline or the next import stores them)\n", s.InFlight)
	}
	if s.Duplicates > 0 {
		fmt.Fprintf(w, "duplicates:  %d (already imported, skipped)\n", s.Duplicates)
	}
	if s.Dropped > 0 {
		fmt.Fprintf(w, "dropped:     %d (RAW stream full, ingest.when_full: drop)\n", s.Dropped)
	}
	fmt.Fprintf(w, "rejected:    %d\n", s.RejectedTotal())
	for _, reason := range slices.Sorted(maps.Keys(s.Rejected)) {
		fmt.Fprintf(w, "  %-22s %d\n", reason, s.Rejected[reason])
	}
	fmt.Fprintf(w, "elapsed:     %s (%.0f lines/s)\n", s.Elapsed.Round(time.Millisecond), rate)
}
