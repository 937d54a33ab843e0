package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/internal/testenv"
)

var vaktBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vakt-bin")
	if err != nil {
		panic(err)
	}
	vaktBin = filepath.Join(dir, "vakt")
	// The NATS store key lives outside the data dir, by default under the
	// user's config dir: the tests' keys stay in their own.
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	build := exec.Command("go", "build", "-o", vaktBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building vakt:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Tests that only drive vakt subprocesses (each in its own temp dirs, on
// free ports) call t.Parallel. Tests that open the ClickHouse engine in
// this process (openStore, testenv.RunEngine) stay serial, as do those
// that set environment variables or bound a latency: a test binary holds
// one chDB engine at a time.

// vakt runs the binary and returns stdout and stderr.
func vakt(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(vaktBin, args...)
	// A default ./data must never land in the repository.
	cmd.Dir = t.TempDir()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), "VAKT_LOG_LEVEL=debug")
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// testLog is a generated access log whose every line has a unique path
// (/t/<line>), so each stored row can be traced back to the IP that sent it.
type testLog struct {
	path      string
	lineIP    map[int]netip.Addr // line number → client IP, for valid lines
	ips       []netip.Addr
	valid     int
	malformed int
}

func writeTestLog(t *testing.T, dir string, lines, clients int) *testLog {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	tl := &testLog{path: filepath.Join(dir, "access.log"), lineIP: map[int]netip.Addr{}}
	seen := map[netip.Addr]bool{}
	for len(tl.ips) < clients {
		var ip netip.Addr
		if len(tl.ips)%4 == 3 { // a quarter IPv6
			var b [16]byte
			binary.BigEndian.PutUint64(b[:], 0x2a01_0000_0000_0000|rng.Uint64()&0x00ff_ffff_ffff_0000)
			binary.BigEndian.PutUint64(b[8:], rng.Uint64())
			ip = netip.AddrFrom16(b)
		} else {
			ip = netip.AddrFrom4([4]byte{byte(11 + rng.IntN(150)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		}
		if !seen[ip] {
			seen[ip] = true
			tl.ips = append(tl.ips, ip)
		}
	}
	var b strings.Builder
	start := time.Now().Add(-time.Hour)
	methods := []string{"GET", "GET", "GET", "POST", "HEAD"}
	statuses := []int{200, 200, 200, 304, 404, 500}
	for i := 0; i < lines; i++ {
		if i%200 == 199 { // malformed lines are counted, never stored
			fmt.Fprintf(&b, "garbage line %d without the combined format\n", i)
			tl.malformed++
			continue
		}
		ip := tl.ips[i%clients]
		if i >= clients {
			ip = tl.ips[rng.IntN(clients)]
		}
		ts := start.Add(time.Duration(i) * 250 * time.Millisecond).Format("02/Jan/2006:15:04:05 -0700")
		// The client's address is also in the path, the query (as a
		// parameter name, which scrubbing keeps, and a value), the
		// referrer's host and the user agent: stored, each is a pseudonym.
		host := ip.String()
		if ip.Is6() {
			host = "[" + host + "]"
		}
		fmt.Fprintf(&b, "%s - - [%s] \"%s /t/%d/from/%s?email=user%d@example.org&id=%d&from=%s&%s HTTP/1.1\" %d %d \"http://%s:8080/p?q=%s\" \"Mozilla/5.0 (test %d) via %s\"\n",
			ip, ts, methods[i%len(methods)], i, ip, i, i, ip, ip, statuses[i%len(statuses)], 100+i, host, ip, i%7, ip)
		tl.lineIP[i] = ip
		tl.valid++
	}
	if err := os.WriteFile(tl.path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return tl
}

// testLine is the line number of a path written by writeTestLog.
func testLine(path string) (int, error) {
	n, _, _ := strings.Cut(strings.TrimPrefix(path, "/t/"), "/")
	return strconv.Atoi(n)
}

// openStore starts the embedded engine on a data dir no process owns and
// returns a clickhouse-go connection to it.
func openStore(t *testing.T, dataDir string) driver.Conn {
	t.Helper()
	srv := testenv.RunEngine(t, testenv.EngineDataDir(filepath.Join(dataDir, "clickhouse")), testenv.EngineAccount("vakt", "cli-test-password"))
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}, Protocol: clickhouse.HTTP,
		Auth: clickhouse.Auth{Username: "vakt", Password: "cli-test-password"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

var summaryRe = regexp.MustCompile(`(?m)^(lines read|stored|rejected):\s+(\d+)`)

func TestImportEndToEndKeepsIPsOut(t *testing.T) {
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	tl := writeTestLog(t, work, 12_000, 1_200)

	stdout, stderr, err := vakt(t, "import", "--data-dir", dataDir, "--site", "e2e.example", tl.path)
	if err != nil {
		t.Fatalf("vakt import: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	t.Logf("vakt import:\n%s", stdout)
	got := map[string]int{}
	for _, m := range summaryRe.FindAllStringSubmatch(stdout, -1) {
		got[m[1]], _ = strconv.Atoi(m[2])
	}
	if got["lines read"] != tl.valid+tl.malformed || got["stored"] != tl.valid || got["rejected"] != tl.malformed {
		t.Fatalf("summary %v; want read %d stored %d rejected %d", got, tl.valid+tl.malformed, tl.valid, tl.malformed)
	}

	// vakt's own output, at debug level, never shows an IP.
	for _, ip := range tl.ips {
		if s := ip.String(); strings.Contains(stdout, s) || strings.Contains(stderr, s) {
			t.Fatalf("raw IP %s in vakt's output", s)
		}
	}

	// The data dir holds no raw IP, in text or in the raw events' binary form.
	scanDataDir(t, dataDir, tl.ips)

	ctx := context.Background()
	conn := openStore(t, dataDir)

	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM vakt.requests").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(tl.valid) {
		t.Fatalf("rows stored %d, lines parsed %d", rows, tl.valid)
	}

	checkNoIPInTables(t, ctx, conn, tl.ips)

	// One IP → one client id; different IPs → different ids (per epoch).
	rs, err := conn.Query(ctx, "SELECT path, client_id, network_id, epoch FROM vakt.requests")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	type key struct {
		epoch uint32
		ip    netip.Addr
	}
	idOf := map[key]uint64{}
	ipOf := map[[2]uint64]netip.Addr{}
	for rs.Next() {
		var path string
		var id, net uint64
		var epoch uint32
		if err := rs.Scan(&path, &id, &net, &epoch); err != nil {
			t.Fatal(err)
		}
		n, err := testLine(path)
		if err != nil {
			t.Fatalf("unexpected path %q", path)
		}
		ip := tl.lineIP[n]
		k := key{epoch, ip}
		if prev, ok := idOf[k]; ok && prev != id {
			t.Fatalf("IP of line %d has two client ids in epoch %d", n, epoch)
		}
		idOf[k] = id
		if other, ok := ipOf[[2]uint64{uint64(epoch), id}]; ok && other != ip {
			t.Fatalf("two IPs share client id %x", id)
		}
		ipOf[[2]uint64{uint64(epoch), id}] = ip
	}
	if len(idOf) < len(tl.ips) {
		t.Fatalf("only %d of %d clients stored", len(idOf), len(tl.ips))
	}

	// Query values are redacted, and the referrer keeps no query string.
	var leaked uint64
	if err := conn.QueryRow(ctx, "SELECT countIf(query LIKE '%example.org%' OR referrer LIKE '%?%') FROM vakt.requests").Scan(&leaked); err != nil {
		t.Fatal(err)
	}
	if leaked != 0 {
		t.Fatalf("%d rows keep query values or referrer query strings", leaked)
	}
	checkFreeTextPseudonyms(t, ctx, conn)
}

// checkFreeTextPseudonyms checks the rows of writeTestLog's lines: the
// client's address written in the path, query, referrer host and user agent
// is stored as "ip-" and the row's client id in 16 hex digits, the
// pseudonym an analyst can group by.
func checkFreeTextPseudonyms(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	var rows, bad, badPath, badQuery, badRef, badUA uint64
	err := conn.QueryRow(ctx, `WITH concat('ip-', lower(leftPad(hex(client_id), 16, '0'))) AS p
		SELECT count(),
			countIf(NOT (endsWith(path, concat('/from/', p)) AND endsWith(user_agent, concat(' via ', p)))),
			countIf(NOT endsWith(path, concat('/from/', p))),
			countIf(ip_version = 4 AND NOT endsWith(query, concat('&from=&', p))),
			countIf(NOT (startsWith(referrer, concat('http://', p, ':8080/')) OR startsWith(referrer, concat('http://[', p, ']:8080/')))),
			countIf(NOT endsWith(user_agent, concat(' via ', p)))
		FROM vakt.requests WHERE path LIKE '/t/%'`).Scan(&rows, &bad, &badPath, &badQuery, &badRef, &badUA)
	if err != nil {
		t.Fatal(err)
	}
	if rows == 0 || bad+badQuery+badRef > 0 {
		var path, query, ref, ua string
		_ = conn.QueryRow(ctx, "SELECT path, query, referrer, user_agent FROM vakt.requests WHERE path LIKE '/t/%' LIMIT 1").Scan(&path, &query, &ref, &ua)
		t.Fatalf("of %d rows, pseudonyms differ from the client id in %d paths, %d queries, %d referrers, %d user agents; e.g. %q %q %q %q",
			rows, badPath, badQuery, badRef, badUA, path, query, ref, ua)
	}
}

// checkNoIPInTables checks every column of every table in database vakt, by
// SQL, for the IPs as text and, in integer columns, as IPv4 numbers.
func checkNoIPInTables(t *testing.T, ctx context.Context, conn driver.Conn, ips []netip.Addr) {
	t.Helper()
	if err := conn.Exec(ctx, "CREATE TABLE default.test_ips (ip String) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO default.test_ips")
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		batch.Append(ip.String())
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	cols, err := conn.Query(ctx, `SELECT table, name, type FROM system.columns
		WHERE database = 'vakt' AND table IN (SELECT name FROM system.tables WHERE database = 'vakt' AND NOT is_temporary)`)
	if err != nil {
		t.Fatal(err)
	}
	defer cols.Close()
	checked := 0
	for cols.Next() {
		var table, name, typ string
		if err := cols.Scan(&table, &name, &typ); err != nil {
			t.Fatal(err)
		}
		col := fmt.Sprintf("vakt.`%s`.`%s`", table, name)
		q := fmt.Sprintf("SELECT count() FROM vakt.`%s` AS r CROSS JOIN default.test_ips AS i WHERE position(toString(r.`%s`), i.ip) > 0", table, name)
		if strings.Contains(typ, "Int") {
			q = fmt.Sprintf(`SELECT count() FROM vakt.%[1]s WHERE toUInt64OrZero(toString(%[2]s)) IN
				(SELECT toUInt64(toIPv4(ip)) FROM default.test_ips WHERE isIPv4String(ip))`, "`"+table+"`", "`"+name+"`")
		}
		var hits uint64
		if err := conn.QueryRow(ctx, q).Scan(&hits); err != nil {
			t.Fatalf("%s: %v", col, err)
		}
		if hits > 0 {
			t.Fatalf("%d raw IPs in column %s", hits, col)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked only %d columns", checked)
	}
}

// scanDataDir fails if any file under dir holds an IP: as text (any maximal
// run of address characters equal to an IP's text form), in the binary form
// a raw event carries it (protobuf field 3: 0x1a, length, address), or, for
// IPv6, as its 16 bytes anywhere. A bare 4-byte IPv4 pattern would match
// compressed data by chance; with the 2-byte tag prefix a chance match in
// 100 MB is about 1e-6.
func scanDataDir(t *testing.T, dir string, ips []netip.Addr) {
	t.Helper()
	text := map[string]bool{}
	tagged := map[string]bool{}
	v6 := map[[16]byte]bool{}
	for _, ip := range ips {
		raw, _ := ip.MarshalBinary()
		text[ip.String()] = true
		tagged[string(append([]byte{0x1a, byte(len(raw))}, raw...))] = true
		if ip.Is6() {
			text[ip.StringExpanded()] = true
			v6[ip.As16()] = true
		}
	}
	isAddrChar := func(c byte) bool {
		return c == '.' || c == ':' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		// Symlinks (ClickHouse links table dirs into store/) are walked at
		// their targets.
		if err != nil || d.IsDir() || d.Type()&os.ModeSymlink != 0 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for i := 0; i < len(b); {
			if !isAddrChar(b[i]) {
				i++
				continue
			}
			j := i
			for j < len(b) && isAddrChar(b[j]) {
				j++
			}
			if j-i >= 7 && text[strings.ToLower(string(b[i:j]))] {
				return fmt.Errorf("%s holds a raw IP as text at offset %d", path, i)
			}
			i = j
		}
		for i := 0; i+6 <= len(b); i++ {
			if b[i] == 0x1a && (b[i+1] == 4 && tagged[string(b[i:i+6])] || b[i+1] == 16 && i+18 <= len(b) && tagged[string(b[i:i+18])]) {
				return fmt.Errorf("%s holds a raw event's IP at offset %d", path, i)
			}
		}
		for i := 0; i+16 <= len(b); i++ {
			if v6[[16]byte(b[i:i+16])] {
				return fmt.Errorf("%s holds a raw IPv6 address at offset %d", path, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("data dir is empty")
	}
}
