package pseudonymize

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/internal/testenv"
	"github.com/vakt-dev/vakt/logformat"
)

// TestJSONContract publishes on the RAW stream exactly what the shippers of
// configs/ send (docs/nats-contract.md) and checks that the events arrive
// pseudonymised, next to vakt's own protobuf batches:
//
//   - Vector's nats sink (encoding.codec = "json", jetstream.enabled,
//     jetstream.headers.message_id): one JSON object per message, published
//     to JetStream with a Nats-Msg-Id; once with the fields remapped to the
//     contract, once as the file source's raw event (message, host, file,
//     offset, timestamp...).
//   - Fluent Bit's nats output: a core NATS PUB on the tag as subject, with
//     no headers, of [[time, {"tag": ..., "log": line}], ...].
//
// Invalid JSON is dropped whole with reason invalid_json; a bad record is
// rejected alone with the logformat reason.
func TestJSONContract(t *testing.T) {
	n := startNATS(t)
	var logs testenv.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New()
	r := startPseudonymizer(t, n.connect(t, "pseudonymize"), Config{}, log, m)
	reader := newEventReader(t, n.js)

	ips := testIPs(4, 2)
	now := time.Now().UTC().Truncate(time.Second)
	clf := func(ip netip.Addr, path string, status int) string {
		return fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" %d 321 "https://ref.example/" "Mozilla/5.0 (X11)"`,
			ip, now.Format("02/Jan/2006:15:04:05 -0700"), path, status)
	}
	jsPublish := func(subject, id string, data string) {
		t.Helper()
		msg := &nats.Msg{Subject: subject, Data: []byte(data), Header: nats.Header{}}
		var opts []jetstream.PublishOpt
		if id != "" {
			opts = append(opts, jetstream.WithMsgID(id))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := n.js.PublishMsg(ctx, msg, opts...); err != nil {
			t.Fatal(err)
		}
	}

	// 1. Vector, fields remapped to the contract by a VRL remap.
	vectorStructured := fmt.Sprintf(`{"ts":%q,"client_ip":%q,"method":"POST","target":"/vector/structured?token=secret",`+
		`"protocol":"HTTP/2.0","status":201,"bytes":99,"referrer":"-","user_agent":"curl/8.5.0","request_time":0.042,`+
		`"upstream_time":"0.030, 0.010","host":"shop.example","x_forwarded_for":"-"}`, now.Format(time.RFC3339Nano), ips[0])
	jsPublish("vakt.raw.shop_example", "web-1:/var/log/nginx/access.log:0", vectorStructured)
	// The same event again (a Vector retry): deduplicated by JetStream.
	jsPublish("vakt.raw.shop_example", "web-1:/var/log/nginx/access.log:0", vectorStructured)

	// 2. Vector, the file source's event unchanged: vakt parses the line.
	vectorRaw := fmt.Sprintf(`{"file":"/var/log/nginx/access.log","host":"web-1","message":%q,"offset":120,`+
		`"source_type":"file","timestamp":%q}`, clf(ips[1], "/vector/raw", 200), time.Now().UTC().Format(time.RFC3339Nano))
	jsPublish("vakt.raw.shop_example", "web-1:/var/log/nginx/access.log:120", vectorRaw)

	// 3. Fluent Bit: core NATS publish, no headers, [[ts, record], ...].
	nc, err := nats.Connect(n.srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ts := float64(now.UnixNano()) / 1e9
	fluent := fmt.Sprintf(`[[%f,{"tag":"vakt.raw.blog","log":%q}],[%f,{"tag":"vakt.raw.blog","log":%q}],`+
		`[%f,{"tag":"vakt.raw.blog","log":"not an access log line"}]]`,
		ts, clf(ips[2], "/fluent/1", 404), ts, clf(ips[4], "/fluent/2", 200), ts)
	if err := nc.Publish("vakt.raw.blog", []byte(fluent)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// 4. Invalid JSON, and vakt's own protobuf batch on the same stream.
	jsPublish("vakt.raw.blog", "broken", `{"ts":1,"client_ip":"`+ips[3].String()+`",`)
	rec := rawRecord(ips[5], "/protobuf")
	rec.Time = now
	publishRaw(t, n.js, "blog", "pb-1", []event.Raw{rec})

	batches := reader.next(4, 10*time.Second)
	reader.none(300 * time.Millisecond)
	got := byPath(batches)
	sites := map[string]string{}
	for _, b := range batches {
		assertNoIPs(t, b.Data, ips)
		for _, e := range b.Events {
			sites[e.Path] = e.Site
			if e.ClientID == 0 || e.NetworkID == 0 || !e.Time.Equal(now) {
				t.Errorf("%s: not pseudonymised or wrong time: %+v", e.Path, e)
			}
		}
	}
	want := map[string]struct {
		site, method, query string
		status              uint16
		rt, ut              time.Duration
	}{
		"/vector/structured": {"shop_example", "POST", "token=", 201, 42 * time.Millisecond, 40 * time.Millisecond},
		"/vector/raw":        {"shop_example", "GET", "", 200, event.Unknown, event.Unknown},
		"/fluent/1":          {"blog", "GET", "", 404, event.Unknown, event.Unknown},
		"/fluent/2":          {"blog", "GET", "", 200, event.Unknown, event.Unknown},
		"/protobuf":          {testSite, "GET", "", 200, 2 * time.Millisecond, event.Unknown},
	}
	if len(got) != len(want) {
		t.Fatalf("events for %v, want %d paths", sites, len(want))
	}
	for path, w := range want {
		e, ok := got[path]
		if !ok {
			t.Errorf("no event for %s", path)
			continue
		}
		if e.Site != w.site || e.Method != w.method || e.Query != w.query || e.Status != w.status ||
			e.RequestTime != w.rt || e.UpstreamTime != w.ut {
			t.Errorf("%s: %+v, want %+v", path, e, w)
		}
	}
	if e := got["/vector/structured"]; e.Host != "shop.example" || e.UserAgent != "curl/8.5.0" || e.Protocol != "HTTP/2.0" || e.Bytes != 99 {
		t.Errorf("structured: %+v", e)
	}
	// The raw Vector event's "host" is the shipper's host name, not the
	// request's: it must not become Host.
	if e := got["/vector/raw"]; e.Host != "" || e.Referrer == "" {
		t.Errorf("raw line: host %q referrer %q", e.Host, e.Referrer)
	}

	testenv.WaitFor(t, 5*time.Second, "all raw messages finished", func() bool { return r.p.Stats().EventsIn == 7 })
	if got := counter(t, m.Rejected.WithLabelValues(stage, event.ReasonInvalidJSON)); got != 1 {
		t.Errorf("invalid_json rejected %v, want 1", got)
	}
	if got := counter(t, m.Rejected.WithLabelValues(stage, string(logformat.ReasonBadIP))); got != 1 {
		t.Errorf("bad_ip rejected %v, want 1 (the Fluent Bit line that is no access log)", got)
	}
	r.stop(t)
	out := logs.String()
	for _, ip := range ips {
		if strings.Contains(out, ip.String()) {
			t.Errorf("log contains %v", ip)
		}
	}
	if strings.Contains(out, "secret") || strings.Contains(out, "/vector") {
		t.Errorf("log contains content:\n%s", out)
	}
}
