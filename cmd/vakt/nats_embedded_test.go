package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/app"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/internal/testenv"
)

var natsEndpointRe = regexp.MustCompile(`NATS \(embedded\):\s+(nats://\S+)`)

// TestEmbeddedNATSUsersEndToEnd runs `vakt run` on a data dir and, while it
// owns it, `vakt import`, `vakt salts status` and `vakt quarantine` on the
// same data dir, each connecting over the loopback listener as its stages'
// users with the passwords the owner generated. An anonymous client is
// refused, a shipper publishes as vakt_shipper, vakt_ingest cannot open the
// salt bucket, and after the run no file of the data dir holds the salt the
// pipeline created, raw or encoded.
func TestEmbeddedNATSUsersEndToEnd(t *testing.T) {
	t.Parallel()
	testenv.CHDBLib(t)
	work := t.TempDir()
	dataDir := filepath.Join(work, "data")
	cfg := faultConfig(t, work, "vakt.yaml", dataDir, "")
	tl := writeTestLog(t, work, 1_000, 100)

	run := startVakt(t, "run", "--config", cfg)
	url := run.waitOutput(t, natsEndpointRe)[1]
	var outputs []string

	if nc, err := nats.Connect(url, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected to the embedded NATS")
	} else if !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("anonymous client: %v", err)
	}
	password := func(user string) string {
		pw, err := secrets.Read(dataDir, bus.PasswordFile(user))
		if err != nil {
			t.Fatal(err)
		}
		return pw
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A shipper publishes the JSON contract as vakt_shipper.
	shipper, err := nats.Connect(url, bus.UserOptions(bus.UserShipper, password(bus.UserShipper))...)
	if err != nil {
		t.Fatal(err)
	}
	defer shipper.Close()
	sjs, _ := jetstream.New(shipper)
	line := fmt.Sprintf(`{"ts":%q,"client_ip":"203.0.113.77","target":"/shipped","status":200}`, time.Now().UTC().Format(time.RFC3339))
	if _, err := sjs.Publish(ctx, "vakt.raw.ship_example", []byte(line)); err != nil {
		t.Fatalf("vakt_shipper cannot publish a raw event: %v", err)
	}

	// vakt_ingest may not even look the salt bucket up.
	ingest, err := nats.Connect(url, append(bus.UserOptions(bus.UserIngest, password(bus.UserIngest)), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer ingest.Close()
	ijs, _ := jetstream.New(ingest)
	kctx, kcancel := context.WithTimeout(ctx, 3*time.Second)
	if _, err := ijs.KeyValue(kctx, bus.SaltBucket); err == nil {
		t.Fatal("vakt_ingest opened the salt bucket")
	}
	kcancel()

	// `vakt import` while `vakt run` owns the data dir.
	stdout, stderr, err := vakt(t, "import", "--config", cfg, "--site", "imp.example", tl.path)
	outputs = append(outputs, stdout, stderr)
	if err != nil {
		t.Fatalf("vakt import next to vakt run: %v\n%s%s", err, stdout, lastLines(stderr, 20))
	}
	if m := regexp.MustCompile(`(?m)^stored:\s+(\d+)`).FindStringSubmatch(stdout); m == nil || m[1] != fmt.Sprint(tl.valid) {
		t.Fatalf("vakt import stored %v, want %d:\n%s", m, tl.valid, stdout)
	}
	stdout, stderr, err = vakt(t, "salts", "status", "--format", "json", "--config", cfg)
	outputs = append(outputs, stdout, stderr)
	var st struct {
		Current uint32 `json:"current_epoch"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &st) != nil {
		t.Fatalf("vakt salts status next to vakt run: %v\n%s%s", err, stdout, stderr)
	}
	stdout, stderr, err = vakt(t, "quarantine", "--config", cfg)
	outputs = append(outputs, stdout, stderr)
	if err != nil || !strings.Contains(stdout, "garbage line") {
		t.Errorf("vakt quarantine next to vakt run: %v\n%s%s", err, stdout, stderr)
	}

	// The salt the pipeline created, read as vakt_pseudonymize.
	c := config.Defaults()
	c.DataDir, c.ClickHouse.Addr = dataDir, []string{"127.0.0.1:1"}
	eng, err := app.OpenEngines(ctx, c, app.Need{NATS: true, Stage: bus.StageSalts}, "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := eng.JS.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, fmt.Sprintf("epoch.%d", st.Current))
	if err != nil || len(e.Value()) != 32 {
		t.Fatalf("salt of epoch %d: %v", st.Current, err)
	}
	salt := bytes.Clone(e.Value())
	eng.Close()
	run.stop(t)
	outputs = append(outputs, run.output())
	if code := run.cmd.ProcessState.ExitCode(); code != 0 || strings.Contains(run.output(), "NATS refused") {
		t.Errorf("vakt run exited %d:\n%s", code, lastLines(run.output(), 20))
	}
	for _, u := range bus.Users() {
		for _, out := range outputs {
			if strings.Contains(out, password(u.Name)) {
				t.Fatalf("the password of %s appears in vakt's output", u.Name)
			}
		}
	}

	forms := map[string][]byte{"raw": salt, "hex": []byte(hex.EncodeToString(salt)), "base64": []byte(base64.StdEncoding.EncodeToString(salt)),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(salt)), "first half": salt[:16], "second half": salt[16:]}
	files := 0
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() { // the engine's symlinks lead into the data dir too
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		files++
		for name, f := range forms {
			if bytes.Contains(b, f) {
				t.Errorf("%s holds the salt (%s)", p, name)
			}
		}
		return nil
	})
	if err != nil || files < 20 {
		t.Fatalf("scanned %d files of the data dir: %v", files, err)
	}
	t.Logf("no salt in the %d files of the data dir", files)
}
