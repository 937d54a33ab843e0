package store

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// faultProxy stands between the store and the endpoint to break inserts:
// down refuses every request; loseInserts forwards inserts but answers the
// client with an error after they committed (a lost response).
type faultProxy struct {
	down        atomic.Bool
	loseInserts atomic.Int32
	inserts     atomic.Int32 // inserts forwarded
	addr        string
}

func newFaultProxy(t testing.TB, backend string) *faultProxy {
	t.Helper()
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, "Code: 210. DB::NetException: "+err.Error()+" (test proxy)", http.StatusBadGateway)
	}
	rp.ModifyResponse = func(res *http.Response) error {
		if isInsert(res.Request) && res.StatusCode == http.StatusOK && p.loseInserts.Add(-1) >= 0 {
			return errors.New("response lost")
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			http.Error(w, "Code: 210. DB::NetException: connection refused (test proxy is down)", http.StatusServiceUnavailable)
			return
		}
		if isInsert(r) {
			p.inserts.Add(1)
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.addr = ln.Addr().String()
	return p
}

func isInsert(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Query().Get("query"), "INSERT")
}

// TestAckOnlyAfterCommit: while ClickHouse is unreachable nothing is acked,
// nothing is redelivered (the messages are kept in progress past their ack
// wait) and nothing more is pulled; after recovery, with the first insert's
// response lost, every row is stored exactly once and everything is acked.
func TestAckOnlyAfterCommit(t *testing.T) {
	addr := needEngine(t)
	conn := openCH(t, addr)
	db := testDB(t, conn)
	const ackWait = 1500 * time.Millisecond
	js := startNATS(t, ackWait)
	proxy := newFaultProxy(t, addr)
	proxy.down.Store(true)

	storeConn := openCHViaProxy(t, proxy)
	cfg := storeConfig(proxy.addr, db)
	cfg.MaxRetryBackoff = 300 * time.Millisecond
	s := runStore(t, cfg, js, storeConn)

	const first = 10
	for i := range first {
		publish(t, js, "a"+strconv.Itoa(i), i*100, 100)
	}
	testenv.WaitFor(t, 10*time.Second, "the first batch to be held", func() bool {
		return consumerInfo(t, js).NumAckPending == first && s.Stats().InsertErrors >= 2
	})
	// Published during the outage: must not be pulled while the batch in
	// hand cannot be stored.
	for i := range 5 {
		publish(t, js, "b"+strconv.Itoa(i), (first+i)*100, 100)
	}
	time.Sleep(2 * ackWait) // longer than the ack wait: InProgress must hold the messages
	info := consumerInfo(t, js)
	if info.NumAckPending != first || info.NumPending != 5 || info.NumRedelivered != 0 {
		t.Fatalf("during the outage: ack pending %d (want %d), pending %d (want 5), redelivered %d (want 0)",
			info.NumAckPending, first, info.NumPending, info.NumRedelivered)
	}
	if n := count(t, conn, db); n != 0 {
		t.Fatalf("%d rows stored during the outage", n)
	}
	if st := s.Stats(); st.Rows != 0 || st.InsertErrors < 3 {
		t.Fatalf("stats during outage %+v", st)
	}

	// Recovery, but the response of the first insert is lost after commit:
	// the retry carries the same token and must not store the rows again.
	proxy.loseInserts.Store(1)
	proxy.down.Store(false)
	waitDrained(t, js)
	if n := count(t, conn, db); n != (first+5)*100 {
		t.Fatalf("%d rows after recovery, want %d exactly once", n, (first+5)*100)
	}
	if got := proxy.inserts.Load(); got < 2 {
		t.Errorf("%d inserts reached the engine; the lost response was not retried", got)
	}
	var distinct uint64
	if err := conn.QueryRow(t.Context(), "SELECT uniqExact(path) FROM "+tableName(db, RequestsTable)).Scan(&distinct); err != nil {
		t.Fatal(err)
	}
	if distinct != (first+5)*100 {
		t.Errorf("%d distinct rows, want %d", distinct, (first+5)*100)
	}
	if info := consumerInfo(t, js); info.NumRedelivered != 0 {
		t.Errorf("%d messages redelivered", info.NumRedelivered)
	}
}

func openCHViaProxy(t testing.TB, p *faultProxy) driver.Conn {
	t.Helper()
	// Open pings; the proxy may be down on purpose, so open while it is up.
	down := p.down.Swap(false)
	defer p.down.Store(down)
	return openCH(t, p.addr)
}
