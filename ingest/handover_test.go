package ingest

import (
	"errors"
	"log/slog"
	"testing"
	"time"
)

// outcome returns what a waiter was released with, or ok=false if it waits.
func outcome(w *handoverWaiter) (err error, ok bool) {
	select {
	case err := <-w.done:
		return err, true
	default:
		return nil, false
	}
}

// A poll of the stream's state that began before a publish was acknowledged
// reads a last sequence short of it: that is the race, not a reset.
func TestHandoverStalePollIsNoReset(t *testing.T) {
	h := newHandover(nil, slog.New(slog.DiscardHandler))
	created := time.Unix(1000, 0)
	h.settle(created, 1, 4, h.pollStart()) // first look at the stream
	early := h.add(4)
	polled := h.pollStart()
	late := h.add(5) // published and acknowledged while the poll was on its way
	h.settle(created, 1, 4, polled)
	if _, ok := outcome(late); ok {
		t.Fatal("a waiter registered after the poll began was judged by it")
	}
	if _, ok := outcome(early); ok {
		t.Fatal("batch 4 released before a pseudonymiser took it")
	}
	h.settle(created, 5, 5, h.pollStart())
	if err, ok := outcome(early); !ok || err != nil {
		t.Fatalf("batch 4: got %v, %v; want handed over", err, ok)
	}
	if _, ok := outcome(late); ok {
		t.Fatal("batch 5 released while still in the stream")
	}
	h.settle(created, 6, 5, h.pollStart())
	if err, ok := outcome(late); !ok || err != nil {
		t.Fatalf("batch 5: got %v, %v; want handed over", err, ok)
	}
}

// A late waiter whose batch the stale poll already shows as taken is
// released: being handed over needs no ordering.
func TestHandoverStalePollStillHandsOver(t *testing.T) {
	h := newHandover(nil, slog.New(slog.DiscardHandler))
	created := time.Unix(1000, 0)
	h.settle(created, 1, 1, h.pollStart())
	polled := h.pollStart()
	w := h.add(3)
	h.settle(created, 4, 3, polled)
	if err, ok := outcome(w); !ok || err != nil {
		t.Fatalf("got %v, %v; want handed over", err, ok)
	}
}

// Real resets are still seen: a stream created anew, or one whose last
// sequence is short of a batch the poll must already include.
func TestHandoverResetDetected(t *testing.T) {
	h := newHandover(nil, slog.New(slog.DiscardHandler))
	created := time.Unix(1000, 0)
	h.settle(created, 1, 9, h.pollStart())
	stored := h.add(9)
	h.settle(created.Add(time.Minute), 1, 0, h.pollStart())
	if err, ok := outcome(stored); !ok || !errors.Is(err, errRawReset) {
		t.Fatalf("recreated stream: got %v, %v; want errRawReset", err, ok)
	}

	h2 := newHandover(nil, slog.New(slog.DiscardHandler))
	w := h2.add(7) // stored before the first look at the stream
	h2.settle(created, 1, 3, h2.pollStart())
	if err, ok := outcome(w); !ok || !errors.Is(err, errRawReset) {
		t.Fatalf("sequence past the stream's last: got %v, %v; want errRawReset", err, ok)
	}
}
