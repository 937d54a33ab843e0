package store

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
)

// varied returns n events from seed spread over [base, base+span): several
// sites, clients that come back, repeated paths, every status class (and
// odd ones), unknown latencies and threat flags.
func varied(seed uint64, n int, base time.Time, span time.Duration) []event.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	sites := []string{"shop.example", "blog.example", "api.example"}
	statuses := []uint16{200, 200, 200, 204, 301, 304, 400, 401, 404, 404, 500, 503, 101, 0, 999}
	methods := []string{"GET", "GET", "GET", "POST", "HEAD", "PUT"}
	out := make([]event.Event, n)
	for i := range out {
		client := uint64(rng.IntN(40))
		e := event.Event{
			Time:      base.Add(time.Duration(rng.Int64N(int64(span)))).UTC(),
			Site:      sites[rng.IntN(len(sites))],
			ClientID:  0x9e3779b97f4a7c15 * (client + 1),
			NetworkID: 0x51_7cc1_b727_220a * (client%9 + 1),
			IPVersion: 4,
			Epoch:     20_000,
			Country:   []string{"DE", "SE", "US", ""}[client%4],
			ASN:       uint32(64_500 + client%5),
			Method:    methods[rng.IntN(len(methods))],
			Path:      "/p/" + strconv.Itoa(rng.IntN(60)),
			Protocol:  "HTTP/1.1",
			Status:    statuses[rng.IntN(len(statuses))],
			Bytes:     uint64(rng.IntN(50_000)),
			UserAgent: "ua",
			Host:      "h",
			// A fifth without a logged request time.
			RequestTime:  time.Duration(rng.ExpFloat64() * float64(80*time.Millisecond)),
			UpstreamTime: event.Unknown,
		}
		if rng.IntN(5) == 0 {
			e.RequestTime = event.Unknown
		}
		if rng.IntN(10) == 0 {
			e.Flags = event.Flags(1 << rng.IntN(6))
		}
		out[i] = e
	}
	return out
}

func publishEvents(t testing.TB, js jetstream.JetStream, id string, evs []event.Event) {
	t.Helper()
	var b []byte
	for i := range evs {
		b = event.AppendEvent(b, &evs[i])
	}
	msg := &nats.Msg{Subject: bus.EventsSubject("example.org"), Data: b, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	msg.Header.Set(bus.HeaderRecords, strconv.Itoa(len(evs)))
	if _, err := js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatal(err)
	}
}

// totals are request counts of one database's three tables, optionally
// within a window.
type totals struct{ requests, health, clients uint64 }

func tableTotals(t testing.TB, conn driver.Conn, db string) totals {
	t.Helper()
	var tt totals
	q := fmt.Sprintf("SELECT (SELECT count() FROM %s), (SELECT sum(requests) FROM %s), (SELECT sum(requests) FROM %s)",
		tableName(db, RequestsTable), tableName(db, HealthTable), tableName(db, ClientsTable))
	if err := conn.QueryRow(t.Context(), q).Scan(&tt.requests, &tt.health, &tt.clients); err != nil {
		t.Fatal(err)
	}
	return tt
}

