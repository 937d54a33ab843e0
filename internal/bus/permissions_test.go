package bus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// accountsUsers are the users of configs/nats-accounts.conf and their
// inbox prefixes.
var accountsUsers = map[string]string{
	"admin": "_INBOX_admin", "ingest": "_INBOX_ingest", "pseudonymize": "_INBOX_pseudonymize",
	"store": "_INBOX_store", "ops": "_INBOX_ops", "shipper": "_INBOX", "enforce": "_INBOX_enforce", "subject": "_INBOX_subject",
}

// startAccountsServer runs nats-server on configs/nats-accounts.conf with
// test passwords (password of user vakt_X: "test-X").
func startAccountsServer(t *testing.T) *server.Server {
	t.Helper()
	for u := range accountsUsers {
		t.Setenv("VAKT_"+strings.ToUpper(u)+"_PASSWORD", "test-"+u)
	}
	opts, err := server.ProcessConfigFile(filepath.Join("..", "..", "configs", "nats-accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.HTTPPort, opts.HTTPHost = "127.0.0.1", -1, 0, ""
	opts.StoreDir, opts.NoSigs, opts.NoLog = t.TempDir(), true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// connectAs connects as vakt_<user> with its inbox prefix (inbox "" keeps
// nats.go's default).
func connectAs(t *testing.T, srv *server.Server, user, inbox string) jetstream.JetStream {
	t.Helper()
	opts := []nats.Option{nats.UserInfo("vakt_"+user, "test-"+user), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})}
	if inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(inbox))
	}
	nc, err := nats.Connect(srv.ClientURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// ensureFast runs EnsureFor and fails the test if it takes longer than a
// refused request should (the request timeout is 30s).
func ensureFast(t *testing.T, js jetstream.JetStream, c StreamConfig, stage Stage) ([]Change, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	changes, err := EnsureFor(ctx, js, c, stage, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("EnsureFor(%q) took %s (err %v)", stage, took, err)
	}
	return changes, err
}

// TestEnsureForLeastPrivilegeUsers sets JetStream up with the users of
// configs/nats-accounts.conf: what a user may not do fails at once, naming
// the user, the subject and the fix; what it may do works.
func TestEnsureForLeastPrivilegeUsers(t *testing.T) {
	srv := startAccountsServer(t)
	sc := DefaultStreamConfig()
	ingest := connectAs(t, srv, "ingest", accountsUsers["ingest"])

	// Nothing exists yet, and ingest may not create the RAW stream.
	_, err := ensureFast(t, ingest, sc, StageIngest)
	t.Logf("ingest before set-up: %v", err)
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Subject != "$JS.API.STREAM.CREATE.VAKT_RAW" || pe.User != "vakt_ingest" || !errors.Is(err, nats.ErrPermissionViolation) {
		t.Fatalf("want a permission error for creating VAKT_RAW, got %#v", err)
	}
	for _, want := range []string{`stream VAKT_RAW does not exist and NATS user "vakt_ingest" may not create it`, "vakt nats setup", "vakt pseudonymize"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}

	// The administrator sets up everything but the salt bucket.
	admin := connectAs(t, srv, "admin", accountsUsers["admin"])
	changes, err := ensureFast(t, admin, sc, StageSetup)
	if err != nil {
		t.Fatalf("admin set-up: %v", err)
	}
	created := map[string]bool{}
	for _, c := range changes {
		created[c.What] = c.Action == ActionCreated
	}
	for _, what := range []string{"stream VAKT_RAW", "consumer pseudonymize on VAKT_RAW", "stream VAKT_EVENTS", "consumer store on VAKT_EVENTS", "stream VAKT_QUARANTINE", "kv bucket vakt_ingest_offsets"} {
		if !created[what] {
			t.Errorf("admin set-up did not create %s: %+v", what, changes)
		}
	}
	if _, ok := created["kv bucket "+SaltBucket]; ok {
		t.Errorf("admin set-up touched the salt bucket: %+v", changes)
	}
	changes, err = ensureFast(t, admin, sc, StageSetup)
	for _, c := range changes {
		if c.Action != ActionUnchanged {
			t.Errorf("second set-up: %s %s %s", c.What, c.Action, c.Detail)
		}
	}
	if err != nil {
		t.Fatal(err)
	}

	// Each stage now finds what it uses; only the pseudonymiser creates
	// the salt bucket.
	if _, err := ensureFast(t, ingest, sc, StageIngest); err != nil {
		t.Fatalf("ingest after set-up: %v", err)
	}
	if _, err := ensureFast(t, connectAs(t, srv, "store", accountsUsers["store"]), sc, StageStore); err != nil {
		t.Fatalf("store after set-up: %v", err)
	}
	changes, err = ensureFast(t, connectAs(t, srv, "pseudonymize", accountsUsers["pseudonymize"]), sc, StagePseudonymize)
	if err != nil {
		t.Fatalf("pseudonymize after set-up: %v", err)
	}
	if last := changes[len(changes)-1]; last.What != "kv bucket "+SaltBucket || last.Action != ActionCreated {
		t.Fatalf("pseudonymize did not create the salt bucket: %+v", changes)
	}
	if _, err := ensureFast(t, connectAs(t, srv, "ops", accountsUsers["ops"]), sc, StageQuarantine); err != nil {
		t.Fatalf("ops: %v", err)
	}

	// Ingest may not even look the salt bucket up.
	_, err = ensureFast(t, ingest, sc, StageSalts)
	t.Logf("ingest, salt bucket: %v", err)
	if !errors.As(err, &pe) || pe.Subject != "$JS.API.STREAM.INFO.KV_vakt_salts" ||
		!strings.Contains(err.Error(), `kv bucket vakt_salts: NATS user "vakt_ingest" may not look it up`) {
		t.Fatalf("want a refused look-up of the salt bucket, got %v", err)
	}

	// Settings another user owns are kept, with a warning, not an error.
	other := sc
	other.RawMaxAge = 20 * time.Minute
	changes, err = ensureFast(t, ingest, other, StageIngest)
	if err != nil || changes[0].What != "stream VAKT_RAW" || changes[0].Action != ActionKept || !strings.Contains(changes[0].Detail, "max_age") {
		t.Fatalf("differing RAW settings under ingest: %+v %v", changes, err)
	}
	// The owner applies them.
	changes, err = ensureFast(t, admin, other, StageSetup)
	if err != nil || changes[0].Action != ActionUpdated || changes[0].Detail != "max_age" {
		t.Fatalf("differing RAW settings under admin: %+v %v", changes, err)
	}

	// Without its own inbox prefix a user cannot receive any reply.
	_, err = ensureFast(t, connectAs(t, srv, "store", ""), sc, StageStore)
	t.Logf("store with _INBOX: %v", err)
	if !errors.As(err, &pe) || !pe.Inbox || !strings.HasPrefix(pe.Subject, "_INBOX.") || !strings.Contains(err.Error(), "may not subscribe to its reply inbox") {
		t.Fatalf("want a refused reply inbox, got %v", err)
	}
}
