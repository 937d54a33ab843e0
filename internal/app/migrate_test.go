package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/config"
)

// deniedConn answers every query as ClickHouse does for a user without
// the privilege: ACCESS_DENIED.
type deniedConn struct{ driver.Conn }

type deniedRow struct{}

func (deniedRow) Err() error { return denied }
func (deniedRow) Scan(...any) error {
	return denied
}
func (deniedRow) ScanStruct(any) error { return denied }

var denied = &clickhouse.Exception{Code: 497, Message: "vakt_store: Not enough privileges. To execute this query, it's necessary to have the grant SHOW DATABASES ON vakt.*"}

func (deniedConn) QueryRow(context.Context, string, ...any) driver.Row { return deniedRow{} }

// TestMigrateOnStartWithWriterRole: a store whose ClickHouse user may only
// insert (vakt_writer) starts, warning that an administrator runs `vakt
// migrate`; any other schema error stops it.
func TestMigrateOnStartWithWriterRole(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := config.Defaults()
	if err := migrateOnStart(t.Context(), deniedConn{}, cfg, log); err != nil {
		t.Fatalf("ACCESS_DENIED stopped the stage: %v", err)
	}
	if !strings.Contains(logs.String(), "may not change the schema") || !strings.Contains(logs.String(), "vakt migrate") {
		t.Errorf("no warning: %s", logs.String())
	}
	cfg.Retention.Requests = config.Duration(36 * time.Hour)
	if err := migrateOnStart(t.Context(), deniedConn{}, cfg, log); err == nil || !strings.Contains(err.Error(), "retention.requests") {
		t.Errorf("invalid retention: %v", err)
	}
}

// stoppingConn is a server that is still answering when the service is
// told to stop: every query waits for ctx and fails with its error, as
// clickhouse-go does.
type stoppingConn struct{ driver.Conn }

type ctxRow struct{ ctx context.Context }

func (r ctxRow) Err() error           { <-r.ctx.Done(); return r.ctx.Err() }
func (r ctxRow) Scan(...any) error    { return r.Err() }
func (r ctxRow) ScanStruct(any) error { return r.Err() }

func (stoppingConn) QueryRow(ctx context.Context, _ string, _ ...any) driver.Row { return ctxRow{ctx} }

// TestStopDuringStartupMigrations: a service stopped (SIGTERM) while its
// startup migrations run stops cleanly, saying the next start completes
// them; the same failure without a stop is an error.
func TestStopDuringStartupMigrations(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, stop := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, stop)
	err := migrateOnStart(ctx, stoppingConn{}, config.Defaults(), log)
	if !errors.Is(err, errStoppedMigrating) || stoppedMigrating(err) != nil {
		t.Fatalf("stopped during the migrations: %v, want a clean stop", err)
	}
	if !strings.Contains(logs.String(), "the next start completes them") {
		t.Errorf("no word of the stop: %s", logs.String())
	}
	failed := errors.New("connection refused")
	if got := stoppedMigrating(fmt.Errorf("schema: %w", failed)); !errors.Is(got, failed) {
		t.Errorf("a failure without a stop: %v", got)
	}
}
