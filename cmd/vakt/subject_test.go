package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/store"
)

// nginxLine is one line nginx logged: who, when (to the second), what.
type nginxLine struct {
	addr netip.Addr // unmapped, as vakt treats it
	ts   time.Time
	path string
}

// nginxTraffic runs nginx behind a trusted proxy (realip from
// X-Forwarded-For, so each request comes from the address the test
// chooses), sends requests from clients IPv4 and IPv6 addresses (a quarter
// IPv6) with a unique path each, plus requests in IPv4-mapped IPv6 form
// from the first client, and returns the access log and what it holds.
func nginxTraffic(t *testing.T, clients, requests int) (string, []nginxLine, []netip.Addr) {
	t.Helper()
	port := testenv.FreePort(t)
	ng := testenv.StartNginx(t, fmt.Sprintf(`
  server {
    listen 127.0.0.1:%d;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    access_log DIR/access.log combined;
    location / { return 200 "ok\n"; }
  }`, port), port)
	rng := rand.New(rand.NewPCG(14, 1))
	var ips []netip.Addr
	seen := map[netip.Addr]bool{}
	for len(ips) < clients {
		var ip netip.Addr
		if len(ips)%4 == 3 {
			var b [16]byte
			binary.BigEndian.PutUint64(b[:], 0x2a01_0000_0000_0000|rng.Uint64()&0x00ff_ffff_ffff_0000)
			binary.BigEndian.PutUint64(b[8:], rng.Uint64())
			ip = netip.AddrFrom16(b)
		} else {
			ip = netip.AddrFrom4([4]byte{byte(11 + rng.IntN(150)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
		}
		if !seen[ip] {
			seen[ip] = true
			ips = append(ips, ip)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range requests {
		ip := ips[i%clients]
		if i >= clients {
			ip = ips[rng.IntN(clients)]
		}
		if i%50 == 0 {
			ip = ips[0]
		}
		from := ip.String()
		if ip == ips[0] && i%3 == 0 {
			from = netip.AddrFrom16(ip.As16()).String() // ::ffff:a.b.c.d
		}
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/s/%d/u%x", port, i, rng.Uint64()), nil)
		req.Header.Set("X-Forwarded-For", from)
		req.Header.Set("User-Agent", fmt.Sprintf("subject-test/%d", i%5))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ng.Stop()
	logPath := filepath.Join(ng.Dir, "access.log")
	return logPath, parseNginxLog(t, logPath), ips
}

var combinedRe = regexp.MustCompile(`^(\S+) \S+ \S+ \[([^\]]+)\] "GET (\S+) HTTP/1\.1"`)

func parseNginxLog(t *testing.T, path string) []nginxLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []nginxLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := combinedRe.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("nginx line not understood: %s", sc.Text())
		}
		addr, err := netip.ParseAddr(m[1])
		if err != nil {
			t.Fatalf("nginx logged %q: %v", m[1], err)
		}
		ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, nginxLine{addr: addr.Unmap(), ts: ts.UTC(), path: m[3]})
	}
	return out
}

// subjectExport is the part of `vakt subject export --format json` the
// tests read.
type subjectExport struct {
	Format   string                   `json:"format"`
	Version  int                      `json:"version"`
	Epochs   []struct{ Epoch uint32 } `json:"epochs"`
	Requests []struct {
		TS   time.Time `json:"ts"`
		Site string    `json:"site"`
		Path string    `json:"path"`
	} `json:"requests"`
	Activity []struct {
		Requests uint64 `json:"requests"`
	} `json:"client_activity"`
	Information struct {
		Purposes  []string `json:"purposes"`
		Retention []struct {
			Where       string  `json:"where"`
			KeepSeconds float64 `json:"keep_seconds"`
		} `json:"retention"`
		RetentionSource string `json:"retention_source"`
	} `json:"information"`
	NotIdentifiable *struct{ Statement string } `json:"not_identifiable"`
}

func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestSubjectExportMatchesNginx is issue 14's acceptance (1), and (4) for
// find and export: on real nginx traffic from 400 clients, the export of
// three addresses (one also logged in IPv4-mapped form, one IPv6) holds
// exactly the lines nginx logged for it, each with its time and path, and
// nothing of anyone else. After `vakt salts rotate --destroy-now` the same
// requests get the Art. 11(2) statement and exit status 3.
func TestSubjectExportMatchesNginx(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	cfgFile, _ := writeConfig(t, work, "")
	logPath, lines, ips := nginxTraffic(t, 400, 1600)
	if len(lines) != 1600 {
		t.Fatalf("nginx logged %d lines, want 1600", len(lines))
	}
	common := []string{"--config", cfgFile, "--data-dir", dataDir}
	var outputs strings.Builder
	run := func(args ...string) (string, error) {
		t.Helper()
		stdout, stderr, err := vakt(t, append(args, common...)...)
		outputs.WriteString(stdout + stderr)
		return stdout, err
	}
	stdout, stderr, err := vakt(t, append(append([]string{"import", "--site", "shop"}, common...), logPath)...)
	outputs.WriteString(stdout + stderr)
	out := stdout
	if err != nil || !strings.Contains(out, "stored:      1600") {
		t.Fatalf("import: %v\n%s\n%s", err, out, tailOf(outputs.String(), 6000))
	}
	targets := []netip.Addr{ips[0], ips[3], ips[1]} // mapped forms too, IPv6, plain IPv4
	for _, ip := range targets {
		var want []nginxLine
		for _, l := range lines {
			if l.addr == ip {
				want = append(want, l)
			}
		}
		out, err := run("subject", "export", "--ip", ip.String(), "--format", "json", "--ref", "TICKET-"+fmt.Sprint(len(want)))
		if err != nil {
			t.Fatalf("export: %v\n%s", err, out)
		}
		var x subjectExport
		if err := json.Unmarshal([]byte(out), &x); err != nil {
			t.Fatalf("export is not one JSON document: %v\n%s", err, out)
		}
		if x.Format != "vakt.subject-export" || x.Version != 1 || len(x.Epochs) == 0 || len(x.Information.Purposes) == 0 ||
			x.Information.RetentionSource != "tables" || x.NotIdentifiable != nil {
			t.Fatalf("export header: %+v", x)
		}
		if len(x.Requests) != len(want) {
			t.Fatalf("%s: exported %d requests, nginx logged %d", ip, len(x.Requests), len(want))
		}
		got := make([]string, len(x.Requests))
		for i, r := range x.Requests {
			got[i] = r.TS.Truncate(time.Second).UTC().Format(time.RFC3339) + " " + r.Path
		}
		exp := make([]string, len(want))
		for i, l := range want {
			exp[i] = l.ts.Format(time.RFC3339) + " " + l.path
		}
		slices.Sort(got)
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Fatalf("%s: exported rows differ from nginx's lines:\n%v\nwant\n%v", ip, got, exp)
		}
		var rolled uint64
		for _, a := range x.Activity {
			rolled += a.Requests
		}
		if rolled != uint64(len(want)) {
			t.Errorf("%s: client activity counts %d requests, want %d", ip, rolled, len(want))
		}
		if ip == ips[0] && len(want) < 20 {
			t.Fatalf("the mapped-form client has only %d lines", len(want))
		}
		found, err := run("subject", "find", "--ip", ip.String(), "--format", "json")
		if err != nil || !strings.Contains(found, fmt.Sprintf(`"requests": %d,`, len(want))) {
			t.Fatalf("find: %v\n%s", err, found)
		}
	}
	// An address that sent nothing: nothing held, not an error.
	if out, err := run("subject", "find", "--ip", "192.0.2.1"); err != nil || !strings.Contains(out, "Nothing held") {
		t.Fatalf("find of an unknown address: %v\n%s", err, out)
	}

	// The request record: each request, its counts and reference, never
	// the address; a reference with an address is refused.
	recs, err := run("subject", "records", "--format", "json")
	if err != nil {
		t.Fatalf("records: %v\n%s", err, recs)
	}
	for _, ip := range targets {
		n := 0
		for _, l := range lines {
			if l.addr == ip {
				n++
			}
		}
		if !regexp.MustCompile(fmt.Sprintf(`"action": "export",\s+"reference": "TICKET-%d",\s+"epochs": \[\s+\d+\s+\],\s+"requests": %d,`, n, n)).MatchString(recs) {
			t.Errorf("no record of the export with %d requests:\n%s", n, recs)
		}
	}
	if out, err := run("subject", "find", "--ip", targets[0].String(), "--ref", "asked by "+targets[1].String()); err == nil || strings.Contains(out, "Held") {
		t.Errorf("a reference with an address was accepted: %v\n%s", err, out)
	}

	// Acceptance (4): the salt of the rows' epoch destroyed.
	if out, err := run("salts", "rotate", "--destroy-now"); err != nil {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	for _, action := range []string{"find", "export", "erase", "restrict"} {
		out, err := run("subject", action, "--ip", targets[1].String())
		if exitStatus(err) != 3 || !strings.Contains(out, "Art. 11(2)") {
			t.Fatalf("%s after the salt's destruction: exit %d, want 3 with the Art. 11(2) statement\n%s", action, exitStatus(err), out)
		}
	}
	assertNoIPText(t, "vakt's output", outputs.String(), ips)
}

// trafficLine is one line the erasure test wrote.
type trafficLine struct {
	ip      netip.Addr
	token   string // unique in the path
	written time.Time
}

// scanTokens returns which tokens occur in any file under dir.
func scanTokens(t *testing.T, dir string, tokens []string) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // a part removed while walking
			}
			return err
		}
		if d.IsDir() || d.Type()&os.ModeSymlink != 0 {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if strings.HasSuffix(path, ".bin") {
			b = append(b, decompressCH(b)...)
		}
		for _, tok := range tokens {
			if !found[tok] && strings.Contains(string(b), tok) {
				found[tok] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// decompressCH returns the decompressed contents of a ClickHouse column
// file's blocks (16-byte checksum, method byte, compressed size with the
// 9-byte header, uncompressed size, data) that are ZSTD, LZ4 or
// uncompressed, so that a byte scan sees the values as stored.
func decompressCH(b []byte) []byte {
	var out []byte
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	for len(b) >= 25 {
		method := b[16]
		csize := int(binary.LittleEndian.Uint32(b[17:21]))
		usize := int(binary.LittleEndian.Uint32(b[21:25]))
		if csize < 9 || 16+csize > len(b) || usize > 1<<28 {
			break
		}
		data := b[25 : 16+csize]
		switch method {
		case 0x90:
			if d, err := dec.DecodeAll(data, nil); err == nil {
				out = append(out, d...)
			}
		case 0x82:
			d := make([]byte, usize)
			if n, err := lz4.UncompressBlock(data, d); err == nil {
				out = append(out, d[:n]...)
			}
		case 0x02:
			out = append(out, data...)
		}
		b = b[16+csize:]
	}
	return out
}

// TestSubjectEraseWhileTrafficFlows is issue 14's acceptance (2) and (5)
// for erase: `vakt run` follows a log that keeps growing with lines of
// forty clients and of the address to erase. After `vakt subject erase`
// returns, no row of that address from before the command is in any table,
// every other client's line is stored exactly once, its events that were
// on their way are not stored, lines it sends afterwards are, no byte of
// the data dir holds an erased row's unique path, and no address is in any
// output or file.
func TestSubjectEraseWhileTrafficFlows(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logPath := filepath.Join(work, "access.log")
	cfg := filepath.Join(work, "vakt.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
nats: {listen: "127.0.0.1:0"}
clickhouse: {listen: "127.0.0.1:0"}
http: {listen: ""}
store: {flush_interval: 200ms}
ingest:
  from_start: true
  sources:
    - files: [%s]
      site: shop
`, dataDir, logPath)), 0o600); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(14, 2))
	var ips []netip.Addr
	for i := range 41 {
		if i%4 == 3 {
			ips = append(ips, netip.AddrFrom16([16]byte{0x2a, 0x01, 0x4f, 0x8, byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(rng.IntN(256)), 1}))
		} else {
			ips = append(ips, netip.AddrFrom4([4]byte{byte(20 + i), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))}))
		}
	}
	target := ips[0]
	if err := os.WriteFile(logPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	run := startVakt(t, "run", "--config", cfg)
	chAddr := run.waitOutput(t, regexp.MustCompile(`ClickHouse endpoint:\s+http://(\S+)`))[1]
	query := func(q string) string {
		password, _ := secrets.Read(dataDir, app.ClickHousePasswordFile(app.DefaultClickHouseUser))
		return chQuery(chAddr, app.DefaultClickHouseUser, password, q)
	}

	var mu sync.Mutex
	var lines []trafficLine
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			ip := ips[1+rng.IntN(len(ips)-1)]
			if n%5 == 0 {
				ip = target
			}
			tok := fmt.Sprintf("u%016x", rng.Uint64())
			now := time.Now()
			// The address's agent strings are unique too: the daily
			// sources rollup holds agents, and must lose them.
			agent := "erase-test"
			if ip == target {
				agent += "/" + tok
			}
			fmt.Fprintf(f, "%s - - [%s] \"GET /e/%d/%s HTTP/1.1\" 200 12 \"-\" \"%s\"\n", ip, now.Format("02/Jan/2006:15:04:05 -0700"), n, tok, agent)
			mu.Lock()
			lines = append(lines, trafficLine{ip: ip, token: tok, written: now})
			mu.Unlock()
		}
	}()
	snapshot := func() []trafficLine { mu.Lock(); defer mu.Unlock(); return slices.Clone(lines) }
	testenv.WaitFor(t, 90*time.Second, "rows stored before the erasure", func() bool {
		var n int
		fmt.Sscan(query("SELECT count() FROM vakt.requests"), &n)
		return n >= 300
	})

	// The byte scan below sees stored paths (it decompresses column
	// files): before the erasure it finds the address's.
	var early []string
	for _, l := range snapshot() {
		if l.ip == target {
			early = append(early, l.token)
		}
	}
	testenv.WaitFor(t, 30*time.Second, "the address's paths readable in the data dir", func() bool {
		return len(scanTokens(t, filepath.Join(dataDir, "clickhouse"), early)) > 0
	})
	t.Logf("positive control: %d of %d", len(scanTokens(t, filepath.Join(dataDir, "clickhouse"), early)), len(early))

	// The address's client id, to check that no output or file holds it.
	var clientID uint64
	fmt.Sscan(query(fmt.Sprintf("SELECT any(client_id) FROM vakt.requests WHERE path LIKE '%%/%s'", early[0])), &clientID)
	if clientID == 0 {
		t.Fatal("the address's client id not found")
	}

	// A report keeps the findings of per-epoch rules per epoch (analyze's
	// epoch cache), which name clients as text: one of the client's epoch
	// here, which the erasure must delete.
	idForms := []string{strconv.FormatUint(clientID, 10), fmt.Sprintf("%016x", clientID)}
	password, _ := secrets.Read(dataDir, app.ClickHousePasswordFile(app.DefaultClickHouseUser))
	keep := fmt.Sprintf("INSERT INTO vakt.%s (rule, rule_hash, epoch, fingerprint, end_ts, evaluated_at, kept) SETTINGS async_insert = 0 SELECT 'scanning', 1, epoch, 0, now(), now64(3), "+
		"concat('[{\"id\":\"', toString(client_id), '\"}]') FROM vakt.requests WHERE client_id = %d LIMIT 1", store.RuleResultsTable, clientID)
	if err := chPost(chAddr, app.DefaultClickHouseUser, password, keep); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "the kept findings readable in the data dir", func() bool {
		return len(scanTokens(t, filepath.Join(dataDir, "clickhouse"), idForms[:1])) > 0
	})

	before := time.Now()
	out, errOut, err := vakt(t, "subject", "erase", "--ip", target.String(), "--config", cfg)
	after := time.Now()
	if err != nil || !strings.Contains(out, "Erased") {
		t.Fatalf("erase: %v\n%s\n%s", err, out, errOut)
	}
	outputs := out + errOut
	// Traffic goes on; lines sent a second after the command are new.
	newFrom := after.Add(time.Second)
	testenv.WaitFor(t, 60*time.Second, "lines written after the erasure", func() bool {
		n := 0
		for _, l := range snapshot() {
			if l.ip == target && l.written.After(newFrom) {
				n++
			}
		}
		return n >= 20
	})
	close(stop)
	<-writerDone
	all := snapshot()

	stored := map[string]int{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vakt run's output:\n%s", lastLines(run.output(), 60))
		}
	})
	testenv.WaitFor(t, 90*time.Second, "every line of the other clients and the new lines stored", func() bool {
		clear(stored)
		for _, p := range strings.Fields(query("SELECT path FROM vakt.requests")) {
			stored[p[strings.LastIndexByte(p, '/')+1:]]++
		}
		for _, l := range all {
			if (l.ip != target || l.written.After(newFrom)) && stored[l.token] == 0 {
				return false
			}
		}
		return true
	})
	var erased []string
	for _, l := range all {
		switch {
		case stored[l.token] > 1:
			t.Errorf("line %s stored %d times", l.token, stored[l.token])
		case l.ip == target && l.written.Before(before) && stored[l.token] > 0:
			t.Errorf("a line of the erased address written before the erasure is stored: %s", l.token)
		}
		if l.ip == target && l.written.Before(before) {
			erased = append(erased, l.token)
		}
	}
	if len(erased) < 50 {
		t.Fatalf("only %d lines of the address before the erasure", len(erased))
	}
	// The client rollup: what is left of the address is from after the
	// erasure began.
	x, errOut, err := vakt(t, "subject", "export", "--ip", target.String(), "--config", cfg)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, errOut)
	}
	outputs += x + errOut
	var exp struct {
		Requests []struct{ TS time.Time } `json:"requests"`
		Activity []struct {
			FirstSeen time.Time `json:"first_seen"`
		} `json:"client_activity"`
	}
	if err := json.Unmarshal([]byte(x), &exp); err != nil {
		t.Fatal(err)
	}
	cut := before.Truncate(time.Second)
	for _, r := range exp.Requests {
		if r.TS.Before(cut) {
			t.Errorf("a request row from before the erasure is left: %s", r.TS)
		}
	}
	for _, a := range exp.Activity {
		if a.FirstSeen.Before(cut) {
			t.Errorf("a client-activity row from before the erasure is left: first seen %s", a.FirstSeen)
		}
	}
	if len(exp.Requests) == 0 {
		t.Errorf("the address's lines after the erasure were not stored")
	}
	run.stop(t)
	if found := scanTokens(t, dataDir, erased); len(found) > 0 {
		t.Errorf("%d of the erased rows' unique paths are still in the data dir, e.g. %v", len(found), found)
	}
	assertNoIPText(t, "vakt's output", outputs+run.output(), ips)
	scanDataDir(t, dataDir, ips)
	// As text (the binary form is in the rows the address sent afterwards,
	// under the same epoch's id).
	for _, f := range idForms {
		if strings.Contains(outputs+run.output(), f) {
			t.Errorf("the erased client's id (%s) is in vakt's output", f)
		}
	}
	if found := scanTokens(t, dataDir, idForms); len(found) > 0 {
		t.Errorf("the erased client's id is in the data dir as text: %v", found)
	}
}
