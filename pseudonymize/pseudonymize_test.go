package pseudonymize

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/testenv"
)

const testSite = "shop.example"

var testTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testIPs returns distinct IPv4 addresses in distinct /24s and IPv6
// addresses in distinct /48s, the same on every run. IPv4 octets avoid 0 so
// that zeroed fields cannot look like one.
func testIPs(v4, v6 int) []netip.Addr {
	r := rand.New(rand.NewPCG(1, 2))
	var out []netip.Addr
	nets := map[netip.Prefix]bool{}
	for len(out) < v4 {
		a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(254)), byte(1 + r.IntN(254)), byte(1 + r.IntN(254)), byte(1 + r.IntN(254))})
		p, _ := a.Prefix(24)
		if !nets[p] {
			nets[p] = true
			out = append(out, a)
		}
	}
	for len(out) < v4+v6 {
		var b [16]byte
		for i := range b {
			b[i] = byte(1 + r.IntN(254))
		}
		b[0], b[1] = 0x20, 0x01
		a := netip.AddrFrom16(b)
		p, _ := a.Prefix(48)
		if !nets[p] {
			nets[p] = true
			out = append(out, a)
		}
	}
	return out
}

func rawRecord(ip netip.Addr, target string) event.Raw {
	return event.Raw{
		Time: testTime, Site: testSite, ClientIP: ip, User: "jane", ForwardedFor: "",
		Method: "GET", Target: target, Protocol: "HTTP/1.1", Status: 200, Bytes: 1234,
		Referrer: "https://search.example/?q=shoes", UserAgent: "Mozilla/5.0 (test)", Host: testSite,
		RequestTime: 2 * time.Millisecond, UpstreamTime: event.Unknown,
	}
}

// publishChunks publishes recs in messages of size records each and returns
// the message count.
func publishChunks(t *testing.T, js jetstream.JetStream, idPrefix string, recs []event.Raw, size int) int {
	t.Helper()
	n := 0
	for i := 0; i < len(recs); i += size {
		publishRaw(t, js, testSite, fmt.Sprintf("%s-%d", idPrefix, n), recs[i:min(i+size, len(recs))])
		n++
	}
	return n
}

// byPath indexes stored events by path.
func byPath(batches []stored) map[string]event.Event {
	m := map[string]event.Event{}
	for _, b := range batches {
		for _, e := range b.Events {
			m[e.Path] = e
		}
	}
	return m
}

