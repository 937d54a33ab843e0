// Package marks keeps what data subjects' requests leave for the pipeline
// in the NATS KV bucket bus.SubjectsBucket:
//
//   - erasure tombstones, "erase.<epoch>.<digest>": the store drops events
//     of an erased client that were pseudonymised before the erasure and
//     are still on their way, so that none is stored after `vakt subject
//     erase` returned. The key holds a digest of the id, not the id: the
//     store only needs to recognise it.
//   - restrictions, "restrict.<epoch>.<id>": rows stay stored but every
//     report, dashboard panel, /api answer and alert leaves them out
//     (Art. 18). Queries need the ids themselves.
//
// Every key carries a TTL: a tombstone lives as long as events of its
// epoch can still arrive, a restriction as long as the rows it covers.
// The bucket's stream is file-backed; the embedded server encrypts it.
// This package depends on internal/bus only, so store and analyze can use it.
package marks

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

const (
	erasePrefix    = "erase."
	restrictPrefix = "restrict."
	streamName     = "KV_" + bus.SubjectsBucket
)

// Ensure returns the bucket, creating it if missing.
func Ensure(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, bus.SubjectsBucket)
	if err == nil {
		return kv, nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("kv bucket %s: %w", bus.SubjectsBucket, err)
	}
	kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bus.SubjectsBucket,
		Description: "data subjects' requests: erasure tombstones and restrictions, each expiring with the rows it covers",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
		// Per-key TTLs need limit markers; a marker lives a minute.
		LimitMarkerTTL: time.Minute,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, bus.SubjectsBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("create kv bucket %s: %w", bus.SubjectsBucket, err)
	}
	return kv, nil
}

// digest is what an erasure key holds in place of the id.
func digest(epoch uint32, id uint64) string {
	var in [12]byte
	binary.LittleEndian.PutUint32(in[:4], epoch)
	binary.LittleEndian.PutUint64(in[4:], id)
	sum := sha256.Sum256(append([]byte("vakt subject erasure\x00"), in[:]...))
	return hex.EncodeToString(sum[:12])
}

func eraseKey(epoch uint32, id uint64) string {
	return erasePrefix + strconv.FormatUint(uint64(epoch), 10) + "." + digest(epoch, id)
}

func restrictKey(epoch uint32, id uint64) string {
	return restrictPrefix + strconv.FormatUint(uint64(epoch), 10) + "." + strconv.FormatUint(id, 16)
}

// tombstone is an erasure key's value: events of the client logged up to
// Before are dropped.
type tombstone struct {
	Before int64 `json:"before_unix_ms"`
}

// put writes key with a TTL, replacing an older value (a per-key TTL can
// only be set on create).
func put(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, ttl time.Duration) error {
	ttl = max(ttl, time.Second).Round(time.Second)
	_, err := kv.Create(ctx, key, value, jetstream.KeyTTL(ttl))
	if errors.Is(err, jetstream.ErrKeyExists) {
		if err = kv.Purge(ctx, key); err == nil {
			_, err = kv.Create(ctx, key, value, jetstream.KeyTTL(ttl))
		}
	}
	return err
}

// PutErasure records that the client (epoch, id) was erased at before:
// its events logged up to then are not to be stored. ttl is how long
// events of the epoch can still arrive.
func PutErasure(ctx context.Context, kv jetstream.KeyValue, epoch uint32, id uint64, before time.Time, ttl time.Duration) error {
	v, _ := json.Marshal(tombstone{Before: before.UnixMilli()})
	if err := put(ctx, kv, eraseKey(epoch, id), v, ttl); err != nil {
		return fmt.Errorf("record the erasure for epoch %d: %w", epoch, err)
	}
	return nil
}

// PutRestriction restricts the client (epoch, id) for ttl.
func PutRestriction(ctx context.Context, kv jetstream.KeyValue, epoch uint32, id uint64, ttl time.Duration) error {
	if err := put(ctx, kv, restrictKey(epoch, id), []byte("{}"), ttl); err != nil {
		return fmt.Errorf("record the restriction for epoch %d: %w", epoch, err)
	}
	return nil
}

