package analyze

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/metrics"
	"github.com/vakt-dev/vakt/store"
)

var quiet = slog.New(slog.DiscardHandler)

// alertEngines are what an Alerter uses: the store and the NATS server.
type alertEngines struct {
	CH driver.Conn
	NC *nats.Conn
	JS jetstream.JetStream
}

// owner holds the alert tests' connections, opened by the first of them.
var owner alertEngines

func openAlertEngines(t *testing.T) {
	t.Helper()
	if owner.CH != nil {
		return
	}
	nc, js, err := bus.Connect(bus.ConnConfig{URL: natsURL, Name: "analyze-test"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := store.Open(context.Background(), store.ClickHouseConfig{Addr: []string{chAddr}, Protocol: store.ProtocolHTTP,
		DialTimeout: 5 * time.Second, Username: testCHUser, Password: testCHPassword})
	if err != nil {
		t.Fatal(err)
	}
	owner = alertEngines{CH: conn, NC: nc, JS: js}
}

// testConfig is the alert loop's configuration over the database db.
func testConfig(db string) Config {
	return Config{Database: db, Interval: 10 * time.Second, WebhookTimeout: 5 * time.Second, WebhookRetries: 3}
}

// NewAlerter opens the alerter of a test, as `vakt run` does.
func NewAlerter(ctx context.Context, cfg Config, eng alertEngines, log *slog.Logger, m *metrics.Pipeline) (*Alerter, error) {
	return New(ctx, cfg, eng.CH, eng.NC, eng.JS, log, m)
}

// alertsDB makes a database with vakt's schema for one test.
func alertsDB(t *testing.T, name string) string {
	t.Helper()
	openAlertEngines(t)
	db := "t_alerts_" + name
	if err := owner.CH.Exec(t.Context(), "DROP DATABASE IF EXISTS "+db); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(t.Context(), owner.CH, store.SchemaConfig{Database: db}); err != nil {
		t.Fatal(err)
	}
	return db
}

// probes inserts n requests for /.env (flagged as sensitive files, as the
// pseudonymiser would) by one client, ending at end.
func probes(t *testing.T, db, site string, client uint64, n int, end time.Time) {
	t.Helper()
	q := fmt.Sprintf(`INSERT INTO %s.requests (ts, site, client_id, network_id, ip_version, epoch, method, path, status, user_agent, flags)
		SELECT fromUnixTimestamp64Milli(%d) - toIntervalSecond(number), '%s', %d, 7, 4, 20400, 'GET', concat('/.env', toString(number)), 404, 'Mozilla/5.0', 16
		FROM numbers(%d)`, db, end.UnixMilli(), site, client, n)
	if err := owner.CH.Exec(t.Context(), q); err != nil {
		t.Fatal(err)
	}
}

func subscribeAlerts(t *testing.T) chan Alert {
	t.Helper()
	ch := make(chan Alert, 100)
	sub, err := owner.NC.Subscribe(bus.AlertsSubjectRoot+".>", func(m *nats.Msg) {
		var a Alert
		if err := json.Unmarshal(m.Data, &a); err != nil {
			t.Errorf("alert is not JSON: %v", err)
		}
		if m.Subject != bus.AlertsSubject(a.Site) || m.Header.Get(HeaderAlertID) != a.ID {
			t.Errorf("alert for %s on %s, header id %q", a.Site, m.Subject, m.Header.Get(HeaderAlertID))
		}
		ch <- a
	})
	if err != nil {
		t.Fatal(err)
	}
	owner.NC.Flush()
	t.Cleanup(func() { sub.Unsubscribe() })
	return ch
}

func drain(ch chan Alert, wait time.Duration) []Alert {
	var out []Alert
	deadline := time.After(wait)
	for {
		select {
		case a := <-ch:
			out = append(out, a)
		case <-deadline:
			return out
		}
	}
}

func TestAlerterPublishesEachOffenderOncePerWindow(t *testing.T) {
	db := alertsDB(t, "once")
	cfg := testConfig(db)
	t0 := time.Now().UTC().Truncate(time.Second)
	probes(t, db, "shop.example", 42, 5, t0.Add(-5*time.Minute))
	// The same client probes again an hour later: a new window.
	probes(t, db, "shop.example", 42, 5, t0.Add(59*time.Minute))
	alerts := subscribeAlerts(t)

	m := metrics.New()
	newAlerter := func(at *time.Time) *Alerter {
		a, err := NewAlerter(t.Context(), cfg, owner, quiet, m)
		if err != nil {
			t.Fatal(err)
		}
		a.now = func() time.Time { return *at }
		return a
	}
	now := t0
	a := newAlerter(&now)
	steps := []struct {
		name  string
		at    time.Time
		fresh bool // a new Alerter: a restarted vakt run
		want  int
	}{
		{"first sight", t0, false, 1},
		{"same window", t0.Add(time.Minute), false, 0},
		{"after a restart, same window", t0.Add(2 * time.Minute), true, 0},
		{"still within an hour of the alert", t0.Add(55 * time.Minute), false, 0},
		{"a window later, still probing", t0.Add(61 * time.Minute), false, 1},
	}
	for _, s := range steps {
		now = s.at
		if s.fresh {
			a = newAlerter(&now)
		}
		n := a.Evaluate(t.Context())
		got := drain(alerts, 300*time.Millisecond)
		if n != s.want || len(got) != s.want {
			t.Fatalf("%s: published %d, received %d, want %d: %+v", s.name, n, len(got), s.want, got)
		}
		for _, al := range got {
			if al.Schema != AlertSchema || al.Rule != "sensitive-file-probe" || al.Category != "sensitive_file" || al.Severity != 4 ||
				al.Scope != "client" || al.Site != "shop.example" || al.Offender != "42" || al.Epoch != 20400 || al.Requests != 5 ||
				al.Evidence["sensitive_hits"] != 5 || al.Description == "" || !al.Time.Equal(s.at) ||
				!al.WindowEnd.Equal(s.at) || !al.WindowStart.Equal(s.at.Add(-time.Hour)) || al.FirstSeen.Before(al.WindowStart) {
				t.Fatalf("%s: alert %+v", s.name, al)
			}
		}
	}
	if got := value(m.AlertsPublished.WithLabelValues("sensitive-file-probe", "shop.example")); got != 2 {
		t.Fatalf("vakt_alerts_published_total %v, want 2", got)
	}
}

func TestAlertersShareTheBucket(t *testing.T) {
	db := alertsDB(t, "shared")
	cfg := testConfig(db)
	now := time.Now().UTC()
	probes(t, db, "a.example", 1, 3, now.Add(-time.Minute))
	probes(t, db, "b.example", 2, 3, now.Add(-time.Minute))
	alerts := subscribeAlerts(t)
	// Two vakt processes evaluate the same rules at once: each offender is
	// alerted by exactly one of them.
	var total atomic.Int64
	done := make(chan struct{})
	for range 2 {
		a, err := NewAlerter(t.Context(), cfg, owner, quiet, metrics.New())
		if err != nil {
			t.Fatal(err)
		}
		a.now = func() time.Time { return now }
		go func() { total.Add(int64(a.Evaluate(t.Context()))); done <- struct{}{} }()
	}
	<-done
	<-done
	got := drain(alerts, 300*time.Millisecond)
	sites := map[string]int{}
	for _, a := range got {
		sites[a.Site]++
	}
	if total.Load() != 2 || len(got) != 2 || sites["a.example"] != 1 || sites["b.example"] != 1 {
		t.Fatalf("published %d, received %v", total.Load(), sites)
	}
}

func TestAlerterSurvivesFailingRule(t *testing.T) {
	openAlertEngines(t)
	cfg := testConfig("t_alerts_no_such_db")
	m := metrics.New()
	a, err := NewAlerter(t.Context(), cfg, owner, quiet, m)
	if err != nil {
		t.Fatal(err)
	}
	if n := a.Evaluate(t.Context()); n != 0 {
		t.Fatalf("published %d", n)
	}
	if got := value(m.RuleErrors.WithLabelValues("scanning")); got != 1 {
		t.Fatalf("rule errors %v", got)
	}
	// Run keeps going and stops with its context.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := a.Run(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Run: %v", err)
	}
}

func TestWebhookDelivery(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int // answers in turn; the last repeats
		retries  int
		calls    int
		ok       bool
	}{
		{"first try", []int{200}, 3, 1, true},
		{"after two server errors", []int{503, 502, 204}, 3, 3, true},
		{"rate limited then accepted", []int{429, 200}, 3, 2, true},
		{"retries exhausted", []int{500}, 2, 3, false},
		{"client error is final", []int{400}, 3, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			var body atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1))
				b, _ := io.ReadAll(r.Body)
				body.Store(string(b))
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("%s with %s", r.Method, r.Header.Get("Content-Type"))
				}
				w.WriteHeader(tc.statuses[min(n, len(tc.statuses))-1])
			}))
			defer srv.Close()
			m := metrics.New()
			w := newWebhook(srv.URL+"/hook?token=secret", time.Second, tc.retries, quiet, m)
			w.backoff = time.Millisecond
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { w.run(ctx); close(done) }()
			w.enqueue([]byte(`{"schema":"vakt.alert/v1"}`))
			deadline := time.Now().Add(5 * time.Second)
			result := "ok"
			if !tc.ok {
				result = "failed"
			}
			for value(m.WebhookDeliveries.WithLabelValues(result)) != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("no %s delivery after %d calls", result, calls.Load())
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			<-done
			if int(calls.Load()) != tc.calls || body.Load() != `{"schema":"vakt.alert/v1"}` {
				t.Fatalf("%d calls, body %v; want %d", calls.Load(), body.Load(), tc.calls)
			}
		})
	}
	// A URL's token never reaches an error message.
	w := newWebhook("http://127.0.0.1:1/hook?token=secret", 200*time.Millisecond, 0, quiet, metrics.New())
	if err := w.deliver(t.Context(), []byte("{}")); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %v", err)
	}
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.GetGauge().GetValue()
}
