package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/health"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/store"
)

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// getReadyz returns /readyz's status and body.
func getReadyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestReadyzNotReadyWhileInsertsFail runs the pseudonymiser and the store
// on the real engines while a materialized view makes every insert into
// the requests table throw (with an address in its message): /readyz turns
// 503 and says since when and why, without the address, and turns 200 again
// once an insert commits.
func TestReadyzNotReadyWhileInsertsFail(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const db = "t_readyz"
	if err := owner.CH.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, owner.CH, store.SchemaConfig{Database: db}); err != nil {
		t.Fatal(err)
	}
	if err := owner.CH.Exec(ctx, `CREATE MATERIALIZED VIEW `+db+`.refuse_inserts ENGINE = Null AS
		SELECT throwIf(status > 0, 'insert refused by the test at 192.0.2.77:9000 and [2001:db8::7]:9000') AS refused FROM `+db+`.requests`); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(owner.dataDir)
	cfg.ClickHouse.Database = db
	cfg.HTTP.Listen = "127.0.0.1:0"
	m := metrics.New()
	chc := owner.CHConfig
	owner.CHConfig.Database = db
	stages, err := pipelineStages(cfg, owner, quiet, m)
	owner.CHConfig = chc
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owner.insertHealth = nil })
	srv, stop := health.Serve(cfg.HTTP, cfg.DataDir, m, owner.ready, quiet)
	defer stop()
	if code, body := getReadyz(t, srv.Addr); code != 200 || !strings.Contains(body, `"store":"no insert yet"`) {
		t.Fatalf("before any insert: %d %s", code, body)
	}
	done := make(chan error, 1)
	go func() { done <- runStages(ctx, stages) }()
	defer func() { cancel(); <-done }()

	r := event.Raw{Time: time.Now(), Site: "readyz.example", ClientIP: netip.MustParseAddr("192.0.2.10"),
		Method: "GET", Target: "/readyz-test", Protocol: "HTTP/1.1", Status: 200, UserAgent: "test"}
	msg := &nats.Msg{Subject: bus.RawSubject(r.Site), Data: event.AppendRaw(nil, &r), Header: nats.Header{}}
	msg.Header.Set(bus.HeaderRecords, "1")
	ijs, err := owner.StageJS(bus.StageIngest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ijs.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}

	var body string
	waitFor(t, 60*time.Second, "/readyz to report the failing inserts", func() bool {
		var code int
		code, body = getReadyz(t, srv.Addr)
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"store":"inserts failing since `)
	})
	var rd health.Readiness
	if err := json.Unmarshal([]byte(body), &rd); err != nil || rd.Ready {
		t.Fatalf("%v: %s", err, body)
	}
	if !strings.Contains(rd.Store, "insert refused by the test at <address> and <address>") ||
		strings.Contains(body, "192.0.2") || strings.Contains(body, "2001:db8") {
		t.Fatalf("store state %q: the error without its addresses expected", rd.Store)
	}
	t.Logf("while failing: %s", rd.Store)

	if err := owner.CH.Exec(ctx, "DROP VIEW "+db+".refuse_inserts"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "/readyz to be ready after an insert committed", func() bool {
		var code int
		code, body = getReadyz(t, srv.Addr)
		return code == http.StatusOK && strings.Contains(body, `"store":"ok"`)
	})
	var n uint64
	if err := owner.CH.QueryRow(ctx, "SELECT count() FROM "+db+".requests WHERE path = '/readyz-test'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows stored (%v), want 1", n, err)
	}
}
