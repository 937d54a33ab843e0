package app

import (
	"context"
	"testing"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
)

// TestDurabilityDefaultsInForce: the embedded NATS server runs with the
// sync policy chosen in BENCHMARKS.md ("Durability"), and a configured
// one replaces it.
func TestDurabilityDefaultsInForce(t *testing.T) {
	want, err := bus.ParseSync(config.DefaultNATSSync)
	if err != nil {
		t.Fatal(err)
	}
	if !want.Always {
		t.Fatalf("default nats.sync_interval %q: the chosen default is an fsync after every write", config.DefaultNATSSync)
	}
	for _, tc := range []struct {
		setting string
		want    bus.SyncPolicy
	}{
		{"", want}, // the default
		{"1s", bus.SyncPolicy{Interval: 1e9}},
	} {
		cfg := natsOnlyConfig(t)
		if tc.setting != "" {
			cfg.NATS.SyncInterval = tc.setting
		}
		eng, err := OpenEngines(context.Background(), cfg, Need{NATS: true}, "run", quiet)
		if err != nil {
			t.Fatal(err)
		}
		got := eng.natsSrv.Sync()
		eng.Close()
		if got != tc.want {
			t.Errorf("nats.sync_interval %q: the server syncs %v, want %v", tc.setting, got, tc.want)
		}
	}
}
