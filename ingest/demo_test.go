package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/testenv"
)

func TestDemo(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	ing, err := New(Config{Demo: true, DemoRate: 500, FlushInterval: 50 * time.Millisecond}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	testenv.WaitFor(t, 10*time.Second, "demo lines", func() bool { return ing.Stats().Published >= 100 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := ing.Stats()
	if len(st.Rejected) != 0 || st.Published != st.LinesRead || st.Published > 2000 {
		t.Fatalf("stats %+v", st)
	}
	for _, r := range readRaw(t, js, int(st.Published)) {
		if r.Site != DemoSite || time.Since(r.Time) > time.Minute {
			t.Fatalf("record site %q time %v", r.Site, r.Time)
		}
	}
}
