package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// accountsServer runs nats-server on configs/nats-accounts.conf with a
// fresh random password per user, passed as the environment variables the
// file names, and returns its URL and the passwords.
func accountsServer(t *testing.T) (url string, passwords map[string]string) {
	t.Helper()
	passwords = map[string]string{}
	for _, u := range []string{"admin", "ingest", "pseudonymize", "store", "ops", "shipper", "enforce", "subject"} {
		passwords[u] = "pw-" + rand.Text()
		t.Setenv("VAKT_"+strings.ToUpper(u)+"_PASSWORD", passwords[u])
	}
	opts, err := server.ProcessConfigFile(filepath.Join("..", "..", "configs", "nats-accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.HTTPHost, opts.HTTPPort = "127.0.0.1", -1, "", 0
	opts.StoreDir, opts.NoSigs, opts.NoLog = filepath.Join(t.TempDir(), "js"), true, true
	ns := startNATSServer(t, opts)
	return ns.url(), passwords
}

// stageConfig writes the configuration of one vakt process that connects
// as vakt_<user> with that user's inbox prefix.
func stageConfig(t *testing.T, dir, user, natsURL, password, extra string) string {
	t.Helper()
	pw := filepath.Join(dir, user+".password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, user+".yaml")
	c := fmt.Sprintf(`data_dir: %s
nats:
  url: %s
  user: vakt_%s
  password_file: %s
  inbox_prefix: _INBOX_%s
alerts: {enabled: false}
%s`, filepath.Join(dir, user+"-data"), natsURL, user, pw, user, extra)
	if !strings.Contains(extra, "http:") {
		c += "http: {listen: \"\"}\n"
	}
	if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// connectUser connects as vakt_<user> with that user's inbox prefix.
func connectUser(t *testing.T, url, user, password string) *testenv.NATSUser {
	t.Helper()
	return testenv.ConnectNATSUser(t, url, "vakt_"+user, nats.UserInfo("vakt_"+user, password), nats.CustomInboxPrefix("_INBOX_"+user))
}

func request(nc *nats.Conn, subject, body string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := nc.RequestWithContext(ctx, subject, []byte(body))
		return err
	}
}

// TestStagesWithLeastPrivilegeNATSUsers runs the pipeline on a nats-server
// loaded from configs/nats-accounts.conf, each stage as its own process
// with its own user: before `vakt nats setup` a stage fails at once and
// says what to do; after it, every line is stored. The ingest and store
// users can neither read raw events nor touch the salt bucket, and the
// store user cannot publish raw events: each refusal is observed.
func TestStagesWithLeastPrivilegeNATSUsers(t *testing.T) {
	testenv.CHDBLib(t)
	url, pw := accountsServer(t)
	work := t.TempDir()
	tl := writeTestLog(t, work, 2_000, 300)
	chAddr := freeLoopbackAddr(t)
	storeData := filepath.Join(work, "store-data") // stageConfig's data dir of the store
	httpAddr := map[string]string{"ingest": freeLoopbackAddr(t), "pseudonymize": freeLoopbackAddr(t), "store": freeLoopbackAddr(t)}
	cfg := map[string]string{
		"admin": stageConfig(t, work, "admin", url, pw["admin"], ""),
		"ingest": stageConfig(t, work, "ingest", url, pw["ingest"], fmt.Sprintf("http: {listen: %q}\ningest:\n  from_start: true\n  files: [%s]\n  site: accounts.example\n",
			httpAddr["ingest"], tl.path)),
		"pseudonymize": stageConfig(t, work, "pseudonymize", url, pw["pseudonymize"], fmt.Sprintf("http: {listen: %q}\n", httpAddr["pseudonymize"])),
		"store": stageConfig(t, work, "store", url, pw["store"], fmt.Sprintf("http: {listen: %q}\nclickhouse: {listen: %q}\nstore: {flush_interval: 200ms}\n",
			httpAddr["store"], chAddr)),
		"ops": stageConfig(t, work, "ops", url, pw["ops"], ""),
	}
	var outputs []string
	defer func() {
		for _, out := range outputs {
			for u, p := range pw {
				if strings.Contains(out, p) {
					t.Errorf("the password of vakt_%s appears in vakt's output", u)
				}
			}
		}
	}()

	// Before the set-up: nothing exists and ingest may not create the RAW
	// stream. A clear error at once, not a 30s wait.
	start := time.Now()
	_, stderr, err := vakt(t, "ingest", "--config", cfg["ingest"])
	took := time.Since(start)
	outputs = append(outputs, stderr)
	t.Logf("ingest before set-up (%s): %s", took.Round(time.Millisecond), strings.TrimSpace(stderr))
	if err == nil || took > 10*time.Second ||
		!strings.Contains(stderr, "stream VAKT_RAW does not exist and NATS user \"vakt_ingest\" may not create it") ||
		!strings.Contains(stderr, "vakt nats setup") || !strings.Contains(stderr, `Permissions Violation for Publish to "$JS.API.STREAM.CREATE.VAKT_RAW"`) {
		t.Fatalf("ingest before set-up: want a quick, clear refusal; got %v after %s", err, took)
	}

	// The administrator sets everything up but the salt bucket; a second
	// run changes nothing.
	for i, want := range []string{"created", "unchanged"} {
		stdout, stderr, err := vakt(t, "nats", "setup", "--config", cfg["admin"])
		outputs = append(outputs, stdout, stderr)
		if err != nil {
			t.Fatalf("vakt nats setup: %v\n%s%s", err, stdout, stderr)
		}
		t.Logf("vakt nats setup #%d:\n%s", i+1, stdout)
		for _, what := range []string{"stream VAKT_RAW", "consumer pseudonymize on VAKT_RAW", "stream VAKT_EVENTS", "consumer store on VAKT_EVENTS", "stream VAKT_QUARANTINE", "kv bucket vakt_ingest_offsets"} {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(what) + `\s+` + want + `\s*$`).MatchString(stdout) {
				t.Errorf("vakt nats setup #%d: no %q %s", i+1, what, want)
			}
		}
		if strings.Contains(stdout, "vakt_salts") {
			t.Errorf("vakt nats setup touched the salt bucket:\n%s", stdout)
		}
	}

	// The pipeline, one process and one user per stage.
	st := startVakt(t, "store", "--config", cfg["store"])
	st.waitOutput(t, regexp.MustCompile(`stage running`))
	ps := startVakt(t, "pseudonymize", "--config", cfg["pseudonymize"])
	ps.waitOutput(t, regexp.MustCompile(`stage running`))
	ing := startVakt(t, "ingest", "--config", cfg["ingest"])
	ing.waitOutput(t, regexp.MustCompile(`following log files`))
	procs := map[string]*process{"store": st, "pseudonymize": ps, "ingest": ing}
	defer func() {
		for name, p := range procs {
			p.stop(t)
			outputs = append(outputs, p.output())
			if code := p.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("vakt %s exited %d:\n%s", name, code, lastLines(p.output(), 20))
			}
			if strings.Contains(p.output(), "NATS refused") {
				t.Errorf("vakt %s was refused an operation:\n%s", name, lastLines(p.output(), 20))
			}
		}
	}()
	waitStored(t, chAddr, storeData, tl.valid, 60*time.Second)
	if rows, _ := chCount(chAddr, storeData); rows != tl.valid {
		for name, p := range procs {
			t.Logf("vakt %s:\n%s", name, lastLines(p.output(), 20))
		}
		t.Fatalf("%d valid lines, %d rows stored", tl.valid, rows)
	}
	t.Logf("%d valid lines, %d rows stored", tl.valid, tl.valid)
	// Each stage's /readyz reads both consumers' lag with its own user.
	for name, addr := range httpAddr {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("vakt %s /readyz: %d %s", name, resp.StatusCode, body)
		}
	}

	// The other commands with their users: ops reads the masked samples,
	// the pseudonymiser's user the salt epochs; ingest's may not.
	stdout, stderr, err := vakt(t, "quarantine", "--config", cfg["ops"])
	outputs = append(outputs, stdout, stderr)
	if err != nil || !strings.Contains(stdout, "garbage line") {
		t.Errorf("vakt quarantine as vakt_ops: %v\n%s%s", err, stdout, stderr)
	}
	stdout, stderr, err = vakt(t, "salts", "status", "--config", cfg["pseudonymize"])
	outputs = append(outputs, stdout, stderr)
	if err != nil || !strings.Contains(stdout, "current") {
		t.Errorf("vakt salts status as vakt_pseudonymize: %v\n%s%s", err, stdout, stderr)
	}
	start = time.Now()
	_, stderr, err = vakt(t, "salts", "status", "--config", cfg["ingest"])
	outputs = append(outputs, stderr)
	t.Logf("vakt salts status as vakt_ingest (%s): %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr))
	if err == nil || time.Since(start) > 10*time.Second || !strings.Contains(stderr, `kv bucket vakt_salts: NATS user "vakt_ingest" may not look it up`) {
		t.Errorf("vakt salts status as vakt_ingest: want a quick refusal, got %v", err)
	}

	// What the ingest and store users cannot do.
	ingest := connectUser(t, url, "ingest", pw["ingest"])
	store := connectUser(t, url, "store", pw["store"])
	var raw []*nats.Subscription
	for _, u := range []*testenv.NATSUser{ingest, store} {
		u.Refused(t, "subscribe to raw events", "vakt.raw.>", func(context.Context) error {
			s, err := u.NC.SubscribeSync("vakt.raw.>")
			raw = append(raw, s)
			return err
		})
		u.Refused(t, "a consumer on VAKT_RAW", "$JS.API.CONSUMER.CREATE.VAKT_RAW.", func(ctx context.Context) error {
			_, err := u.JS.CreateConsumer(ctx, "VAKT_RAW", jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy})
			return err
		})
		u.Refused(t, "fetch from the pseudonymiser's consumer", "$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize",
			request(u.NC, "$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize", `{"batch":1,"no_wait":true}`))
		u.Refused(t, "subscribe to the pseudonymiser's replies", "_INBOX_pseudonymize.>", func(context.Context) error {
			_, err := u.NC.SubscribeSync("_INBOX_pseudonymize.>")
			return err
		})
		u.Refused(t, "open the salt bucket (KV)", "$JS.API.STREAM.INFO.KV_vakt_salts", func(ctx context.Context) error {
			_, err := u.JS.KeyValue(ctx, "vakt_salts")
			return err
		})
		u.Refused(t, "stream info of KV_vakt_salts", "$JS.API.STREAM.INFO.KV_vakt_salts", func(ctx context.Context) error {
			_, err := u.JS.Stream(ctx, "KV_vakt_salts")
			return err
		})
		u.Refused(t, "direct get of a salt key", "$JS.API.DIRECT.GET.KV_vakt_salts.$KV.vakt_salts.meta.epoch_length",
			request(u.NC, "$JS.API.DIRECT.GET.KV_vakt_salts.$KV.vakt_salts.meta.epoch_length", ""))
		u.Refused(t, "direct get of the bucket's first message", "$JS.API.DIRECT.GET.KV_vakt_salts",
			request(u.NC, "$JS.API.DIRECT.GET.KV_vakt_salts", `{"seq":1}`))
		u.Refused(t, "message get on KV_vakt_salts", "$JS.API.STREAM.MSG.GET.KV_vakt_salts",
			request(u.NC, "$JS.API.STREAM.MSG.GET.KV_vakt_salts", `{"seq":1}`))
		u.Refused(t, "watch the salt bucket (consumer)", "$JS.API.CONSUMER.CREATE.KV_vakt_salts.",
			request(u.NC, "$JS.API.CONSUMER.CREATE.KV_vakt_salts.watch", `{"stream_name":"KV_vakt_salts","config":{"name":"watch","deliver_policy":"last_per_subject","ack_policy":"none"}}`))
		u.Refused(t, "watch the salt bucket (subscription)", "$KV.vakt_salts.>", func(context.Context) error {
			_, err := u.NC.SubscribeSync("$KV.vakt_salts.>")
			return err
		})
	}
	store.Refused(t, "publish a raw event", "vakt.raw.", func(context.Context) error {
		return store.NC.Publish("vakt.raw.accounts_example", []byte(`{"ts":"2024-05-01T10:00:00Z","client_ip":"203.0.113.99","target":"/store-forged"}`))
	})
	store.Refused(t, "publish a raw event through JetStream", "vakt.raw.", func(ctx context.Context) error {
		_, err := store.JS.Publish(ctx, "vakt.raw.accounts_example", []byte(`{"ts":"2024-05-01T10:00:00Z","client_ip":"203.0.113.99","target":"/store-forged-js"}`))
		return err
	})

	// Controls: the same requests work for the user they are meant for.
	psUser := connectUser(t, url, "pseudonymize", pw["pseudonymize"])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := psUser.JS.KeyValue(ctx, "vakt_salts")
	if err != nil {
		t.Fatalf("the pseudonymiser's user cannot open the salt bucket: %v", err)
	}
	if _, err := kv.Get(ctx, "meta.epoch_length"); err != nil {
		t.Fatalf("the pseudonymiser's user cannot read the salt bucket: %v", err)
	}
	// Rotation and destruction of a salt work with the pseudonymiser's user
	// while its stage runs; the event below is pseudonymised in the new
	// epoch.
	stdout, stderr, err = vakt(t, "salts", "rotate", "--destroy-now", "--config", cfg["pseudonymize"])
	outputs = append(outputs, stdout, stderr)
	if err != nil {
		t.Fatalf("vakt salts rotate --destroy-now as vakt_pseudonymize: %v\n%s%s", err, stdout, stderr)
	}
	t.Logf("vakt salts rotate --destroy-now:\n%s", stdout)
	line := fmt.Sprintf(`{"ts":%q,"client_ip":"203.0.113.98","target":"/ingest-published","status":200}`, time.Now().UTC().Format(time.RFC3339))
	if _, err := ingest.JS.Publish(ctx, "vakt.raw.accounts_example", []byte(line)); err != nil {
		t.Fatalf("the ingest user cannot publish a raw event: %v", err)
	}
	// It is stored, the store's forged events are not, and no refused
	// subscriber saw it.
	waitStored(t, chAddr, storeData, tl.valid+1, 30*time.Second)
	if rows, _ := chCount(chAddr, storeData); rows != tl.valid+1 {
		t.Errorf("after one more raw event from vakt_ingest and two refused from vakt_store: %d rows, want %d", rows, tl.valid+1)
	}
	for _, s := range raw {
		if m, err := s.NextMsg(100 * time.Millisecond); err == nil {
			t.Errorf("a refused subscriber received a raw event on %s", m.Subject)
		}
	}
}
