package store

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/chdb"
	"github.com/vakt-dev/vakt/internal/chserver"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// One chDB engine per process: TestMain starts one endpoint for every test
// of the package; each test works in a database of its own.
var (
	chSrv     *chserver.Server
	chMissing string // why the engine is unavailable
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	lib, err := chdb.FindLib("")
	if err != nil {
		if testenv.CI() {
			fmt.Fprintf(os.Stderr, "the ClickHouse engine is required in CI: %v\n", err)
			return 1
		}
		// Unit tests still run; integration tests skip saying why.
		chMissing = err.Error()
		return m.Run()
	}
	srv, stop, err := testenv.StartEngine(lib, testenv.EngineAccount(testCHUser, testCHPassword))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	chSrv = srv
	return m.Run()
}

// The package's tests share one engine, each in a database of its own, and
// call t.Parallel; those that bound a latency, time an ack wait, measure
// this process's memory or create server-wide roles stay serial.

// The embedded endpoint's account in these tests.
const testCHUser, testCHPassword = "vakt", "store-test-password"

// needEngine returns the endpoint's address, or skips (fails in CI) when
// the engine library is missing.
func needEngine(t testing.TB) string {
	t.Helper()
	if chSrv == nil {
		if testenv.CI() {
			t.Fatalf("the ClickHouse engine is required in CI: %s", chMissing)
		}
		t.Skipf("skipping: no ClickHouse engine: %s", chMissing)
	}
	return chSrv.Addr()
}

