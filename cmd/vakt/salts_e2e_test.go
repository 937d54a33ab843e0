package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestSaltReplacedUnderRunningVakt is issue 12's acceptance 2 against
// `vakt run`: a salt replaced in the bucket (by the one user NATS lets near
// it) is refused within seconds with an alarm (metric and alert), events
// wait instead of being published under it, and `vakt salts rotate` lets
// them through under a new epoch.
func TestSaltReplacedUnderRunningVakt(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	cfgPath, httpAddr := writeConfig(t, work, "alerts: {enabled: false}\n")
	startBackground(t, "run", "--config", cfgPath, "--data-dir", dataDir)
	ep := readRuntime(t, dataDir)
	ctx := context.Background()

	connect := func(user string) *nats.Conn {
		pw, err := app.NATSPassword(dataDir, user)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(ep.NATS, bus.UserOptions(user, pw)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	alerts, err := connect(bus.UserOps).SubscribeSync(bus.AlertsSubject("vakt"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(connect(bus.UserPseudonymize))
	if err != nil {
		t.Fatal(err)
	}
	var kv jetstream.KeyValue
	var epoch uint64
	testenv.WaitFor(t, 60*time.Second, "a salt in the bucket", func() bool {
		if kv == nil {
			if kv, err = js.KeyValue(ctx, bus.SaltBucket); err != nil {
				kv = nil
				return false
			}
		}
		keys, _ := kv.Keys(ctx)
		for _, k := range keys {
			if n, ok := strings.CutPrefix(k, "epoch."); ok {
				if v, err := strconv.ParseUint(n, 10, 32); err == nil && v > epoch {
					epoch = v
				}
			}
		}
		return epoch > 0
	})
	replaced := time.Now()
	if _, err := kv.Put(ctx, fmt.Sprintf("epoch.%d", epoch), []byte(strings.Repeat("A", 32))); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the conflict metric", func() bool {
		body, err := tryScrape(httpAddr, dataDir)
		return err == nil && metricSum(body, "vakt_salt_conflicts_total") >= 1
	})
	t.Logf("refused %s after the replacement", time.Since(replaced).Round(time.Millisecond))
	msg, err := alerts.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no alert on %s: %v", bus.AlertsSubject("vakt"), err)
	}
	if !strings.Contains(string(msg.Data), `"salt-replaced"`) {
		t.Fatalf("alert %s", msg.Data)
	}

	// A line arriving now waits; after the rotation it is stored under the
	// new epoch, never under the replaced one.
	log := filepath.Join(work, "after.log")
	ts := time.Now().Format("02/Jan/2006:15:04:05 -0700")
	if err := os.WriteFile(log, []byte(`192.0.2.44 - - [`+ts+`] "GET /after-the-forgery HTTP/1.1" 200 1 "-" "t"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := startBackground(t, "import", "--data-dir", dataDir, "--config", cfgPath, "--site", "forged.example", log)
	out, errOut, err := vakt(t, "salts", "rotate", "--destroy-now", "--data-dir", dataDir, "--config", cfgPath)
	if err != nil {
		t.Fatalf("vakt salts rotate: %v\n%s\n%s", err, out, errOut)
	}
	select {
	case err := <-imp.done:
		if err != nil {
			t.Fatalf("vakt import: %v\n%s", err, imp.stderr.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the import did not finish after the rotation")
	}
	got := chQuery(strings.TrimPrefix(ep.ClickHouse, "http://"), app.DefaultClickHouseUser, credential(t, dataDir, app.ClickHousePasswordFile(app.DefaultClickHouseUser)),
		"SELECT epoch FROM vakt.requests WHERE path = '/after-the-forgery'")
	if got == "" || got == strconv.FormatUint(epoch, 10) {
		t.Fatalf("the line after the forgery stored under epoch %q (replaced epoch %d)", got, epoch)
	}
}