// Lift removes the restriction of (epoch, id), and reports whether there
// was one.
func Lift(ctx context.Context, kv jetstream.KeyValue, epoch uint32, id uint64) (bool, error) {
	key := restrictKey(epoch, id)
	if _, err := kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("read the restriction for epoch %d: %w", epoch, err)
	}
	if err := kv.Purge(ctx, key); err != nil {
		return false, fmt.Errorf("lift the restriction for epoch %d: %w", epoch, err)
	}
	return true, nil
}

// Client is one pseudonymous client.
type Client struct {
	Epoch uint32
	ID    uint64
}

// snapshot is every live key of the bucket, read with one watcher.
func snapshot(ctx context.Context, js jetstream.JetStream) (map[string][]byte, error) {
	kv, err := js.KeyValue(ctx, bus.SubjectsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil // no request handled yet
	}
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", bus.SubjectsBucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", bus.SubjectsBucket, err)
	}
	defer w.Stop()
	out := map[string][]byte{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("kv bucket %s: watcher closed", bus.SubjectsBucket)
			}
			if e == nil {
				return out, nil // the initial values are all in
			}
			out[e.Key()] = e.Value()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Restricted lists the restricted clients.
func Restricted(ctx context.Context, js jetstream.JetStream) ([]Client, error) {
	keys, err := snapshot(ctx, js)
	if err != nil {
		return nil, err
	}
	var out []Client
	for k := range keys {
		rest, ok := strings.CutPrefix(k, restrictPrefix)
		if !ok {
			continue
		}
		ep, idHex, _ := strings.Cut(rest, ".")
		e, err1 := strconv.ParseUint(ep, 10, 32)
		id, err2 := strconv.ParseUint(idHex, 16, 64)
		if err1 == nil && err2 == nil {
			out = append(out, Client{Epoch: uint32(e), ID: id})
		}
	}
	return out, nil
}

// Erasures is the store's view of the tombstones. Sync before each insert
// makes it current: an insert that starts after an erasure was recorded
// drops the erased client's earlier events.
type Erasures struct {
	js      jetstream.JetStream
	mu      sync.Mutex
	lastSeq uint64
	loaded  bool
	// byEpoch maps digest → Before (Unix ms) per epoch.
	byEpoch map[uint32]map[string]int64
}

// NewErasures reads tombstones through js.
func NewErasures(js jetstream.JetStream) *Erasures { return &Erasures{js: js} }

// Sync reloads the tombstones when the bucket changed since the last load:
// one stream info request when it did not.
func (e *Erasures) Sync(ctx context.Context) error {
	st, err := e.js.Stream(ctx, streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		e.mu.Lock()
		e.byEpoch, e.loaded = nil, true
		e.mu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("erasure tombstones: %w", err)
	}
	seq := st.CachedInfo().State.LastSeq
	e.mu.Lock()
	current := e.loaded && seq == e.lastSeq
	e.mu.Unlock()
	if current {
		return nil
	}
	keys, err := snapshot(ctx, e.js)
	if err != nil {
		return fmt.Errorf("erasure tombstones: %w", err)
	}
	by := map[uint32]map[string]int64{}
	for k, v := range keys {
		rest, ok := strings.CutPrefix(k, erasePrefix)
		if !ok {
			continue
		}
		ep, dig, _ := strings.Cut(rest, ".")
		n, err := strconv.ParseUint(ep, 10, 32)
		var t tombstone
		if err != nil || json.Unmarshal(v, &t) != nil {
			continue
		}
		if by[uint32(n)] == nil {
			by[uint32(n)] = map[string]int64{}
		}
		by[uint32(n)][dig] = t.Before
	}
	e.mu.Lock()
	e.byEpoch, e.lastSeq, e.loaded = by, seq, true
	e.mu.Unlock()
	return nil
}

// Any reports whether any tombstone is loaded.
func (e *Erasures) Any() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.byEpoch) > 0
}

// Drop reports whether an event of (epoch, id) logged at tsMillis was
// erased before it could be stored.
func (e *Erasures) Drop(epoch uint32, id uint64, tsMillis int64) bool {
	e.mu.Lock()
	set := e.byEpoch[epoch]
	e.mu.Unlock()
	if set == nil {
		return false
	}
	before, ok := set[digest(epoch, id)]
	return ok && tsMillis <= before
}

// Values returns the values of the live keys starting with prefix.
func Values(ctx context.Context, js jetstream.JetStream, prefix string) ([][]byte, error) {
	keys, err := snapshot(ctx, js)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for k, v := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, v)
		}
	}
	return out, nil
}
