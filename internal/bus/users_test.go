package bus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestAccountsFileMatchesUsers: configs/nats-accounts.conf, for an external
// nats-server, grants each user exactly the permissions the embedded server
// gets from Users, so the two cannot drift apart.
func TestAccountsFileMatchesUsers(t *testing.T) {
	for _, u := range Users() {
		t.Setenv("VAKT_"+strings.ToUpper(strings.TrimPrefix(u.Name, "vakt_"))+"_PASSWORD", "pw-"+u.Name)
	}
	opts, err := server.ProcessConfigFile(filepath.Join("..", "..", "configs", "nats-accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	file := map[string]*server.User{}
	for _, u := range opts.Users {
		file[u.Username] = u
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	for _, u := range Users() {
		f, ok := file[u.Name]
		if !ok {
			t.Errorf("configs/nats-accounts.conf has no user %s", u.Name)
			continue
		}
		delete(file, u.Name)
		if f.Password != "pw-"+u.Name {
			t.Errorf("%s: the file does not take the password from $VAKT_..._PASSWORD", u.Name)
		}
		p := f.Permissions
		if p == nil || p.Publish == nil || p.Subscribe == nil || len(p.Publish.Deny) > 0 || len(p.Subscribe.Deny) > 0 || p.Response != nil {
			t.Errorf("%s: the file's permissions are not publish/subscribe allow lists: %+v", u.Name, p)
			continue
		}
		if got, want := sorted(p.Publish.Allow), sorted(u.Publish); !slices.Equal(got, want) {
			t.Errorf("%s publish: file %q, Go %q", u.Name, got, want)
		}
		if got, want := sorted(p.Subscribe.Allow), sorted(u.Subscribe); !slices.Equal(got, want) {
			t.Errorf("%s subscribe: file %q, Go %q", u.Name, got, want)
		}
		if ib := u.InboxPrefix + ".>"; !slices.Contains(u.Subscribe, ib) {
			t.Errorf("%s may not subscribe to its inbox %s", u.Name, ib)
		}
	}
	for name := range file {
		t.Errorf("configs/nats-accounts.conf has user %s, which Users lacks", name)
	}
}

// testPasswords are random passwords for every user.
func testPasswords() map[string]string {
	pw := map[string]string{}
	for _, u := range Users() {
		pw[u.Name] = rand.Text()
	}
	return pw
}

func startAuthEmbedded(t *testing.T, c EmbeddedConfig) *Embedded {
	t.Helper()
	if c.StoreDir == "" {
		c.StoreDir = t.TempDir()
	}
	e, err := StartEmbedded(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// connectUser connects as user, in process or over TCP, collecting the
// permission violations the server reports.
func connectUser(t *testing.T, e *Embedded, user, password string, inProcess bool) *testenv.NATSUser {
	t.Helper()
	opts, url := UserOptions(user, password), e.ClientURL()
	if inProcess {
		opts, url = append(opts, e.InProcess()), ""
	}
	return testenv.ConnectNATSUser(t, url, user, opts...)
}

// TestEmbeddedLeastPrivilege: the embedded server admits only the
// pipeline's users, in process as over TCP, and only vakt_pseudonymize may
// read raw events or touch the salt bucket.
func TestEmbeddedLeastPrivilege(t *testing.T) {
	pw := testPasswords()
	e := startAuthEmbedded(t, EmbeddedConfig{Passwords: pw})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// No anonymous access, no wrong password, no token, over TCP or in process.
	for name, opts := range map[string][]nats.Option{
		"anonymous TCP":        nil,
		"anonymous in process": {e.InProcess()},
		"wrong password":       {nats.UserInfo(UserIngest, "wrong")},
		"unknown user":         {nats.UserInfo("admin", pw[UserAdmin])},
	} {
		url := e.ClientURL()
		if name == "anonymous in process" {
			url = ""
		}
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if url != "" && !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(err.Error(), "Authorization Violation") {
			t.Errorf("%s: %v, want an authorization violation", name, err)
		}
	}

	// The set-up as vakt_admin, the salt bucket and a salt as vakt_pseudonymize.
	admin := connectUser(t, e, UserAdmin, pw[UserAdmin], true)
	ctx := context.Background()
	if _, err := EnsureFor(ctx, admin.JS, DefaultStreamConfig(), StageSetup, log); err != nil {
		t.Fatalf("set-up as vakt_admin: %v", err)
	}
	ps := connectUser(t, e, UserPseudonymize, pw[UserPseudonymize], false)
	if _, err := EnsureFor(ctx, ps.JS, DefaultStreamConfig(), StagePseudonymize, log); err != nil {
		t.Fatalf("set-up as vakt_pseudonymize: %v", err)
	}
	kv, err := ps.JS.KeyValue(ctx, SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "epoch.1", []byte("a salt of thirty-two bytes......")); err != nil {
		t.Fatalf("vakt_pseudonymize cannot put a salt: %v", err)
	}

	for _, user := range []string{UserIngest, UserStore, UserOps, UserShipper} {
		for _, inProcess := range []bool{true, false} {
			u := connectUser(t, e, user, pw[user], inProcess)
			u.Refused(t, "subscribe to the salt bucket", "$KV.vakt_salts.>", func(context.Context) error {
				_, err := u.NC.SubscribeSync("$KV.vakt_salts.>")
				return err
			})
			u.Refused(t, "read a salt (direct get)", "$JS.API.DIRECT.GET.KV_vakt_salts", func(ctx context.Context) error {
				_, err := u.NC.RequestWithContext(ctx, "$JS.API.DIRECT.GET.KV_vakt_salts.$KV.vakt_salts.epoch.1", nil)
				return err
			})
			u.Refused(t, "open the salt bucket", "$JS.API.STREAM.INFO.KV_vakt_salts", func(ctx context.Context) error {
				_, err := u.JS.KeyValue(ctx, SaltBucket)
				return err
			})
			u.Refused(t, "put a salt", "$KV.vakt_salts.epoch.2", func(context.Context) error {
				return u.NC.Publish("$KV.vakt_salts.epoch.2", bytes.Repeat([]byte{'A'}, 32))
			})
			u.Refused(t, "subscribe to raw events", "vakt.raw.>", func(context.Context) error {
				_, err := u.NC.SubscribeSync("vakt.raw.>")
				return err
			})
			u.Refused(t, "fetch raw events", "$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize", func(ctx context.Context) error {
				_, err := u.NC.RequestWithContext(ctx, "$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize", []byte(`{"batch":1,"no_wait":true}`))
				return err
			})
			u.Refused(t, "delete VAKT_EVENTS", "$JS.API.STREAM.DELETE.VAKT_EVENTS", func(ctx context.Context) error {
				return u.JS.DeleteStream(ctx, EventsStream)
			})
		}
	}
	// vakt_subject reads salts (to compute an address's ids) but may
	// neither write, replace nor destroy one, nor touch raw events.
	for _, inProcess := range []bool{true, false} {
		u := connectUser(t, e, UserSubject, pw[UserSubject], inProcess)
		if _, err := u.JS.KeyValue(ctx, SaltBucket); err != nil {
			t.Fatalf("vakt_subject cannot open the salt bucket: %v", err)
		}
		u.Refused(t, "put a salt", "$KV.vakt_salts.epoch.2", func(context.Context) error {
			return u.NC.Publish("$KV.vakt_salts.epoch.2", bytes.Repeat([]byte{'A'}, 32))
		})
		u.Refused(t, "destroy a salt", "$JS.API.STREAM.MSG.DELETE.KV_vakt_salts", func(ctx context.Context) error {
			_, err := u.NC.RequestWithContext(ctx, "$JS.API.STREAM.MSG.DELETE.KV_vakt_salts", []byte(`{"seq":1}`))
			return err
		})
		u.Refused(t, "subscribe to raw events", "vakt.raw.>", func(context.Context) error {
			_, err := u.NC.SubscribeSync("vakt.raw.>")
			return err
		})
		u.Refused(t, "fetch raw events", "$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize", func(ctx context.Context) error {
			_, err := u.NC.RequestWithContext(ctx, "$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize", []byte(`{"batch":1,"no_wait":true}`))
			return err
		})
	}
	// The salt is the one vakt_pseudonymize wrote, and the events stream is there.
	if e, err := kv.Get(ctx, "epoch.1"); err != nil || string(e.Value()) != "a salt of thirty-two bytes......" {
		t.Fatalf("salt after the refusals: %v", err)
	}
	if _, err := kv.Get(ctx, "epoch.2"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("a refused user put a salt: %v", err)
	}
	if _, err := ps.JS.Stream(ctx, EventsStream); err != nil {
		t.Fatalf("VAKT_EVENTS after the refusals: %v", err)
	}
}

// scanFor reports the files under dir holding any of needles.
func scanFor(t *testing.T, dir string, needles ...[]byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				hits = append(hits, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func saltForms(salt []byte) [][]byte {
	return [][]byte{salt, []byte(hex.EncodeToString(salt)), []byte(base64.StdEncoding.EncodeToString(salt)),
		[]byte(base64.RawURLEncoding.EncodeToString(salt)), salt[:16], salt[16:]}
}

// putSalt writes a random salt into the bucket as vakt_pseudonymize.
func putSalt(t *testing.T, e *Embedded, pw map[string]string, key string) []byte {
	t.Helper()
	ps := connectUser(t, e, UserPseudonymize, pw[UserPseudonymize], true)
	if _, err := EnsureFor(context.Background(), ps.JS, DefaultStreamConfig(), StageSalts, nil); err != nil {
		t.Fatal(err)
	}
	kv, err := ps.JS.KeyValue(context.Background(), SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	salt := make([]byte, 32)
	rand.Read(salt)
	if _, err := kv.Put(context.Background(), key, salt); err != nil {
		t.Fatal(err)
	}
	ps.NC.Close()
	return salt
}

func getSalt(t *testing.T, e *Embedded, pw map[string]string, key string) []byte {
	t.Helper()
	ps := connectUser(t, e, UserPseudonymize, pw[UserPseudonymize], true)
	kv, err := ps.JS.KeyValue(context.Background(), SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kv.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("salt %s: %v", key, err)
	}
	return v.Value()
}

// TestStoreEncryptedAtRest: with a store key no file under the store holds a
// salt, raw or encoded; a store written in the clear by an older vakt is
// encrypted at its first start with a key and keeps its salts; a missing
// or different key is refused with the fix.
func TestStoreEncryptedAtRest(t *testing.T) {
	pw := testPasswords()
	storeDir := filepath.Join(t.TempDir(), "nats")
	keyFile := filepath.Join(t.TempDir(), "conf", "nats-store.key")

	// An older vakt: the store in the clear, where the scan finds the salt.
	e, err := StartEmbedded(EmbeddedConfig{StoreDir: storeDir, Passwords: pw, NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	old := putSalt(t, e, pw, "epoch.1")
	e.Shutdown()
	if hits := scanFor(t, storeDir, saltForms(old)...); len(hits) == 0 {
		t.Fatal("the scan does not find a salt stored in the clear")
	}

	// The upgrade: a key is generated and the store encrypted.
	key, state, err := StoreKey(storeDir, keyFile, "")
	if err != nil || state != KeyEncrypts {
		t.Fatalf("StoreKey on a plain store: %v %v", state, err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	e = startAuthEmbedded(t, EmbeddedConfig{StoreDir: storeDir, Passwords: pw, NoListen: true, StoreKey: key})
	if got := getSalt(t, e, pw, "epoch.1"); !bytes.Equal(got, old) {
		t.Fatal("the salt written in the clear is lost after encrypting the store")
	}
	salt := putSalt(t, e, pw, "epoch.2")
	e.Shutdown()
	for i, s := range [][]byte{old, salt} {
		if hits := scanFor(t, storeDir, saltForms(s)...); len(hits) > 0 {
			t.Errorf("salt %d found in the encrypted store: %v", i+1, hits)
		}
	}

	// Restarted with the same key the salts are there.
	key2, state, err := StoreKey(storeDir, keyFile, "")
	if err != nil || state != KeyInUse || key2 != key {
		t.Fatalf("StoreKey again: %v %v", state, err)
	}
	e = startAuthEmbedded(t, EmbeddedConfig{StoreDir: storeDir, Passwords: pw, NoListen: true, StoreKey: key})
	if got := getSalt(t, e, pw, "epoch.2"); !bytes.Equal(got, salt) {
		t.Fatal("salt changed across a restart")
	}
	e.Shutdown()

	// Another key, or none, is refused and says what to do.
	if _, _, err := StoreKey(storeDir, keyFile, "another key"); err == nil || !strings.Contains(err.Error(), "another key than") {
		t.Errorf("a different key: %v", err)
	}
	os.Rename(keyFile, keyFile+".moved")
	if _, _, err := StoreKey(storeDir, keyFile, ""); err == nil || !strings.Contains(err.Error(), "is missing: restore it") {
		t.Errorf("a missing key file: %v", err)
	}
	if _, err := os.Stat(keyFile); err == nil {
		t.Error("a new key was generated for an encrypted store")
	}
	if _, _, err := StoreKey(storeDir, keyFile, key); err != nil {
		t.Errorf("the key from the environment: %v", err)
	}
}