// queryRows returns every row of q as strings, keyed by its first column.
func queryRows(t testing.TB, conn driver.Conn, q string) map[string][]string {
	t.Helper()
	rows, err := conn.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var key string
		var vals []string
		if err := rows.Scan(&key, &vals); err != nil {
			t.Fatal(err)
		}
		out[key] = vals
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRollupsMatchRawRows (acceptance 4): events stored through the
// pipeline in many small batches (so every minute and hour is built from
// several inserts and parts) give rollups whose every figure equals the
// same aggregate over the raw rows, per group and for a window.
func TestRollupsMatchRawRows(t *testing.T) {
	t.Parallel()
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	js := startNATS(t, 30*time.Second)
	cfg := storeConfig(addr, db)
	cfg.Workers = 2
	cfg.BatchRows = 700

	base := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	const msgs, per = 60, 250
	for i := range msgs {
		publishEvents(t, js, "r"+strconv.Itoa(i), varied(uint64(i), per, base, 3*time.Hour))
	}
	s := runStore(t, cfg, js, conn)
	waitDrained(t, js)
	if st := s.Stats(); st.Rows != msgs*per || st.Batches < 10 {
		t.Fatalf("stats %+v: want %d rows in many batches", st, msgs*per)
	}

	req, health, clients := tableName(db, RequestsTable), tableName(db, HealthTable), tableName(db, ClientsTable)
	healthRaw := queryRows(t, conn, `SELECT site || ' ' || toString(toStartOfMinute(ts)) AS k, [toString(count()),
		toString(countIf(status >= 200 AND status < 300)), toString(countIf(status >= 300 AND status < 400)),
		toString(countIf(status >= 400 AND status < 500)), toString(countIf(status >= 500 AND status < 600)),
		toString(countIf(status < 200 OR status >= 600)), toString(sum(bytes)), toString(countIf(flags != 0)),
		toString(count(request_time))] FROM `+req+` GROUP BY k`)
	healthRollup := queryRows(t, conn, `SELECT site || ' ' || toString(minute) AS k, [toString(sum(requests)),
		toString(sum(status_2xx)), toString(sum(status_3xx)), toString(sum(status_4xx)), toString(sum(status_5xx)),
		toString(sum(status_other)), toString(sum(bytes)), toString(sum(flagged)), toString(sum(latency_known))]
		FROM `+health+` GROUP BY k`)
	if len(healthRaw) < 3*170 || !reflect.DeepEqual(healthRaw, healthRollup) {
		t.Errorf("health rollup differs from the raw rows (%d minutes raw, %d rolled up)", len(healthRaw), len(healthRollup))
		diff(t, healthRaw, healthRollup)
	}

	clientRaw := queryRows(t, conn, `SELECT concat(site, ' ', toString(toStartOfHour(ts)), ' ', toString(client_id), ' ', toString(epoch), ' ', toString(network_id)) AS k,
		[toString(count()), toString(countIf(status >= 400)), toString(countIf(status = 404)), toString(sum(bytes)),
		toString(uniqExact(path)), toString(arraySort(groupUniqArray(toString(method)))), toString(groupBitOr(flags)),
		toString(countIf(flags != 0)), toString(min(toDateTime(ts))), toString(max(toDateTime(ts))), any(country), toString(any(asn))]
		FROM `+req+` GROUP BY k`)
	clientRollup := queryRows(t, conn, `SELECT concat(site, ' ', toString(hour), ' ', toString(client_id), ' ', toString(epoch), ' ', toString(network_id)) AS k,
		[toString(sum(requests)), toString(sum(errors)), toString(sum(not_found)), toString(sum(bytes)),
		toString(uniqMerge(paths)), toString(arraySort(groupUniqArrayArray(methods))), toString(groupBitOr(flags)),
		toString(sum(flagged)), toString(min(first_seen)), toString(max(last_seen)), anyLast(country), toString(anyLast(asn))]
		FROM `+clients+` GROUP BY k`)
	if len(clientRaw) < 300 || !reflect.DeepEqual(clientRaw, clientRollup) {
		t.Errorf("client rollup differs from the raw rows (%d client-hours raw, %d rolled up)", len(clientRaw), len(clientRollup))
		diff(t, clientRaw, clientRollup)
	}

	// A window: the middle hour, in all three tables.
	from, to := base.Add(time.Hour), base.Add(2*time.Hour)
	var raw, h, c uint64
	q := fmt.Sprintf(`SELECT
		(SELECT count() FROM %s WHERE ts >= toDateTime({from:String}, 'UTC') AND ts < toDateTime({to:String}, 'UTC')),
		(SELECT sum(requests) FROM %s WHERE minute >= toDateTime({from:String}, 'UTC') AND minute < toDateTime({to:String}, 'UTC')),
		(SELECT sum(requests) FROM %s WHERE hour >= toDateTime({from:String}, 'UTC') AND hour < toDateTime({to:String}, 'UTC'))`, req, health, clients)
	if err := conn.QueryRow(clickhouse.Context(t.Context(), clickhouse.WithParameters(clickhouse.Parameters{
		"from": from.UTC().Format(time.DateTime), "to": to.UTC().Format(time.DateTime)})), q).Scan(&raw, &h, &c); err != nil {
		t.Fatal(err)
	}
	t.Logf("window %s-%s: %d raw rows, %d in the health rollup, %d in the client rollup", from.Format("15:04"), to.Format("15:04"), raw, h, c)
	if raw < msgs*per/4 || h != raw || c != raw {
		t.Errorf("window totals: raw %d, health %d, clients %d", raw, h, c)
	}

	// Latency quantiles from the t-digest states agree with the exact ones.
	var exact, digest []float64
	if err := conn.QueryRow(t.Context(), "SELECT quantilesExact(0.5, 0.9, 0.99)(request_time) FROM "+req).Scan(&exact); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(t.Context(), "SELECT quantilesTDigestMerge(0.5, 0.9, 0.99)(latency) FROM "+health).Scan(&digest); err != nil {
		t.Fatal(err)
	}
	for i := range exact {
		if math.Abs(digest[i]-exact[i]) > 0.03*exact[i]+0.001 {
			t.Errorf("latency quantile %d: %.4f s from the rollup, %.4f s exact", i, digest[i], exact[i])
		}
	}
	t.Logf("latency p50/p90/p99: exact %.4f/%.4f/%.4f s, rollup %.4f/%.4f/%.4f s", exact[0], exact[1], exact[2], digest[0], digest[1], digest[2])
}

func diff(t *testing.T, raw, rollup map[string][]string) {
	t.Helper()
	n := 0
	for k, v := range raw {
		if w, ok := rollup[k]; !ok || !reflect.DeepEqual(v, w) {
			t.Logf("%s: raw %v, rollup %v", k, v, w)
			if n++; n > 5 {
				return
			}
		}
	}
	for k, w := range rollup {
		if _, ok := raw[k]; !ok {
			t.Logf("%s: only in the rollup: %v", k, w)
		}
	}
}

// TestRetriedBatchStoredOnce (acceptance 2): a batch whose insert
// committed but whose response was lost is sent again under the same token
// and stored once, in the rows and in both rollups. The same rows under
// another token (another batch) are stored again, which shows the check
// sees a double count.
func TestRetriedBatchStoredOnce(t *testing.T) {
	t.Parallel()
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	proxy := newFaultProxy(t, addr)
	ins := newCHInserter(openCHViaProxy(t, proxy), db, false)
	var r rows
	evs := varied(1, 2000, time.Now().Add(-2*time.Hour), time.Hour)
	for i := range evs {
		r.add(&evs[i], 0)
	}

	proxy.loseInserts.Store(1)
	if err := ins.insert(t.Context(), "vakt-retry", &r); err == nil {
		t.Fatal("the proxy did not lose the response")
	}
	if got, want := tableTotals(t, conn, db), (totals{2000, 2000, 2000}); got != want {
		t.Fatalf("after the lost response: %+v, want %+v (the insert must have committed)", got, want)
	}
	if err := ins.insert(t.Context(), "vakt-retry", &r); err != nil {
		t.Fatal(err)
	}
	if got, want := tableTotals(t, conn, db), (totals{2000, 2000, 2000}); got != want {
		t.Fatalf("after the retry: %+v, want %+v", got, want)
	}
	if proxy.inserts.Load() != 2 {
		t.Fatalf("%d inserts reached the engine, want 2", proxy.inserts.Load())
	}
	if err := ins.insert(t.Context(), "vakt-other", &r); err != nil {
		t.Fatal(err)
	}
	if got, want := tableTotals(t, conn, db), (totals{4000, 4000, 4000}); got != want {
		t.Fatalf("another batch with the same rows: %+v, want %+v", got, want)
	}
}
