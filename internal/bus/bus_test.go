package bus

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestSubjects(t *testing.T) {
	tests := []struct{ site, token string }{
		{"www.example.org", "www_example_org"},
		{"", "default"},
		{"a*b>c d", "a_b_c_d"},
		{"shop", "shop"},
	}
	for _, tc := range tests {
		if got := SubjectToken(tc.site); got != tc.token {
			t.Errorf("SubjectToken(%q) = %q, want %q", tc.site, got, tc.token)
		}
		if got := SiteFromSubject(RawSubject(tc.site)); got != tc.token {
			t.Errorf("SiteFromSubject(RawSubject(%q)) = %q", tc.site, got)
		}
	}
	if EventsSubject("x.y") != "vakt.events.x_y" || AlertsSubject("x") != "vakt.alerts.x" {
		t.Error("subject layout changed")
	}
}

func TestAddressLike(t *testing.T) {
	for _, tc := range []struct {
		site string
		want bool
	}{
		{"www.example.org", false}, {"shop", false}, {"web-7", false}, {"", false}, {"10.example", false},
		{"203.0.113.9", true}, {"203.0.113.9:8080", true}, {"203_0_113_9", true},
		{"2001:db8::1", true}, {"[2001:db8::1]:443", true}, {"[2001:db8::1]", true}, {"::ffff:192.0.2.1", true},
	} {
		if got := AddressLike(tc.site); got != tc.want {
			t.Errorf("AddressLike(%q) = %v, want %v", tc.site, got, tc.want)
		}
	}
}

func TestEnsureAndDrained(t *testing.T) {
	ctx := context.Background()
	srv, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, js, err := Connect(ConnConfig{URL: srv.ClientURL(), Name: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for i := 0; i < 2; i++ { // idempotent
		if err := Ensure(ctx, js, DefaultStreamConfig()); err != nil {
			t.Fatalf("Ensure #%d: %v", i+1, err)
		}
	}
	raw, err := js.Stream(ctx, RawStream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := raw.Info(ctx)
	if info.Config.Storage != jetstream.MemoryStorage || info.Config.Retention != jetstream.WorkQueuePolicy {
		t.Fatalf("RAW stream must be memory-only work queue: %+v", info.Config)
	}
	if ok, err := Drained(ctx, js); err != nil || !ok {
		t.Fatalf("empty pipeline not drained: %v %v", ok, err)
	}
	if _, err := js.Publish(ctx, RawSubject("s"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if ok, _ := Drained(ctx, js); ok {
		t.Fatal("pending raw message reported as drained")
	}
	c, _ := js.Consumer(ctx, RawStream, PseudonymizeConsumer)
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if ok, _ := Drained(ctx, js); ok {
			t.Fatal("unacked message reported as drained")
		}
		m.DoubleAck(ctx)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := WaitDrained(wctx, js, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
