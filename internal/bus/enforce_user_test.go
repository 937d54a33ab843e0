package bus

import (
	"bytes"
	"context"
	"testing"
)

// TestEnforceUserReadsSaltsNotRawEvents: vakt_enforce, the decision
// endpoint's user, may read a salt (direct get) and use the decisions
// bucket, but may not write, delete or purge a salt, nor read raw events
// in any way.
func TestEnforceUserReadsSaltsNotRawEvents(t *testing.T) {
	pw := testPasswords()
	e := startAuthEmbedded(t, EmbeddedConfig{Passwords: pw})
	ctx := context.Background()
	admin := connectUser(t, e, UserAdmin, pw[UserAdmin], true)
	if _, err := EnsureFor(ctx, admin.JS, DefaultStreamConfig(), StageSetup, nil); err != nil {
		t.Fatal(err)
	}
	salt := putSalt(t, e, pw, "epoch.1")

	for _, inProcess := range []bool{true, false} {
		u := connectUser(t, e, UserEnforce, pw[UserEnforce], inProcess)
		kv, err := u.JS.KeyValue(ctx, SaltBucket)
		if err != nil {
			t.Fatalf("vakt_enforce cannot open the salt bucket: %v", err)
		}
		if v, err := kv.Get(ctx, "epoch.1"); err != nil || !bytes.Equal(v.Value(), salt) {
			t.Fatalf("vakt_enforce cannot read a salt: %v", err)
		}
		u.Refused(t, "put a salt", "$KV.vakt_salts.epoch.2", func(context.Context) error {
			return u.NC.Publish("$KV.vakt_salts.epoch.2", bytes.Repeat([]byte{'A'}, 32))
		})
		u.Refused(t, "delete a salt message", "$JS.API.STREAM.MSG.DELETE.KV_vakt_salts", u.Request("$JS.API.STREAM.MSG.DELETE.KV_vakt_salts", `{"seq":1}`))
		u.Refused(t, "purge the salt bucket", "$JS.API.STREAM.PURGE.KV_vakt_salts", u.Request("$JS.API.STREAM.PURGE.KV_vakt_salts", `{}`))
		u.Refused(t, "subscribe to raw events", "vakt.raw.>", func(context.Context) error {
			_, err := u.NC.SubscribeSync("vakt.raw.>")
			return err
		})
		u.Refused(t, "fetch raw events", "$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize",
			u.Request("$JS.API.CONSUMER.MSG.NEXT.VAKT_RAW.pseudonymize", `{"batch":1,"no_wait":true}`))
		u.Refused(t, "create a consumer on VAKT_RAW", "$JS.API.CONSUMER.CREATE.VAKT_RAW",
			u.Request("$JS.API.CONSUMER.CREATE.VAKT_RAW.spy", `{"stream_name":"VAKT_RAW","config":{"name":"spy"}}`))
		u.Refused(t, "get a raw message", "$JS.API.STREAM.MSG.GET.VAKT_RAW", u.Request("$JS.API.STREAM.MSG.GET.VAKT_RAW", `{"seq":1}`))
		u.Refused(t, "direct get a raw message", "$JS.API.DIRECT.GET.VAKT_RAW", u.Request("$JS.API.DIRECT.GET.VAKT_RAW", `{"seq":1}`))
		u.Refused(t, "subscribe to pseudonymised events", "vakt.events.>", func(context.Context) error {
			_, err := u.NC.SubscribeSync("vakt.events.>")
			return err
		})
	}
}
