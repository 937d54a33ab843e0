package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SaltBucketStream is the stream behind the SaltBucket key-value bucket.
const SaltBucketStream = "KV_" + SaltBucket

// saltBucketConfig is the stream a KeyValueConfig{Bucket: SaltBucket,
// History: 1} would get from nats.go, except that message deletes are
// allowed. Destroying a salt must erase its bytes: a purge (all a standard
// bucket, created with deny_delete, permits) only drops the messages from the
// index and leaves the bytes in the file store's block file, where anyone who
// can read the data dir finds them. SecureDeleteMsg overwrites them.
//
// DiscardNewPerSubject, which would make the server refuse a second message
// per key, is not set: it is stream-wide and meta.rotation is updated in
// place. Salts are write-once by the pseudonymiser instead, which refuses a
// changed salt (pseudonymize/saltseal.go).
func saltBucketConfig(replicas int) jetstream.StreamConfig {
	if replicas == 0 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:              SaltBucketStream,
		Description:       "salt of each pseudonymisation epoch; erased with no history when the epoch's grace ends",
		Subjects:          []string{"$KV." + SaltBucket + ".>"},
		MaxMsgsPerSubject: 1,
		MaxBytes:          -1,
		MaxMsgSize:        -1,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		AllowRollup:       true,
		DenyDelete:        false,
		Duplicates:        2 * time.Minute,
		AllowDirect:       true,
		Discard:           jetstream.DiscardNew,
	}
}

// ensureSaltBucket creates the salt bucket, or migrates one an older vakt
// created with deny_delete (which no stream update can lift): its keys are
// read, the stream is deleted (its block files with it) and recreated, and
// the keys are written back. Replicas keep their in-memory salts meanwhile;
// one that finds a salt missing in the gap creates a new one, and the
// write-back then keeps that one: ids change mid-epoch, nothing leaks.
func ensureSaltBucket(ctx context.Context, e *ensurer, replicas int) (Change, error) {
	js := e.js
	cfg := saltBucketConfig(replicas)
	ch := Change{What: "kv bucket " + SaltBucket}
	var st jetstream.Stream
	err := e.do(ctx, e.subject("STREAM.INFO."+cfg.Name), func(ctx context.Context) error {
		var err error
		st, err = js.Stream(ctx, cfg.Name)
		return err
	})
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		err = e.do(ctx, e.subject("STREAM.CREATE."+cfg.Name), func(ctx context.Context) error {
			_, err := js.CreateStream(ctx, cfg)
			return err
		})
		return e.created(ch, err, jetstream.ErrStreamNameAlreadyInUse, hintSalts)
	case err != nil:
		return ch, e.cannotRead(ch.What, err)
	case !st.CachedInfo().Config.DenyDelete:
		ch.Action = ActionUnchanged
		return ch, nil
	}
	// Every request of the migration concerns the bucket.
	ours := func(s string) bool {
		return strings.Contains(s, cfg.Name) || strings.HasPrefix(s, "$KV."+SaltBucket+".")
	}
	err = e.do(ctx, ours, func(ctx context.Context) error { return migrateSaltBucket(ctx, js, cfg) })
	var pe *PermissionError
	if errors.As(err, &pe) {
		return ch, fmt.Errorf("kv bucket %s: migrate: %s may not: %s: %w", SaltBucket, e.who(), hintSalts, err)
	}
	if err != nil {
		return ch, err
	}
	ch.Action, ch.Detail = ActionMigrated, "now allows erasure"
	e.log.Info("JetStream set up", "migrated", ch.What)
	return ch, nil
}

func migrateSaltBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	old, err := js.KeyValue(ctx, SaltBucket)
	if err != nil {
		return fmt.Errorf("kv bucket %s: migrate: %w", SaltBucket, err)
	}
	keys, err := old.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("kv bucket %s: migrate: %w", SaltBucket, err)
	}
	values := map[string][]byte{}
	for k := range keys.Keys() {
		e, err := old.Get(ctx, k)
		if err == nil {
			values[k] = e.Value()
		}
	}
	if err := js.DeleteStream(ctx, cfg.Name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("kv bucket %s: migrate: %w", SaltBucket, err)
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("kv bucket %s: migrate: %w", SaltBucket, err)
	}
	kv, err := js.KeyValue(ctx, SaltBucket)
	if err != nil {
		return fmt.Errorf("kv bucket %s: migrate: %w", SaltBucket, err)
	}
	for k, v := range values {
		_, err := kv.Create(ctx, k, v)
		clear(v)
		if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("kv bucket %s: migrate key %s: %w", SaltBucket, k, err)
		}
	}
	return nil
}
