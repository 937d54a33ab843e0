package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/loggen"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// testenv.SyncBuffer is a bytes.Buffer safe for a subprocess to write while the
// test reads.

type receivedAlert struct {
	at      time.Time
	subject string
	body    map[string]any
}

// TestAlertWithinSecondsOfAttackBurst runs `vakt run` following a log,
// appends an attack burst and waits for the alert on vakt.alerts.<site>.
func TestAlertWithinSecondsOfAttackBurst(t *testing.T) {
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	logPath := filepath.Join(work, "access.log")
	const site = "live.example"
	const interval = time.Second

	// Benign traffic already in the file: read from the start.
	g := loggen.New(loggen.Config{Seed: 9, Clients: 200, Start: time.Now().Add(-3 * time.Minute), Rate: 2, AttackShare: -1})
	benignIPs, err := g.WriteFile(logPath, 300)
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfgPath := filepath.Join(work, "vakt.yaml")
	cfg := fmt.Sprintf(`data_dir: %s
nats: {listen: "127.0.0.1:0"}
clickhouse: {listen: "127.0.0.1:0"}
http: {listen: %q}
ingest: {files: [%q], site: %s, from_start: true}
alerts: {interval: %s}
`, dataDir, metricsAddr, logPath, site, interval)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vaktBin, "run", "--config", cfgPath)
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("vakt run exited with %v\n%s", err, out.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("vakt run did not stop on SIGTERM\n%s", out.String())
		}
	}
	defer stop()

	// The embedded NATS URL is in the runtime file.
	var natsURL string
	waitFor(t, 60*time.Second, "vakt run to publish its engines", func() bool {
		b, err := os.ReadFile(filepath.Join(dataDir, "vakt.runtime.json"))
		var info struct {
			NATSURL       string `json:"nats_url"`
			ClickHouseURL string `json:"clickhouse_http"`
		}
		if err == nil && json.Unmarshal(b, &info) == nil && info.ClickHouseURL != "" {
			natsURL = info.NATSURL
		}
		return natsURL != ""
	}, &out)
	// Alerts are for vakt_ops: no anonymous client may connect.
	pw, err := secrets.Read(dataDir, bus.PasswordFile(bus.UserOps))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsURL, bus.UserOptions(bus.UserOps, pw)...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	var alerts []receivedAlert
	if _, err := nc.Subscribe("vakt.alerts.>", func(m *nats.Msg) {
		var body map[string]any
		if err := json.Unmarshal(m.Data, &body); err != nil {
			t.Errorf("alert is not JSON: %v: %q", err, m.Data)
		}
		mu.Lock()
		alerts = append(alerts, receivedAlert{time.Now(), m.Subject, body})
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	count := func() []receivedAlert {
		mu.Lock()
		defer mu.Unlock()
		return append([]receivedAlert(nil), alerts...)
	}

	// The benign lines are stored, and evaluated, without any alert.
	waitFor(t, 60*time.Second, "the benign lines to be stored", func() bool {
		o, _, err := vakt(t, "sql", "--data-dir", dataDir, "--format", "tsv", "SELECT count() FROM vakt.requests")
		return err == nil && strings.TrimSpace(o) == "300"
	}, &out)
	time.Sleep(3 * interval) // three evaluations that must not alert
	if a := count(); len(a) != 0 {
		t.Fatalf("alerts on benign traffic: %+v", a)
	}

	// The attack burst: sensitive-file probes from an address not seen yet.
	const attacker = "203.0.113.77" // TEST-NET-3: never generated for benign clients
	for ip := range benignIPs {
		if ip.String() == attacker {
			t.Fatal("attacker address is benign")
		}
	}
	var burst strings.Builder
	now := time.Now()
	for i, p := range []string{"/.env", "/.git/config", "/wp-config.php.bak", "/backup.sql", "/.aws/credentials"} {
		fmt.Fprintf(&burst, "%s - - [%s] \"GET %s HTTP/1.1\" 404 153 \"-\" \"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\"\n",
			attacker, now.Add(time.Duration(i)*100*time.Millisecond).Format("02/Jan/2006:15:04:05 -0700"), p)
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if _, err := f.WriteString(burst.String()); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var got receivedAlert
	waitFor(t, 30*time.Second, "the alert", func() bool {
		for _, a := range count() {
			if a.body["category"] == "sensitive_file" {
				got = a
				return true
			}
		}
		return false
	}, &out)
	latency := got.at.Sub(sent)
	t.Logf("alert on %s %.1fs after the burst was appended (alerts.interval %s): %v", got.subject, latency.Seconds(), interval, got.body)
	if got.subject != bus.AlertsSubject(site) {
		t.Errorf("alert on subject %s", got.subject)
	}
	if latency > 15*time.Second {
		t.Errorf("alert took %s", latency)
	}
	ev, _ := got.body["evidence"].(map[string]any)
	if got.body["schema"] != "vakt.alert/v1" || got.body["rule"] != "sensitive-file-probe" || got.body["site"] != site ||
		got.body["scope"] != "client" || got.body["requests"] != 5.0 || ev["sensitive_hits"] != 5.0 {
		t.Errorf("alert %v", got.body)
	}

	// `vakt report` works through the running vakt's engines and agrees.
	o, e, err := vakt(t, "report", "threats", "--data-dir", dataDir, "--since", "10m", "--format", "json")
	if err != nil {
		t.Fatalf("vakt report with vakt run running: %v\n%s", err, e)
	}
	if !strings.Contains(o, `"id":"`+got.body["offender"].(string)+`"`) || !strings.Contains(o, `"category":"sensitive_file"`) {
		t.Errorf("report does not show the alerted offender:\n%s", o)
	}

	// Once per window: later evaluations do not repeat it.
	time.Sleep(3 * interval) // three more evaluations that must not repeat it
	if a := count(); len(a) != 1 {
		t.Errorf("%d alerts, want exactly one: %+v", len(a), a)
	}

	// /metrics counts it, shows consumer lag, and holds no IP.
	req, err := http.NewRequest(http.MethodGet, "http://"+metricsAddr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	token, err := secrets.Read(dataDir, app.HTTPTokenName)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`vakt_alerts_published_total{rule="sensitive-file-probe",site="live.example"} 1`,
		`vakt_consumer_pending{consumer="store"} 0`,
		`vakt_consumer_ack_pending{consumer="pseudonymize"}`,
		`vakt_rule_duration_seconds_count{rule="flood"}`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for ip := range benignIPs {
		if bytes.Contains(body, []byte(ip.String())) {
			t.Fatalf("raw IP in /metrics")
		}
	}
	if bytes.Contains(body, []byte(attacker)) || strings.Contains(out.String(), attacker) {
		t.Fatal("attacker IP in /metrics or vakt's output")
	}
	stop()
}

// waitFor is testenv.WaitFor that also shows vakt run's output when the
// wait fails.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, out *testenv.SyncBuffer) {
	t.Helper()
	held := false
	defer func() {
		if !held {
			t.Logf("vakt run output:\n%s", out.String())
		}
	}()
	testenv.WaitFor(t, timeout, what, cond)
	held = true
}