// TestPipeline covers ids (a), privacy of the stored bytes (d) and query
// scrubbing with flags (e) through a real NATS server.
func TestPipeline(t *testing.T) {
	n := startNATS(t)
	m := metrics.New()
	r := startPseudonymizer(t, n.connect(t, "pseudonymize"), Config{}, nil, m)
	reader := newEventReader(t, n.js)

	ips := testIPs(600, 600)
	const siblings = 200 // IPv4 addresses with a neighbour in the same /24
	var recs []event.Raw
	for pass := range 2 {
		for i, ip := range ips {
			recs = append(recs, rawRecord(ip, fmt.Sprintf("/i/%d/%d", i, pass)))
		}
	}
	for i := range siblings {
		b := ips[i].As4()
		b[3] ^= 0x80
		recs = append(recs, rawRecord(netip.AddrFrom4(b), fmt.Sprintf("/s/%d", i)))
		recs = append(recs, rawRecord(netip.AddrFrom16(ips[i].As16()), fmt.Sprintf("/m/%d", i))) // ::ffff:a.b.c.d
	}
	recs = append(recs, rawRecord(ips[0], "/login?email=a@b.se&token=XYZ&id=1' OR 1=1--"))
	msgs := publishChunks(t, n.js, "raw", recs, 100)

	batches := reader.next(msgs, 20*time.Second)
	reader.none(200 * time.Millisecond)
	ev := byPath(batches)
	if len(ev) != len(recs) {
		t.Fatalf("stored %d distinct events, want %d", len(ev), len(recs))
	}

	t.Run("batches keep message id and record count", func(t *testing.T) {
		ids := map[string]bool{}
		for _, b := range batches {
			if b.Subject != bus.EventsSubject(testSite) {
				t.Errorf("subject %q", b.Subject)
			}
			var k int
			if _, err := fmt.Sscanf(b.MsgID, "raw-%d", &k); err != nil || k >= msgs || ids[b.MsgID] {
				t.Errorf("message id %q missing or repeated", b.MsgID)
			}
			ids[b.MsgID] = true
			if b.Records != strconv.Itoa(len(b.Events)) {
				t.Errorf("records header %q for %d events", b.Records, len(b.Events))
			}
		}
	})

	t.Run("ids", func(t *testing.T) {
		epoch := ev["/i/0/0"].Epoch
		owner := map[uint64]int{}
		for i, ip := range ips {
			e0, e1 := ev[fmt.Sprintf("/i/%d/0", i)], ev[fmt.Sprintf("/i/%d/1", i)]
			if e0.ClientID != e1.ClientID || e0.NetworkID != e1.NetworkID {
				t.Fatalf("ip %d: ids differ between two messages of one epoch", i)
			}
			if j, ok := owner[e0.ClientID]; ok {
				t.Fatalf("ips %d and %d share client id", i, j)
			}
			owner[e0.ClientID] = i
			if want := uint8(4 + 2*btoi(ip.Is6())); e0.IPVersion != want {
				t.Errorf("ip %d: version %d, want %d", i, e0.IPVersion, want)
			}
			if e0.Epoch != epoch || e0.Site != testSite || e0.Time != testTime {
				t.Errorf("ip %d: epoch %d site %q time %s", i, e0.Epoch, e0.Site, e0.Time)
			}
		}
		nets := map[uint64]int{}
		for i := range ips {
			nid := ev[fmt.Sprintf("/i/%d/0", i)].NetworkID
			if j, ok := nets[nid]; ok {
				t.Fatalf("ips %d and %d in different networks share a network id", i, j)
			}
			nets[nid] = i
		}
		for i := range siblings {
			orig, sib, mapped := ev[fmt.Sprintf("/i/%d/0", i)], ev[fmt.Sprintf("/s/%d", i)], ev[fmt.Sprintf("/m/%d", i)]
			if sib.NetworkID != orig.NetworkID || sib.ClientID == orig.ClientID {
				t.Errorf("sibling %d: same network %v, same client %v; want true, false",
					i, sib.NetworkID == orig.NetworkID, sib.ClientID == orig.ClientID)
			}
			if mapped.ClientID != orig.ClientID || mapped.NetworkID != orig.NetworkID || mapped.IPVersion != 4 {
				t.Errorf("ipv4-mapped %d is not the same client as its ipv4 form", i)
			}
		}
	})

	t.Run("query scrubbed and flagged", func(t *testing.T) {
		e := ev["/login"]
		if e.Query != "email=&token=&id=" || e.Flags&event.FlagSQLInjection == 0 {
			t.Errorf("login event: query %q flags %06b", e.Query, e.Flags)
		}
		if e.ClientID != ev["/i/0/0"].ClientID {
			t.Error("login event has another client id than the same IP's other requests")
		}
		if e.Referrer != "https://search.example/" {
			t.Errorf("referrer %q", e.Referrer)
		}
		for _, b := range batches {
			for _, s := range []string{"a@b.se", "XYZ", "OR 1=1", "shoes", "jane"} {
				if bytes.Contains(b.Data, []byte(s)) {
					t.Errorf("stored batch contains %q", s)
				}
			}
		}
	})

	t.Run("no raw ip in stored bytes", func(t *testing.T) {
		all := append([]netip.Addr(nil), ips...)
		for i := range siblings {
			b := ips[i].As4()
			b[3] ^= 0x80
			all = append(all, netip.AddrFrom4(b))
		}
		for _, b := range batches {
			assertNoIPs(t, b.Data, all)
		}
		// Everything NATS wrote to disk: the events stream and the salts.
		// The RAW stream is memory-only and must leave no file.
		assertNoIPsOnDisk(t, n.storeDir, all[:100])
	})

	st := r.p.Stats()
	if st.EventsIn != uint64(len(recs)) || st.EventsOut != st.EventsIn || st.Rejected != 0 {
		t.Errorf("stats %+v, want %d in and out", st, len(recs))
	}
	if got := counter(t, m.EventsOut.WithLabelValues(stage)); got != float64(len(recs)) {
		t.Errorf("events_out metric %v", got)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

var (
	dottedQuad = regexp.MustCompile(`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}`)
	ipv6Text   = regexp.MustCompile(`(?i)[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}`)
)

// assertNoIPs checks an event batch for the addresses in binary (4 and 16
// bytes) and text form. The 4-byte search runs with the pseudonymous ids and
// the epoch zeroed: 8 random bytes per id would match some 4-byte address by
// chance, and that would be no leak.
func assertNoIPs(t *testing.T, data []byte, ips []netip.Addr) {
	t.Helper()
	v4 := map[[4]byte]bool{}
	v16 := map[[16]byte]bool{}
	text := map[netip.Addr]bool{}
	for _, ip := range ips {
		if ip.Is4() {
			v4[ip.As4()] = true
		}
		v16[ip.As16()] = true
		text[ip] = true
	}
	var events []event.Event
	if err := event.RangeEvents(data, func(e *event.Event) error { events = append(events, *e); return nil }); err != nil {
		t.Fatal(err)
	}
	var again, zeroed []byte
	for i := range events {
		again = event.AppendEvent(again, &events[i])
		e := events[i]
		e.ClientID, e.NetworkID, e.Epoch = 0, 0, 0
		zeroed = event.AppendEvent(zeroed, &e)
	}
	if !bytes.Equal(again, data) {
		t.Fatal("event batch is not in canonical encoding; the zeroed search would be meaningless")
	}
	for i := 0; i+4 <= len(zeroed); i++ {
		if v4[[4]byte(zeroed[i:i+4])] {
			t.Fatalf("4-byte IPv4 address at offset %d of an event batch", i)
		}
	}
	for i := 0; i+16 <= len(data); i++ {
		if v16[[16]byte(data[i:i+16])] {
			t.Fatalf("16-byte address at offset %d of an event batch", i)
		}
	}
	for _, re := range []*regexp.Regexp{dottedQuad, ipv6Text} {
		for _, m := range re.FindAll(data, -1) {
			if a, err := netip.ParseAddr(string(m)); err == nil && text[a.Unmap()] {
				t.Fatalf("address %s in text form in an event batch", a)
			}
		}
	}
}

func assertNoIPsOnDisk(t *testing.T, dir string, ips []netip.Addr) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(path, bus.RawStream) {
			t.Errorf("RAW stream left a file on disk: %s", path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, ip := range ips {
			b16 := ip.As16()
			if bytes.Contains(data, b16[:]) || bytes.Contains(data, []byte(ip.String())) {
				t.Errorf("address found in %s", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no NATS store files found: the scan proves nothing")
	}
}

func counter(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestReplicasAndRestart covers (b): replicas share the work and agree on
// ids through the KV salt; a new instance after a restart agrees too.
func TestReplicasAndRestart(t *testing.T) {
	n := startNATS(t)
	cfg := Config{Workers: 2, FetchBatch: 1}
	a := startPseudonymizer(t, n.connect(t, "replica-a"), cfg, nil, nil)
	b := startPseudonymizer(t, n.connect(t, "replica-b"), cfg, nil, nil)
	reader := newEventReader(t, n.js)

	ips := testIPs(10, 10)
	const msgs = 60
	for i := range msgs {
		recs := make([]event.Raw, len(ips))
		for j, ip := range ips {
			recs[j] = rawRecord(ip, fmt.Sprintf("/ip/%d/msg/%d", j, i))
		}
		publishRaw(t, n.js, testSite, fmt.Sprintf("m-%d", i), recs)
	}
	batches := reader.next(msgs, 20*time.Second)

	ids := map[int]uint64{}
	for _, bt := range batches {
		for _, e := range bt.Events {
			var j, i int
			if _, err := fmt.Sscanf(e.Path, "/ip/%d/msg/%d", &j, &i); err != nil {
				t.Fatal(err)
			}
			if id, ok := ids[j]; ok && id != e.ClientID {
				t.Fatalf("ip %d got two client ids in one epoch", j)
			}
			ids[j] = e.ClientID
		}
	}
	sa, sb := a.p.Stats(), b.p.Stats()
	if sa.EventsOut == 0 || sb.EventsOut == 0 || sa.EventsOut+sb.EventsOut != msgs*uint64(len(ips)) {
		t.Errorf("work not shared: replica a %+v, replica b %+v", sa, sb)
	}

	a.cancel() // stop both at once; each waits at most one fetch
	b.cancel()
	a.stop(t)
	b.stop(t)
	startPseudonymizer(t, n.connect(t, "replica-c"), cfg, nil, nil)
	recs := make([]event.Raw, len(ips))
	for j, ip := range ips {
		recs[j] = rawRecord(ip, fmt.Sprintf("/ip/%d/after-restart", j))
	}
	publishRaw(t, n.js, testSite, "after-restart", recs)
	for _, e := range reader.next(1, 10*time.Second)[0].Events {
		var j int
		if _, err := fmt.Sscanf(e.Path, "/ip/%d/after-restart", &j); err != nil {
			t.Fatal(err)
		}
		if e.ClientID != ids[j] {
			t.Fatalf("ip %d: client id changed across a restart within one epoch", j)
		}
	}
}

// TestEpochRotation covers (c): a new epoch gives new ids, and the old salt
// is destroyed on schedule by the running stage, leaving nothing behind.
func TestEpochRotation(t *testing.T) {
	n := startNATS(t)
	cfg := Config{EpochLength: 2 * time.Second, Grace: time.Second}
	r := startPseudonymizer(t, n.connect(t, "pseudonymize"), cfg, nil, nil)
	reader := newEventReader(t, n.js)
	ip := netip.MustParseAddr("203.0.113.77")

	publishRaw(t, n.js, testSite, "first", []event.Raw{rawRecord(ip, "/first")})
	first := reader.next(1, 5*time.Second)[0].Events[0]
	salts := r.p.Salts()
	_, end, destroyAt := salts.Bounds(first.Epoch)

	time.Sleep(time.Until(end) + 50*time.Millisecond) // the scenario: a clock time, the next epoch
	publishRaw(t, n.js, testSite, "second", []event.Raw{rawRecord(ip, "/second")})
	second := reader.next(1, 5*time.Second)[0].Events[0]
	if second.Epoch <= first.Epoch {
		t.Fatalf("second event in epoch %d, first in %d", second.Epoch, first.Epoch)
	}
	if second.ClientID == first.ClientID || second.NetworkID == first.NetworkID {
		t.Fatal("ids did not change with the epoch")
	}

	kv, err := n.js.KeyValue(context.Background(), bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(context.Background(), epochKey(first.Epoch)); err != nil && time.Now().Before(destroyAt) {
		t.Fatalf("old salt gone before its destruction time: %v", err)
	}
	// No command: the stage's janitor must act on its own, within moments.
	testenv.WaitFor(t, time.Until(destroyAt)+time.Second, "the old salt's destruction", func() bool {
		return saltSubjectCount(t, n.js, epochKey(first.Epoch)) == 0
	})
	if late := time.Since(destroyAt); late < 0 {
		t.Fatalf("salt destroyed %s early", -late)
	}
	assertDestroyed(t, n.js, epochKey(first.Epoch))
	if _, err := salts.Lookup(context.Background(), first.Epoch); err == nil {
		t.Error("old epoch's keys still available after destruction")
	}
	if _, _, live := salts.Bounds(second.Epoch); time.Now().Before(live) {
		if _, err := kv.Get(context.Background(), epochKey(second.Epoch)); err != nil {
			t.Errorf("live epoch's salt missing: %v", err)
		}
	}
}

// TestRejects covers corrupt batches and records without an IP, and checks
// that nothing secret reached the logs.
func TestRejects(t *testing.T) {
	n := startNATS(t)
	var logs testenv.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New()
	r := startPseudonymizer(t, n.connect(t, "pseudonymize"), Config{}, log, m)
	reader := newEventReader(t, n.js)

	good := netip.MustParseAddr("198.51.100.23")
	publishRawBytes(t, n.js, testSite, "corrupt", []byte{0xff, 0xff, 0xff, 0x01}, 1)
	publishRaw(t, n.js, testSite, "mixed", []event.Raw{
		rawRecord(good, "/login?email=a@b.se&token=XYZ&id=1' OR 1=1--"),
		rawRecord(netip.Addr{}, "/no-ip"),
		rawRecord(good, "/ok"),
	})
	publishRaw(t, n.js, testSite, "all-invalid", []event.Raw{rawRecord(netip.Addr{}, "/no-ip-2")})
	// A shipper that names the site by a client's address: the rejection
	// and corruption warnings, which name the site, must not repeat it. The
	// corrupt JSON holds an address too, which no error may quote.
	const addrSite = "203.0.113.9"
	publishRaw(t, n.js, addrSite, "addr-invalid", []event.Raw{rawRecord(netip.Addr{}, "/no-ip-3")})
	publishRawBytes(t, n.js, addrSite, "addr-corrupt-json", []byte(`{"ip":"198.51.100.77","ts":`), 1)

	b := reader.next(1, 5*time.Second)[0]
	if len(b.Events) != 2 || b.MsgID != "mixed" || b.Records != "2" {
		t.Fatalf("stored batch %q with %d events (header %s), want the 2 valid of \"mixed\"", b.MsgID, len(b.Events), b.Records)
	}
	testenv.WaitFor(t, 5*time.Second, "all raw messages finished", func() bool {
		return r.p.Stats().EventsIn == 7
	})
	reader.none(200 * time.Millisecond)
	if st := r.p.Stats(); st.EventsOut != 2 || st.Rejected != 5 {
		t.Errorf("stats %+v, want 7 in, 2 out, 5 rejected", st)
	}
	if got := counter(t, m.Rejected.WithLabelValues(stage, event.ReasonCorruptBatch)); got != 1 {
		t.Errorf("corrupt_batch rejected %v, want 1", got)
	}
	if got := counter(t, m.Rejected.WithLabelValues(stage, event.ReasonInvalidIP)); got != 3 {
		t.Errorf("invalid_ip rejected %v, want 3", got)
	}
	testenv.WaitFor(t, 5*time.Second, "raw consumer drained", func() bool {
		c, err := n.js.Consumer(context.Background(), bus.RawStream, bus.PseudonymizeConsumer)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})

	// Secrets that must never be logged: the IP, the target, the ids, the salt.
	kv, err := n.js.KeyValue(context.Background(), bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	salt, err := kv.Get(context.Background(), epochKey(b.Events[0].Epoch))
	if err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	forbidden := []string{good.String(), addrSite, bus.SubjectToken(addrSite), "198.51.100.77", "OR 1=1", "a@b.se", "XYZ", "/login", "/no-ip",
		hex.EncodeToString(salt.Value()), base64.StdEncoding.EncodeToString(salt.Value())}
	for _, half := range [][]byte{salt.Value()[:8], salt.Value()[16:24]} {
		forbidden = append(forbidden, strconv.FormatUint(binary.LittleEndian.Uint64(half), 10))
	}
	for _, e := range b.Events {
		forbidden = append(forbidden, strconv.FormatUint(e.ClientID, 10), strconv.FormatUint(e.ClientID, 16),
			fmt.Sprintf("%016x", e.ClientID), strconv.FormatUint(e.NetworkID, 10))
	}
	out := logs.String()
	if !strings.Contains(out, "corrupt raw batch dropped") {
		t.Errorf("corrupt batch not logged:\n%s", out)
	}
	if !regexp.MustCompile(`records without a valid client ip rejected.* site=` + bus.UnnamedSite + ` `).MatchString(out) {
		t.Errorf("rejection on an address-named subject not logged under site %s:\n%s", bus.UnnamedSite, out)
	}
	for _, f := range forbidden {
		if strings.Contains(out, f) {
			t.Errorf("log contains %q:\n%s", f, out)
		}
	}
}

// TestBackpressure: while the events stream refuses messages, raw messages
// are not acknowledged; once it accepts again, everything arrives once.
func TestBackpressure(t *testing.T) {
	n := startNATS(t)
	ctx := context.Background()
	events, err := n.js.Stream(ctx, bus.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	setMaxMsgs := func(max int64) {
		t.Helper()
		info, err := events.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := info.Config
		c.MaxMsgs = max
		if _, err := n.js.UpdateStream(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	setMaxMsgs(1) // "full" after one batch
	m := metrics.New()
	r := startPseudonymizer(t, n.connect(t, "pseudonymize"), Config{Workers: 1}, nil, m)

	ip := netip.MustParseAddr("192.0.2.44")
	for i := range 3 {
		publishRaw(t, n.js, testSite, fmt.Sprintf("bp-%d", i), []event.Raw{rawRecord(ip, fmt.Sprintf("/bp/%d", i))})
	}
	testenv.WaitFor(t, 5*time.Second, "publish errors", func() bool {
		return counter(t, m.PublishErrors.WithLabelValues(stage)) >= 2
	})
	raw, err := n.js.Stream(ctx, bus.RawStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := raw.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("RAW stream holds %d messages while events are refused, want the 2 unpublished", info.State.Msgs)
	}
	if st := r.p.Stats(); st.EventsOut != 1 {
		t.Fatalf("stats %+v while the events stream is full, want 1 out", st)
	}

	setMaxMsgs(-1)
	reader := newEventReader(t, n.js)
	got := byPath(reader.next(3, 10*time.Second))
	for i := range 3 {
		if _, ok := got[fmt.Sprintf("/bp/%d", i)]; !ok {
			t.Errorf("event %d missing after the stream accepted again", i)
		}
	}
	reader.none(300 * time.Millisecond)
	testenv.WaitFor(t, 5*time.Second, "RAW stream emptied", func() bool {
		info, err := raw.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
	if st := r.p.Stats(); st.EventsIn != 3 || st.EventsOut != 3 {
		t.Errorf("stats %+v, want 3 in and out", st)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{QueryPolicy: "mask"}, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "query_policy") {
		t.Errorf("New with a bad policy: %v", err)
	}
	if _, err := New(Config{}, nil, nil, nil); err == nil {
		t.Error("New without JetStream: no error")
	}
}
