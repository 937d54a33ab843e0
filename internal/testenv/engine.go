package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/vakt-dev/vakt/internal/chserver"
)

// The account RunEngine and MainEngine create unless the test names its own.
const (
	EngineUser     = "vakt"
	EnginePassword = "engine-test-password"
)

// EngineOption changes the configuration RunEngine and MainEngine start
// the ClickHouse endpoint with.
type EngineOption func(*chserver.Config)

// EngineUsers replaces the default account with users.
func EngineUsers(users map[string]chserver.User) EngineOption {
	return func(c *chserver.Config) { c.Users = users }
}

// EngineAccount replaces the default account with one named user.
func EngineAccount(user, password string) EngineOption {
	return EngineUsers(map[string]chserver.User{user: {Password: password}})
}

// EngineDataDir stores the engine's data under dir rather than a temp dir.
func EngineDataDir(dir string) EngineOption { return func(c *chserver.Config) { c.DataDir = dir } }

func engineConfig(lib, dir string, opts []EngineOption) chserver.Config {
	c := chserver.Config{DataDir: dir, Listen: "127.0.0.1:0", LibPath: lib,
		Users: map[string]chserver.User{EngineUser: {Password: EnginePassword}}}
	for _, opt := range opts {
		opt(&c)
	}
	return c
}

// RunEngine starts the embedded ClickHouse endpoint (libchdb behind
// internal/chserver) on a temp dir with one account (EngineUser unless an
// option names others), and closes it when the test ends. It skips, or
// fails in CI, without libchdb. A test binary holds at most ONE chDB
// engine: a package whose tests share an engine starts it in TestMain
// with MainEngine instead, and tests that each run one cannot be parallel.
func RunEngine(tb testing.TB, opts ...EngineOption) *chserver.Server {
	tb.Helper()
	c := engineConfig(CHDBLib(tb), tb.TempDir(), opts)
	srv, err := chserver.Start(context.Background(), c)
	if err != nil {
		tb.Fatalf("start the embedded ClickHouse endpoint: %v", err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

// MainEngine is RunEngine for TestMain, where a package's tests share one
// engine: it starts the endpoint on a fresh temp dir and returns it with
// the function that closes it and removes the dir. Without libchdb it
// exits as MainCHDB does; it exits with status 1 when the engine fails.
func MainEngine(opts ...EngineOption) (srv *chserver.Server, stop func()) {
	lib := MainCHDB()
	srv, stop, err := StartEngine(lib, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return srv, stop
}

// StartEngine starts the endpoint with libchdb at lib on a fresh temp dir
// and returns it with the function that closes it and removes the dir,
// for a TestMain that decides itself what a missing engine means.
func StartEngine(lib string, opts ...EngineOption) (srv *chserver.Server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "vakt-engine-test")
	if err != nil {
		return nil, nil, fmt.Errorf("engine data dir: %w", err)
	}
	c := engineConfig(lib, dir, opts)
	if c.DataDir != dir {
		os.RemoveAll(dir)
		dir = ""
	}
	srv, err = chserver.Start(context.Background(), c)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start the embedded ClickHouse endpoint: %w", err)
	}
	return srv, func() {
		srv.Close()
		if dir != "" {
			os.RemoveAll(dir)
		}
	}, nil
}
