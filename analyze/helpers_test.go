package analyze

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
)

// One chDB engine per process: every test of the package shares it, each
// in a database of its own. The alert tests share one NATS server too.
var chAddr, natsURL string

// The embedded endpoint's account in these tests.
const testCHUser, testCHPassword = "vakt", "report-test-password"

func TestMain(m *testing.M) {
	srv, stopEngine := testenv.MainEngine(testenv.EngineAccount(testCHUser, testCHPassword))
	chAddr = srv.Addr()
	dir, err := os.MkdirTemp("", "vakt-report-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		stopEngine()
		os.Exit(1)
	}
	natsSrv, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the embedded NATS server:", err)
		stopEngine()
		os.RemoveAll(dir)
		os.Exit(1)
	}
	natsURL = natsSrv.ClientURL()
	code := m.Run()
	natsSrv.Shutdown()
	stopEngine()
	os.RemoveAll(dir)
	os.Exit(code)
}

func openConn(t testing.TB) driver.Conn {
	t.Helper()
	conn, err := store.Open(t.Context(), store.ClickHouseConfig{Addr: []string{chAddr}, Protocol: store.ProtocolHTTP, DialTimeout: 5 * time.Second,
		Username: testCHUser, Password: testCHPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// testDB creates a fresh database with vakt's schema for the test.
func testDB(t testing.TB, conn driver.Conn) string {
	t.Helper()
	db := "t_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_", " ", "_").Replace(t.Name()))
	if err := conn.Exec(t.Context(), "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(t.Context(), conn, store.SchemaConfig{Database: db}); err != nil {
		t.Fatal(err)
	}
	return db
}

// row is one stored request, built the way the pseudonymiser builds it:
// flags come from the raw target and user agent (pseudonymize.Flags).
type row struct {
	ts          time.Time
	site        string
	client, net uint64
	ipv         uint8
	epoch       uint32
	country     string
	asn         uint32
	method      string
	target      string // raw path and query
	status      uint16
	bytes       uint64
	ua          string
	ref         string // raw referrer: matched by the signatures, stored empty
	rt          *float32
}

const testEpoch = 20_400

func insert(t testing.TB, conn driver.Conn, db string, rows []row) {
	t.Helper()
	batch, err := conn.PrepareBatch(t.Context(), "INSERT INTO `"+db+"`.requests")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		path, query, _ := strings.Cut(r.target, "?")
		epoch := r.epoch
		if epoch == 0 {
			epoch = testEpoch
		}
		ipv := r.ipv
		if ipv == 0 {
			ipv = 4
		}
		flags, sig := pseudonymize.BuiltinMatcher().Classify(r.target, r.ref, r.ua)
		err := batch.Append(r.ts, r.site, r.client, r.net, ipv, epoch, r.country, r.asn, "",
			r.method, path, pseudonymize.ScrubQuery(query, pseudonymize.QueryRedact), "HTTP/1.1",
			r.status, r.bytes, "", r.ua, r.site, r.rt, (*float32)(nil), uint32(flags), uint64(0), sig)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

func ptr32(v float32) *float32 { return &v }

var browserUAs = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}

var benignPages = []string{"/", "/blog", "/products", "/pricing", "/about", "/contact", "/login",
	"/docs/getting-started", "/docs/api", "/blog/release-notes-2024", "/products/1007",
	"/search?q=select+a+theme", "/search?q=cats+and+dogs", "/static/app.js", "/static/main.css", "/favicon.ico"}

// background is benign traffic on site over [start, start+span): clients
// clients (ids base+i, three per network), Zipf-distributed activity,
// mostly 200 with some 304, 404 (to a few distinct stale links) and 500,
// and now and then a mistyped password. Deterministic per seed.
func background(site string, start time.Time, span time.Duration, clients int, base uint64, seed uint64) []row {
	r := rand.New(rand.NewPCG(seed, 7))
	zipf := rand.NewZipf(r, 1.2, 2, 60)
	var out []row
	for i := range clients {
		id := base + uint64(i)
		n := 1 + int(zipf.Uint64())
		ua := browserUAs[r.IntN(len(browserUAs))]
		for range n {
			ts := start.Add(time.Duration(r.Int64N(int64(span))))
			rw := row{ts: ts, site: site, client: id, net: base + uint64(i/3), method: "GET", ua: ua,
				target: benignPages[r.IntN(len(benignPages))], status: 200, bytes: 1000 + uint64(r.IntN(50000)),
				rt: ptr32(float32(r.IntN(800)+5) / 1000)}
			switch x := r.Float64(); {
			case x < 0.04:
				rw.target, rw.status = fmt.Sprintf("/blog/old-post-%d", r.IntN(8)), 404
			case x < 0.05:
				rw.status = 500
			case x < 0.12:
				rw.status = 304
			case x < 0.14:
				rw.method, rw.target, rw.status = "POST", "/login", 302
				if r.Float64() < 0.3 {
					rw.status = 401
				}
			}
			out = append(out, rw)
		}
	}
	return out
}

// burst is n requests from one client, dt apart from start, each made by
// mk(i).
func burst(n int, start time.Time, dt time.Duration, mk func(i int) row) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = mk(i)
		out[i].ts = start.Add(time.Duration(i) * dt)
	}
	return out
}
