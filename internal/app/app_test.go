package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// owner is the one process-wide engine owner for these tests (libchdb boots
// one engine per process).
var owner *Engines

func TestMain(m *testing.M) {
	testenv.MainCHDB()
	dir, err := os.MkdirTemp("", "app-test")
	if err != nil {
		panic(err)
	}
	cfg := testConfig(dir)
	owner, err = OpenEngines(context.Background(), cfg, Need{NATS: true, ClickHouse: true}, "test", quiet)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	owner.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testConfig(dataDir string) config.Config {
	cfg := config.Defaults()
	cfg.DataDir = dataDir
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.ClickHouse.Listen = "127.0.0.1:0"
	// A read-only account on the embedded endpoint (TestReadonlyUser);
	// vakt's own user stays "default" without a password.
	cfg.ClickHouse.ReadonlyUser, cfg.ClickHouse.ReadonlyPassword = testReadonlyUser, testReadonlyPassword
	cfg.HTTP.Listen = ""
	return cfg
}

func TestOwnerPublishesItsEngines(t *testing.T) {
	if !owner.Owner {
		t.Fatal("first process on a data dir must own it")
	}
	// A second command on the same data dir finds the owner's engines
	// instead of starting its own.
	e, err := OpenEngines(context.Background(), testConfig(owner.dataDir), Need{NATS: true, ClickHouse: true}, "second", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Owner || e.CHAddr != owner.CHAddr || e.natsURL != owner.natsURL {
		t.Fatalf("second opener: owner=%v ch=%s nats=%s; owner's ch=%s nats=%s", e.Owner, e.CHAddr, e.natsURL, owner.CHAddr, owner.natsURL)
	}
	var one uint8
	if err := e.CH.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query through the owner's endpoint: %v", err)
	}
}

func TestRuntimeFileRemovedOnClose(t *testing.T) {
	if _, err := os.Stat(filepath.Join(owner.dataDir, runtimeFile)); err != nil {
		t.Fatalf("owner has no runtime file: %v", err)
	}
}

func TestReadyReflectsDependencies(t *testing.T) {
	ctx := context.Background()
	r := owner.ready(ctx)
	if !r.Ready || r.NATS != "connected" || r.ClickHouse != "ok" || len(r.Consumers) != 2 {
		t.Fatalf("healthy engines not ready: %+v", r)
	}
	// A process whose ClickHouse is gone is not ready.
	e, err := OpenEngines(ctx, testConfig(owner.dataDir), Need{NATS: true, ClickHouse: true}, "probe", quiet)
	if err != nil {
		t.Fatal(err)
	}
	e.CH.Close()
	if r := e.ready(ctx); r.Ready || r.ClickHouse == "ok" {
		t.Fatalf("closed ClickHouse connection reported ready: %+v", r)
	}
	e.NC.Close()
	if r := e.ready(ctx); r.Ready || r.NATS == "connected" {
		t.Fatalf("closed NATS connection reported ready: %+v", r)
	}
	e.CH, e.NC = nil, nil
	e.Close()
}
