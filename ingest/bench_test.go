package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/loggen"
)

// BenchmarkImport measures the whole import path (read, parse, encode,
// publish, ack) into an embedded nats-server sharing the machine.
func BenchmarkImport(b *testing.B) {
	sc := bus.DefaultStreamConfig()
	js := startNATS(b, sc)
	path := filepath.Join(b.TempDir(), "access.log")
	const n = 200_000
	if _, err := loggen.New(loggen.Config{Seed: 1, Clients: 10_000, Start: time.Now().Add(-time.Hour), Rate: 100}).WriteFile(path, n); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		stream, err := js.Stream(context.Background(), bus.RawStream)
		if err != nil {
			b.Fatal(err)
		}
		if err := stream.Purge(context.Background()); err != nil {
			b.Fatal(err)
		}
		// A new file generation each round, so nothing is a duplicate.
		now := time.Now()
		if err := os.Chtimes(path, now, now); err != nil {
			b.Fatal(err)
		}
		ing, err := New(Config{Files: []string{path}}, js, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := ing.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		if st := ing.Stats(); st.Published != n {
			b.Fatalf("stats %+v", st)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkFollow measures following (with checkpoints, generation checks
// on every read and recorded batch boundaries) a file that holds n lines
// when the follower starts.
func BenchmarkFollow(b *testing.B) {
	js := startNATS(b, bus.DefaultStreamConfig())
	const n = 200_000
	for b.Loop() {
		b.StopTimer()
		stream, err := js.Stream(context.Background(), bus.RawStream)
		if err != nil {
			b.Fatal(err)
		}
		if err := stream.Purge(context.Background()); err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		path := filepath.Join(dir, "access.log")
		if _, err := loggen.New(loggen.Config{Seed: uint64(time.Now().UnixNano()), Clients: 10_000, Now: time.Now}).WriteFile(path, n); err != nil {
			b.Fatal(err)
		}
		ing, err := New(Config{Files: []string{path}, Follow: true, FromStart: true, FlushInterval: 10 * time.Millisecond}, js, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- ing.Run(ctx) }()
		for ing.Stats().Published < n {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