func openCH(t testing.TB, addr string) driver.Conn {
	t.Helper()
	conn, err := Open(t.Context(), ClickHouseConfig{Addr: []string{addr}, Protocol: ProtocolHTTP, DialTimeout: 5 * time.Second, Username: testCHUser, Password: testCHPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// testDB names a database for the test and migrates it.
func testDB(t testing.TB, conn driver.Conn) string {
	t.Helper()
	db := "t_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if err := conn.Exec(t.Context(), "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(t.Context(), conn, SchemaConfig{Database: db}); err != nil {
		t.Fatal(err)
	}
	return db
}

// startNATS starts an embedded nats-server with the pipeline's streams.
func startNATS(t testing.TB, ackWait time.Duration) jetstream.JetStream {
	t.Helper()
	srv := testenv.RunNATS(t)
	nc, js, err := bus.Connect(bus.ConnConfig{URL: srv.ClientURL(), Name: t.Name()}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sc := bus.DefaultStreamConfig()
	sc.AckWait = ackWait
	if err := bus.Ensure(t.Context(), js, sc); err != nil {
		t.Fatal(err)
	}
	return js
}

// publish sends events [from, from+n) as one batch message.
func publish(t testing.TB, js jetstream.JetStream, id string, from, n int) {
	t.Helper()
	msg := &nats.Msg{Subject: bus.EventsSubject("example.org"), Data: batchMsg(from, n), Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	msg.Header.Set(bus.HeaderRecords, strconv.Itoa(n))
	if _, err := js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
}

// runStore runs a store until the test ends and checks it stops cleanly.
func runStore(t testing.TB, cfg Config, js jetstream.JetStream, conn driver.Conn) *Store {
	t.Helper()
	s, err := New(cfg, js, conn, discardLogger(), metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

func consumerInfo(t testing.TB, js jetstream.JetStream) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(t.Context(), bus.EventsStream, bus.StoreConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func waitDrained(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := bus.WaitDrained(ctx, js, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func count(t testing.TB, conn driver.Conn, db string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(t.Context(), "SELECT count() FROM "+tableName(db, RequestsTable)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func storeConfig(addr, db string) Config {
	return Config{
		ClickHouse:    ClickHouseConfig{Addr: []string{addr}, Protocol: ProtocolHTTP, Database: db, Username: testCHUser, Password: testCHPassword},
		FlushInterval: 100 * time.Millisecond,
	}
}

// TestStoreRowsTyped: events published to the events stream become rows
// with the right typed values, NULL durations where unknown and millisecond
// timestamps in UTC; a corrupt message is terminated and counted.
func TestStoreRowsTyped(t *testing.T) {
	t.Parallel()
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	js := startNATS(t, 30*time.Second)

	const msgs, per = 20, 50
	for i := range msgs {
		publish(t, js, "m"+strconv.Itoa(i), i*per, per)
	}
	bad := &nats.Msg{Subject: bus.EventsSubject("example.org"), Data: []byte{0x0a, 0xff, 0x01}}
	if _, err := js.PublishMsg(t.Context(), bad); err != nil {
		t.Fatal(err)
	}
	publish(t, js, "empty", 0, 0)

	s := runStore(t, storeConfig(addr, db), js, conn)
	waitDrained(t, js)

	if n := count(t, conn, db); n != msgs*per {
		t.Fatalf("%d rows, want %d", n, msgs*per)
	}
	if st := s.Stats(); st.Rows != msgs*per || st.Rejected != 1 || st.InsertErrors != 0 || st.Batches == 0 {
		t.Errorf("stats %+v", st)
	}

	rows, err := conn.Query(t.Context(), `SELECT ts, toTypeName(ts), timezone(), site, client_id, network_id, ip_version, epoch,
		country, asn, as_org, method, path, query, protocol, status, bytes, referrer, user_agent, host,
		request_time, upstream_time, flags, signature
		FROM `+tableName(db, RequestsTable)+` ORDER BY toUInt32(substring(path, 7))`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var (
			ts                                                    time.Time
			tsType, tz, site, country, asOrg, method, path, query string
			proto, referrer, ua, host, signature                  string
			clientID, networkID, bytes                            uint64
			ipVersion                                             uint8
			epoch, asn, flags                                     uint32
			status                                                uint16
			requestTime, upstreamTime                             *float32
		)
		if err := rows.Scan(&ts, &tsType, &tz, &site, &clientID, &networkID, &ipVersion, &epoch,
			&country, &asn, &asOrg, &method, &path, &query, &proto, &status, &bytes, &referrer, &ua, &host,
			&requestTime, &upstreamTime, &flags, &signature); err != nil {
			t.Fatal(err)
		}
		e := testEvent(i)
		// DateTime64(3): microseconds are cut to milliseconds.
		if want := e.Time.Truncate(time.Millisecond); !ts.Equal(want) || ts.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("row %d: ts %s, want %s", i, ts.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
		if tsType != "DateTime64(3, 'UTC')" {
			t.Errorf("ts type %s", tsType)
		}
		got := []any{site, clientID, networkID, ipVersion, epoch, country, asn, asOrg, method, path, query, proto, status, bytes, referrer, ua, host, flags, signature}
		want := []any{e.Site, e.ClientID, e.NetworkID, e.IPVersion, e.Epoch, e.Country, e.ASN, e.ASOrg, e.Method, e.Path, e.Query, e.Protocol, e.Status, e.Bytes, e.Referrer, e.UserAgent, e.Host, uint32(e.Flags), e.Signature}
		for k := range got {
			if got[k] != want[k] {
				t.Errorf("row %d field %d: %v, want %v", i, k, got[k], want[k])
			}
		}
		checkDuration(t, i, "request_time", requestTime, e.RequestTime)
		checkDuration(t, i, "upstream_time", upstreamTime, e.UpstreamTime)
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != msgs*per {
		t.Errorf("scanned %d rows", i)
	}
}

func checkDuration(t *testing.T, row int, col string, got *float32, want time.Duration) {
	t.Helper()
	switch {
	case want == event.Unknown && got != nil:
		t.Errorf("row %d %s = %v, want NULL", row, col, *got)
	case want != event.Unknown && got == nil:
		t.Errorf("row %d %s is NULL, want %s", row, col, want)
	case want != event.Unknown && *got != float32(want.Seconds()):
		t.Errorf("row %d %s = %v, want %v", row, col, *got, want.Seconds())
	}
}

// TestStoreWorkersExactlyOnce: several workers filling small batches from
// the shared consumer store every row once.
func TestStoreWorkersExactlyOnce(t *testing.T) {
	t.Parallel()
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	js := startNATS(t, 30*time.Second)
	cfg := storeConfig(addr, db)
	cfg.Workers = 3
	cfg.BatchRows = 1000 // many batches, flushed by rows rather than time
	s := runStore(t, cfg, js, conn)
	const msgs, per = 200, 100
	for i := range msgs {
		publish(t, js, "w"+strconv.Itoa(i), i*per, per)
	}
	waitDrained(t, js)
	var n, distinct uint64
	if err := conn.QueryRow(t.Context(), "SELECT count(), uniqExact(path) FROM "+tableName(db, RequestsTable)).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != msgs*per || distinct != msgs*per {
		t.Fatalf("%d rows, %d distinct; want %d of each", n, distinct, msgs*per)
	}
	if st := s.Stats(); st.Batches < 10 || st.Rows != msgs*per {
		t.Errorf("stats %+v", st)
	}
}

// TestShutdownFlushes: cancelling Run stores the batch in hand at once
// instead of waiting for its flush interval, and acks it.
func TestShutdownFlushes(t *testing.T) {
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	js := startNATS(t, 60*time.Second)
	cfg := storeConfig(addr, db)
	cfg.FlushInterval = 15 * time.Second
	s, err := New(cfg, js, conn, discardLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for i := range 5 {
		publish(t, js, "s"+strconv.Itoa(i), i*10, 10)
	}
	testenv.WaitFor(t, 10*time.Second, "the messages to be held", func() bool { return consumerInfo(t, js).NumAckPending == 5 })
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("shutdown took %s", el)
	}
	if n := count(t, conn, db); n != 50 {
		t.Errorf("%d rows after shutdown, want 50", n)
	}
	waitDrained(t, js)
}

// TestInsertDeduplicationToken: the same batch inserted twice under one
// token is stored once, in the requests and in every rollup the views
// write; under another token it is stored again.
func TestInsertDeduplicationToken(t *testing.T) {
	t.Parallel()
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	ins := newCHInserter(conn, db, false)
	r := testRows(1000)
	for i, step := range []struct {
		token string
		want  uint64
	}{
		{"vakt-a", 1000},
		{"vakt-a", 1000}, // a retry after a lost response
		{"vakt-b", 2000}, // another batch that happens to hold the same rows
		{"vakt-a", 2000},
	} {
		if err := ins.insert(t.Context(), step.token, r); err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		if n := count(t, conn, db); n != step.want {
			t.Fatalf("after insert %d (token %s): %d rows, want %d", i, step.token, n, step.want)
		}
		// The rollups the views write, those fed by another rollup's
		// view included, count each request once too.
		for _, table := range []string{HealthTable, HealthHourlyTable, SignalsTable, PathsTable, PathsWeeklyTable, SourcesTable, EpochsTable} {
			var n uint64
			if err := conn.QueryRow(t.Context(), "SELECT sum(requests) FROM "+tableName(db, table)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != step.want {
				t.Errorf("after insert %d (token %s): %s counts %d requests, want %d", i, step.token, table, n, step.want)
			}
		}
	}
}

// TestInsertRefusedOnAFullDisk: below the free space an insert needs, the
// engine refuses it before writing anything, with an error that names the
// full disk and its fix; once there is room the same batch is stored.
func TestInsertRefusedOnAFullDisk(t *testing.T) {
	t.Parallel()
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	ins := newCHInserter(conn, db, false)
	r := testRows(100)
	ins.minFree = 1 << 62 // more than any disk has free
	err := ins.insert(t.Context(), "vakt-full", r)
	if err == nil || insertFix(err) == "" {
		t.Fatalf("insert with too little free space: err %v, fix %q; want a refusal naming the full disk", err, insertFix(err))
	}
	if ins.noFreeCheck.Load() {
		t.Fatalf("the server's refusal was taken for a server without the setting: %v", err)
	}
	if n := count(t, conn, db); n != 0 {
		t.Fatalf("%d rows stored by a refused insert", n)
	}
	ins.minFree = minFreeForInsert
	if err := ins.insert(t.Context(), "vakt-full", r); err != nil {
		t.Fatalf("insert once there is room: %v", err)
	}
	if n := count(t, conn, db); n != 100 {
		t.Fatalf("%d rows stored, want 100", n)
	}
}

// TestStoredDaysFindsBatchByDay: the engine finds the days an ingest
// batch's rows are stored in, by its key, and nothing for another key,
// another site or outside the batch's time span.
func TestStoredDaysFindsBatchByDay(t *testing.T) {
	t.Parallel()
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	ins := newCHInserter(conn, db, false)
	midnight := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	const key = 0xfeedface
	var r rows
	for i := range 10 {
		e := testEvent(i)
		e.Time = midnight.Add(time.Duration(i-5) * time.Minute) // 5 rows each day
		r.add(&e, key)
	}
	// Only the first day's rows stored: as if an insert split by day had
	// committed one partition.
	r.truncate(5)
	if err := ins.insert(t.Context(), "vakt-days", &r); err != nil {
		t.Fatal(err)
	}
	lo, hi := midnight.Add(-5*time.Minute).UnixMilli(), midnight.Add(4*time.Minute).UnixMilli()
	day := unixDay(midnight)
	for _, c := range []struct {
		name   string
		keys   []uint64
		sites  []string
		lo, hi int64
		want   map[keyDay]bool
	}{
		{"stored batch", []uint64{key}, []string{"example.org"}, lo, hi, map[keyDay]bool{{key, day - 1}: true}},
		{"among others", []uint64{7, key, key + 1}, []string{"example.org"}, lo, hi, map[keyDay]bool{{key, day - 1}: true}},
		{"quoted sites", []uint64{key}, []string{"o'ther", `back\slash`, "example.org"}, lo, hi, map[keyDay]bool{{key, day - 1}: true}},
		{"other key", []uint64{key + 1}, []string{"example.org"}, lo, hi, map[keyDay]bool{}},
		{"other site", []uint64{key}, []string{"example.com"}, lo, hi, map[keyDay]bool{}},
		{"later span", []uint64{key}, []string{"example.org"}, midnight.UnixMilli(), hi, map[keyDay]bool{}},
	} {
		got, err := ins.stored(t.Context(), c.keys, c.sites, c.lo, c.hi)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !maps.Equal(got, c.want) {
			t.Errorf("%s: stored days %v, want %v", c.name, got, c.want)
		}
	}
}

// TestOpen: bad settings and unreachable servers fail with the reason.
func TestOpen(t *testing.T) {
	addr := needEngine(t)
	tests := []struct {
		name    string
		cfg     ClickHouseConfig
		wantErr string
	}{
		{"http", ClickHouseConfig{Addr: []string{addr}, Protocol: ProtocolHTTP, Username: testCHUser, Password: testCHPassword}, ""},
		// No protocol named: the production default, which must be the
		// one the engine's endpoint speaks (HTTP), so the tests run it.
		{"default protocol", ClickHouseConfig{Addr: []string{addr}, Username: testCHUser, Password: testCHPassword}, ""},
		{"invalid", ClickHouseConfig{Protocol: ProtocolHTTP}, "clickhouse.addr"},
		{"unreachable", ClickHouseConfig{Addr: []string{"127.0.0.1:1"}, Protocol: ProtocolHTTP, DialTimeout: 2 * time.Second}, "ping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := Open(t.Context(), tt.cfg)
			if conn != nil {
				conn.Close()
			}
			checkErr(t, err, tt.wantErr)
		})
	}
}

// BenchmarkInsert200k measures one 200,000-row batch insert through the
// HTTP endpoint, columnar (as the store does) and row by row.
//
//	go test ./store -run '^$' -bench Insert200k -benchtime 5x
func BenchmarkInsert200k(b *testing.B) {
	addr := needEngine(b)
	conn := openCH(b, addr)
	db := testDB(b, conn)
	r := testRows(200_000)
	ins := newCHInserter(conn, db, false)
	b.Run("columnar", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n++
			if err := ins.insert(b.Context(), fmt.Sprintf("bench-col-%d-%d", time.Now().UnixNano(), n), r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(r.len())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(r.size)/1e6, "MB/batch")
	})
	b.Run("rows", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n++
			// A token of its own, or the engine drops the repeated block as a duplicate.
			ctx := clickhouse.Context(b.Context(), clickhouse.WithSettings(clickhouse.Settings{
				"insert_deduplication_token": fmt.Sprintf("bench-row-%d-%d", time.Now().UnixNano(), n),
			}))
			batch, err := conn.PrepareBatch(ctx, insertSQL(db))
			if err != nil {
				b.Fatal(err)
			}
			cols := r.columns()
			for i := range r.len() {
				rt, ut := cols[18].([]*float32)[i], cols[19].([]*float32)[i]
				if err := batch.Append(time.UnixMilli(r.ts[i]).UTC(), r.site[i], r.clientID[i], r.networkID[i], r.ipVersion[i], r.epoch[i],
					r.country[i], r.asn[i], r.asOrg[i], r.method[i], r.path[i], r.query[i], r.proto[i], r.status[i], r.bytes[i],
					r.referrer[i], r.userAgent[i], r.host[i], rt, ut, r.flags[i], r.batchKey[i], r.signature[i]); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(r.len())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
