package bus

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestSaltBucketAllowsErasure: Ensure makes a salt bucket whose messages can
// be securely deleted, and migrates one created with deny_delete, keeping
// its keys.
func TestSaltBucketAllowsErasure(t *testing.T) {
	ctx := context.Background()
	srv, err := StartEmbedded(EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, js, err := Connect(ConnConfig{URL: srv.ClientURL(), Name: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// A bucket as an older vakt created it: nats.go's defaults, deny_delete.
	old, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: SaltBucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte{7}, 32)
	if _, err := old.Create(ctx, "epoch.1", want); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // migrates once, then leaves it alone
		if err := Ensure(ctx, js, DefaultStreamConfig()); err != nil {
			t.Fatalf("Ensure #%d: %v", i+1, err)
		}
	}
	st, err := js.Stream(ctx, SaltBucketStream)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.CachedInfo().Config; cfg.DenyDelete || cfg.MaxMsgsPerSubject != 1 || cfg.Storage != jetstream.FileStorage {
		t.Fatalf("salt bucket stream config %+v: want deletes allowed, history 1, file storage", cfg)
	}
	kv, err := js.KeyValue(ctx, SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "epoch.1")
	if err != nil || !bytes.Equal(e.Value(), want) {
		t.Fatalf("salt after migration: %v", err)
	}
	m, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject("$KV."+SaltBucket+".epoch.1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SecureDeleteMsg(ctx, m.Sequence); err != nil {
		t.Fatalf("secure delete: %v", err)
	}
	if _, err := kv.Get(ctx, "epoch.1"); err == nil {
		t.Fatal("salt still readable after secure delete")
	}
}
