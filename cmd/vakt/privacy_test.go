package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// The tests in this file are issue 3's acceptance tests that need the real
// binary: the pipeline with debug logging, malformed lines and failing
// inserts (3), enrichment (4), scrubbing with flags (5) and the salts
// commands with and without a running vakt (1).

// TestRunDebugMalformedFailingInsertsKeepIPsOut is acceptance (3): `vakt
// run` at debug level follows a log with known IPs and malformed lines
// while every insert fails for a while; afterwards every valid line is
// stored exactly once, and no raw IP is in vakt's output, /metrics,
// ClickHouse or the data dir. On the running pipeline, `vakt salts status`
// and `vakt salts rotate` work through the running vakt, which switches to
// new ids at once.
func TestRunDebugMalformedFailingInsertsKeepIPsOut(t *testing.T) {
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	tl := writeTestLog(t, work, 3000, 300)
	badIPs := appendMalformed(t, tl)
	allIPs := append(append([]netip.Addr{}, tl.ips...), badIPs...)
	cfgFile, metricsAddr := writeConfig(t, work, "ingest:\n  from_start: true\n")
	common := []string{"--config", cfgFile, "--data-dir", dataDir}

	// Every insert into vakt.requests fails while this view exists.
	stdout, stderr, err := vakt(t, append([]string{"sql"}, append(common,
		`CREATE MATERIALIZED VIEW default.refuse_inserts ENGINE = Null AS
		 SELECT throwIf(status > 0, 'insert refused by the test') AS refused FROM vakt.requests`)...)...)
	if err != nil {
		t.Fatalf("create view: %v\n%s\n%s", err, stdout, stderr)
	}

	run := startBackground(t, append([]string{"run", "--file", tl.path}, common...)...)
	testenv.WaitFor(t, 60*time.Second, "failed inserts", func() bool {
		body, err := tryScrape(metricsAddr, dataDir) // refused until vakt listens
		return err == nil && metricSum(body, "vakt_insert_errors_total") >= 3
	})
	conn := runtimeCH(t, dataDir)
	// ClickHouse writes the table before the view throws, so the failed
	// attempts may have left rows: each retry must then be deduplicated.
	t.Logf("%d rows visible while inserts fail", countRows(t, conn, "SELECT count() FROM vakt.requests"))
	if err := conn.Exec(context.Background(), "DROP VIEW default.refuse_inserts"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 60*time.Second, "every valid line stored", func() bool {
		return countRows(t, conn, "SELECT count() FROM vakt.requests") >= uint64(tl.valid)
	})
	// Exactly once: no row twice, none missing, after the retries.
	time.Sleep(500 * time.Millisecond) // room for a duplicate to arrive
	if n, paths := countRows(t, conn, "SELECT count() FROM vakt.requests"), countRows(t, conn, "SELECT uniqExact(path) FROM vakt.requests"); n != uint64(tl.valid) || paths != n {
		t.Fatalf("%d rows with %d distinct paths, want %d valid lines stored once each", n, paths, tl.valid)
	}
	metrics := scrapeMetrics(t, metricsAddr, dataDir)
	assertNoIPText(t, "/metrics", metrics, allIPs)
	if got := metricSum(metrics, "vakt_rejected_total"); got < float64(tl.malformed) {
		t.Errorf("metrics count %v rejected lines, want at least the %d malformed", got, tl.malformed)
	}

	// The salts commands reach the running vakt's NATS. A run may cross a
	// day boundary (a 24 h epoch), so the stored rows may hold two epochs
	// and the current one may have no salt yet: each stored epoch must be
	// listed with its salt.
	ctx := context.Background()
	var stored []uint32
	if err := conn.QueryRow(ctx, "SELECT arraySort(groupUniqArray(epoch)) FROM vakt.requests").Scan(&stored); err != nil || len(stored) == 0 {
		t.Fatalf("stored epochs %v: %v", stored, err)
	}
	lastStored := stored[len(stored)-1]
	stdout, stderr, err = vakt(t, append([]string{"salts", "status", "--format", "json"}, common...)...)
	if err != nil {
		t.Fatalf("salts status: %v\n%s", err, stderr)
	}
	type listedEpoch struct {
		Epoch   uint32     `json:"epoch"`
		Created *time.Time `json:"created"`
	}
	var st struct {
		CurrentEpoch uint32        `json:"current_epoch"`
		Epochs       []listedEpoch `json:"epochs"`
	}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || st.CurrentEpoch < lastStored {
		t.Fatalf("salts status while running (stored epochs %v): %v\n%s", stored, err, stdout)
	}
	for _, e := range stored {
		i := slices.IndexFunc(st.Epochs, func(l listedEpoch) bool { return l.Epoch == e })
		if i < 0 || st.Epochs[i].Created == nil {
			t.Fatalf("salts status lists no salt for stored epoch %d:\n%s", e, stdout)
		}
	}
	rotOut, stderr, err := vakt(t, append([]string{"salts", "rotate", "--format", "json"}, common...)...)
	if err != nil {
		t.Fatalf("salts rotate: %v\n%s", err, stderr)
	}
	var rot struct {
		Epoch    uint32 `json:"epoch"`
		Replaced uint32 `json:"replaced"`
	}
	if err := json.Unmarshal([]byte(rotOut), &rot); err != nil || rot.Epoch <= lastStored || rot.Replaced != st.CurrentEpoch && rot.Replaced != st.CurrentEpoch+1 {
		t.Fatalf("salts rotate after status %d, stored epochs %v: %v\n%s", st.CurrentEpoch, stored, err, rotOut)
	}
	// New lines from the same IPs, followed by the running vakt.
	f, err := os.OpenFile(tl.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	for j, ip := range tl.ips[:50] {
		fmt.Fprintf(f, "%s - - [%s] \"GET /after-rotate/%d HTTP/1.1\" 200 1 \"-\" \"test\"\n", ip, ts, j)
	}
	f.Close()
	testenv.WaitFor(t, 30*time.Second, "the lines after the rotation", func() bool {
		return countRows(t, conn, "SELECT count() FROM vakt.requests WHERE path LIKE '/after-rotate/%'") == 50
	})
	if n := countRows(t, conn, "SELECT count() FROM vakt.requests WHERE path LIKE '/after-rotate/%' AND epoch >= ?", rot.Epoch); n != 50 {
		t.Fatalf("%d of 50 rows after the rotation in epoch %d or later", n, rot.Epoch)
	}
	// Same IP, new epoch, new id: no client id of an earlier epoch appears after.
	if n := countRows(t, conn, `SELECT count() FROM vakt.requests WHERE path LIKE '/after-rotate/%'
		AND client_id IN (SELECT client_id FROM vakt.requests WHERE epoch < ?)`, rot.Epoch); n != 0 {
		t.Fatalf("%d rows after the rotation reuse a client id of a replaced epoch", n)
	}
	run.stop(t)

	out := run.stdout.String() + run.stderr.String() + rotOut
	assertNoIPText(t, "vakt run's output", out, allIPs)
	for _, want := range []string{"insert failed; retrying", "level=DEBUG", "salts rotated"} {
		if !strings.Contains(out, want) {
			t.Errorf("vakt run's output lacks %q: the test did not exercise what it claims", want)
		}
	}
	scanDataDir(t, dataDir, allIPs)
	store := openStore(t, dataDir)
	checkNoIPInTables(t, ctx, store, allIPs)
}

// TestImportEnrichesAndScrubs covers acceptance (4) and (5) through `vakt
// import`: country and ASN from mmdbwriter-built databases on every row
// whose IP they know, and a query string with an e-mail address, a token
// and an SQL injection stored redacted while the row carries the flag. A
// second import under a site with the keep policy stores its query as is.
func TestImportEnrichesAndScrubs(t *testing.T) {
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	tl := writeTestLog(t, work, 1000, 120)

	// The databases know every IP but each fifth, by exact address.
	nets := map[netip.Prefix]testenv.GeoRecord{}
	want := map[netip.Addr]testenv.GeoRecord{}
	countries := []string{"SE", "DE", "NL", "JP"}
	for i, ip := range tl.ips {
		if i%5 == 4 {
			continue
		}
		r := testenv.GeoRecord{Country: countries[i%len(countries)], ASN: uint32(64500 + i), ASOrg: fmt.Sprintf("Test Org %d", i)}
		nets[netip.PrefixFrom(ip, ip.BitLen())] = r
		want[ip] = r
	}
	countryDB, asnDB := testenv.WriteGeoIPDBs(t, work, "", nets)

	// Injection probes, raw and as a browser would encode them.
	probeIP := tl.ips[0]
	ts := time.Now().Add(-time.Minute).Format("02/Jan/2006:15:04:05 -0700")
	probes := fmt.Sprintf(
		"%[1]s - - [%[2]s] \"GET /login?email=a@b.se&token=XYZ&id=1' OR 1=1-- HTTP/1.1\" 200 5 \"-\" \"sqlmap\"\n"+
			"%[1]s - - [%[2]s] \"GET /login2?email=a%%40b.se&token=XYZsecret4711&id=1%%27%%20OR%%201=1-- HTTP/1.1\" 200 5 \"https://shop.example/cart?coupon=SECRETCOUPON\" \"Mozilla/5.0\"\n",
		probeIP, ts)
	f, err := os.OpenFile(tl.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(probes)
	f.Close()

	// nginx "main" lines, which log X-Forwarded-For, behind a trusted proxy.
	proxyLog := filepath.Join(work, "proxy.log")
	var pl strings.Builder
	for _, l := range []struct{ remote, path, xff string }{
		{"203.0.113.50", "/direct", "-"},
		{"10.0.0.5", "/via-proxy", "6.6.6.6, 203.0.113.50"}, // the right-most untrusted entry is the client
		{"198.51.100.99", "/spoofed", "203.0.113.50"},       // not a trusted proxy: the header is ignored
		{"6.6.6.6", "/claimed", "-"},
	} {
		fmt.Fprintf(&pl, "%s - - [%s] \"GET %s HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0\" \"%s\"\n", l.remote, ts, l.path, l.xff)
	}
	os.WriteFile(proxyLog, []byte(pl.String()), 0o600)

	keepLog := filepath.Join(work, "keep.log")
	os.WriteFile(keepLog, []byte(fmt.Sprintf("%s - - [%s] \"GET /search?q=shoes&page=2 HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0\"\n", probeIP, ts)), 0o600)

	cfgFile, _ := writeConfig(t, work, fmt.Sprintf(`pseudonymize:
  geoip:
    country_db: %s
    asn_db: %s
  sites:
    keep.example: {query_policy: keep}
  trusted_proxies: [10.0.0.0/8]
`, countryDB, asnDB))
	common := []string{"--config", cfgFile, "--data-dir", dataDir}
	stdout, stderr, err := vakt(t, append(append([]string{"import", "--site", "shop.example"}, common...), tl.path)...)
	if err != nil {
		t.Fatalf("import: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "GeoIP enrichment: country from "+countryDB+", ASN from "+asnDB) {
		t.Errorf("no enrichment log line:\n%s", tailOf(stderr, 3000))
	}
	if _, stderr, err := vakt(t, append(append([]string{"import", "--site", "keep.example"}, common...), keepLog)...); err != nil {
		t.Fatalf("import keep: %v\n%s", err, stderr)
	}
	if _, stderr, err := vakt(t, append(append([]string{"import", "--site", "proxy.example"}, common...), proxyLog)...); err != nil {
		t.Fatalf("import proxy: %v\n%s", err, stderr)
	}

	ctx := context.Background()
	conn := openStore(t, dataDir)

	// (4) Country and ASN on every row, as the databases say.
	rows, err := conn.Query(ctx, "SELECT path, country, asn, as_org FROM vakt.requests WHERE site = 'shop.example' AND path LIKE '/t/%'")
	if err != nil {
		t.Fatal(err)
	}
	enriched, plain := 0, 0
	for rows.Next() {
		var path, country, org string
		var asn uint32
		if err := rows.Scan(&path, &country, &asn, &org); err != nil {
			t.Fatal(err)
		}
		line, _ := testLine(path)
		w, known := want[tl.lineIP[line]]
		if country != w.Country || asn != w.ASN || org != w.ASOrg {
			t.Fatalf("line %d: country %q asn %d org %q; want %+v (known %v)", line, country, asn, org, w, known)
		}
		if known {
			enriched++
		} else {
			plain++
		}
	}
	rows.Close()
	if enriched+plain != tl.valid || enriched == 0 || plain == 0 {
		t.Fatalf("%d enriched and %d unknown rows of %d", enriched, plain, tl.valid)
	}

	// (5) Redacted, flagged.
	for _, path := range []string{"/login", "/login2"} {
		var query, referrer string
		var flags uint32
		if err := conn.QueryRow(ctx, "SELECT query, referrer, flags FROM vakt.requests WHERE path = ?", path).Scan(&query, &referrer, &flags); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if query != "email=&token=&id=" || flags&uint32(event.FlagSQLInjection) == 0 {
			t.Errorf("%s: query %q flags %b; want the values redacted and the SQL-injection flag", path, query, flags)
		}
		if path == "/login2" && referrer != "https://shop.example/cart?coupon=" {
			t.Errorf("same-site referrer %q, want its query redacted like the site's own", referrer)
		}
	}
	for _, secret := range []string{"a@b.se", "a%40b.se", "XYZ", "OR 1=1", "%27", "SECRETCOUPON"} {
		if n := countRows(t, conn, "SELECT count() FROM vakt.requests WHERE position(query, ?) > 0 OR position(referrer, ?) > 0 OR position(path, ?) > 0",
			secret, secret, secret); n != 0 {
			t.Errorf("%q stored in %d rows", secret, n)
		}
	}
	// Client IP selection: the proxied request is the direct client's.
	ids := map[string]uint64{}
	rows, err = conn.Query(ctx, "SELECT path, client_id FROM vakt.requests WHERE site = 'proxy.example'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var path string
		var id uint64
		if err := rows.Scan(&path, &id); err != nil {
			t.Fatal(err)
		}
		ids[path] = id
	}
	rows.Close()
	if len(ids) != 4 || ids["/via-proxy"] != ids["/direct"] || ids["/spoofed"] == ids["/direct"] || ids["/via-proxy"] == ids["/claimed"] {
		t.Errorf("client ids behind the proxy: %v; want /via-proxy = /direct, and /spoofed and /claimed different", ids)
	}

	var keptQuery string
	if err := conn.QueryRow(ctx, "SELECT query FROM vakt.requests WHERE site = 'keep.example'").Scan(&keptQuery); err != nil || keptQuery != "q=shoes&page=2" {
		t.Errorf("keep.example query %q (%v), want it kept by the site's policy", keptQuery, err)
	}
	// The scrubbed values are nowhere on disk either.
	conn.Close()
	for _, secret := range []string{"XYZsecret4711", "SECRETCOUPON"} {
		scanFor(t, dataDir, secret)
	}
}

// scanFor fails if any file under dir contains s.
func scanFor(t *testing.T, dir, s string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&os.ModeSymlink != 0 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			return fmt.Errorf("%s holds %q", path, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var epochRowRe = regexp.MustCompile(`(?m)^(\d+)\s+\S+\s+\S+\s+(\S+)\s+\S+\s+(.*)$`)

// TestSaltsCommandsWithoutRunningVakt is acceptance (1) for the commands
// on a data dir no vakt owns: status before any salt, import, rotate,
// import again (new ids for the same IPs), and nothing secret printed.
func TestSaltsCommandsWithoutRunningVakt(t *testing.T) {
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	cfgFile, _ := writeConfig(t, work, "")
	common := []string{"--config", cfgFile, "--data-dir", dataDir}
	var outputs strings.Builder
	// run puts the common flags after the command (and subcommand) word.
	run := func(args ...string) string {
		t.Helper()
		n := 1
		if args[0] == "salts" {
			n = 2
		}
		full := append(append(append([]string{}, args[:n]...), common...), args[n:]...)
		stdout, stderr, err := vakt(t, full...)
		if err != nil {
			t.Fatalf("vakt %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout, stderr)
		}
		outputs.WriteString(stdout + stderr)
		return stdout
	}

	out := run("salts", "status")
	if m := epochRowRe.FindAllStringSubmatch(out, -1); len(m) != 1 || m[0][2] != "-" || !strings.Contains(m[0][3], "no salt yet") {
		t.Fatalf("status before any salt:\n%s", out)
	}

	tl := writeTestLog(t, work, 400, 40)
	run("import", "--site", "s.example", tl.path)
	out = run("salts", "rotate")
	if !strings.Contains(out, "is in use from now on") || !strings.Contains(out, "access and erasure requests") {
		t.Fatalf("rotate output:\n%s", out)
	}
	second := filepath.Join(work, "second.log")
	ts := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	var b strings.Builder
	for j, ip := range tl.ips {
		fmt.Fprintf(&b, "%s - - [%s] \"GET /second/%d HTTP/1.1\" 200 1 \"-\" \"test\"\n", ip, ts, j)
	}
	os.WriteFile(second, []byte(b.String()), 0o600)
	run("import", "--site", "s.example", second)

	out = run("salts", "status")
	m := epochRowRe.FindAllStringSubmatch(out, -1)
	if len(m) != 2 || m[0][2] == "-" || m[1][2] == "-" || !strings.Contains(m[0][3], "ended early by rotation") || m[1][3] != "current" {
		t.Fatalf("status after rotation:\n%s", out)
	}
	jsonOut := run("salts", "status", "--format", "json")

	ctx := context.Background()
	conn := openStore(t, dataDir)
	old, _ := strconv.ParseUint(m[0][1], 10, 32)
	if n := countRows(t, conn, "SELECT count() FROM vakt.requests WHERE path LIKE '/t/%' AND epoch = ?", uint32(old)); n != uint64(tl.valid) {
		t.Fatalf("%d first-import rows in epoch %d, want %d", n, old, tl.valid)
	}
	if n := countRows(t, conn, "SELECT count() FROM vakt.requests WHERE path LIKE '/second/%' AND epoch = ?", uint32(old)+1); n != uint64(len(tl.ips)) {
		t.Fatalf("%d second-import rows in the new epoch, want %d", n, len(tl.ips))
	}
	if n := countRows(t, conn, `SELECT count() FROM vakt.requests WHERE path LIKE '/second/%'
		AND client_id IN (SELECT client_id FROM vakt.requests WHERE path LIKE '/t/%')`); n != 0 {
		t.Fatalf("%d rows after the rotation reuse an id from before", n)
	}
	conn.Close()

	// No salt in any output: read the salts from the bucket itself, as
	// vakt_pseudonymize on the data dir's (encrypted) store.
	cfg := config.Defaults()
	cfg.DataDir, cfg.NATS.Listen = dataDir, ""
	cfg.ClickHouse.Addr = []string{"127.0.0.1:1"} // NATS only: this process has its engine open
	eng, err := app.OpenEngines(ctx, cfg, app.Need{NATS: true, Stage: bus.StageSalts}, "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	kv, err := eng.JS.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	salts := 0
	for _, row := range m {
		e, err := kv.Get(ctx, "epoch."+row[1])
		if err != nil {
			t.Fatalf("salt of epoch %s: %v", row[1], err)
		}
		salts++
		assertNoSalt(t, outputs.String()+jsonOut, e.Value())
	}
	if salts != 2 {
		t.Fatalf("%d salts checked", salts)
	}
}

// assertNoSalt fails if text shows salt in any usual encoding.
func assertNoSalt(t *testing.T, text string, salt []byte) {
	t.Helper()
	forbidden := []string{hex.EncodeToString(salt), base64.StdEncoding.EncodeToString(salt), base64.RawURLEncoding.EncodeToString(salt),
		hex.EncodeToString(salt[:16]), hex.EncodeToString(salt[16:])}
	for i := 0; i+8 <= len(salt); i += 8 {
		forbidden = append(forbidden, strconv.FormatUint(binary.LittleEndian.Uint64(salt[i:]), 10))
	}
	for _, f := range forbidden {
		if strings.Contains(text, f) {
			t.Fatalf("output shows a salt (%s)", f)
		}
	}
}

// TestCheckReportsGeoIPProblems: `vakt check` names each GeoIP key whose
// file is missing or of the wrong kind, with a fix.
func TestCheckReportsGeoIPProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, asnDB := testenv.WriteGeoIPDBs(t, dir, "", map[netip.Prefix]testenv.GeoRecord{
		netip.MustParsePrefix("198.51.100.0/24"): {Country: "SE", ASN: 64500, ASOrg: "x"},
	})
	cfg := filepath.Join(dir, "vakt.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("pseudonymize:\n  geoip:\n    country_db: %s\n    asn_db: %s\n", asnDB, filepath.Join(dir, "missing.mmdb"))), 0o600)
	stdout, _, err := vakt(t, "check", "--config", cfg, "--data-dir", filepath.Join(dir, "data"))
	if err == nil {
		t.Fatalf("check accepted a swapped and a missing database:\n%s", stdout)
	}
	for _, want := range []string{
		"pseudonymize.geoip.country_db: " + asnDB + " is a GeoLite2-ASN database, without country data; use a GeoLite2-Country",
		"pseudonymize.geoip.asn_db: " + filepath.Join(dir, "missing.mmdb") + " does not exist; download it",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
}
