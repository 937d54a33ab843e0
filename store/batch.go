package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
)

// batch is the messages a worker holds and their decoded rows. The rows are
// kept across insert retries, so each retry sends the same data under the
// same token.
type batch struct {
	msgs  []jetstream.Msg
	rows  rows
	first time.Time // when the first message arrived
	// keys are the ingest batch keys (bus.HeaderBatch) of the messages
	// held, so that a batch published twice is stored once even when both
	// copies arrive in one insert.
	keys map[uint64]struct{}
	// lease is how long NATS keeps the messages for this worker.
	lease lease
	// atRisk are the ingest batch keys of messages another replica may be
	// storing too, stored one by one (atrisk.go); split is set once their
	// rows are out of the batch's.
	atRisk map[uint64]struct{}
	split  bool
}

// markAtRisk has the messages of key stored on their own (atrisk.go).
func (b *batch) markAtRisk(key uint64) {
	if b.atRisk == nil {
		b.atRisk = map[uint64]struct{}{}
	}
	b.atRisk[key] = struct{}{}
}

// add decodes msg into the batch and keeps msg for acknowledgement. Events
// of a day in storedDays (the batch's rows of that day are stored already)
// are skipped and counted. A message that does not decode leaves the
// batch unchanged.
func (b *batch) add(msg jetstream.Msg, now time.Time, key uint64, storedDays map[int64]bool) (rows, skipped int, err error) {
	before := b.rows.len()
	err = event.RangeEvents(msg.Data(), func(e *event.Event) error {
		if storedDays[unixDay(e.Time)] {
			skipped++
			return nil
		}
		b.rows.add(e, key)
		return nil
	})
	if err != nil {
		b.rows.truncate(before)
		return 0, 0, err
	}
	b.hold(msg, now, key)
	return b.rows.len() - before, skipped, nil
}

// hold keeps msg for acknowledgement with the batch.
func (b *batch) hold(msg jetstream.Msg, now time.Time, key uint64) {
	if len(b.msgs) == 0 {
		b.first = now
	}
	b.msgs = append(b.msgs, msg)
	if key != 0 {
		if b.keys == nil {
			b.keys = map[uint64]struct{}{}
		}
		b.keys[key] = struct{}{}
	}
}

// holds reports whether a message of the ingest batch key is held.
func (b *batch) holds(key uint64) bool {
	_, ok := b.keys[key]
	return key != 0 && ok
}

// batchKeyOf is the key rows of msg are stored under (batch_key): a hash
// of its bus.HeaderBatch, or 0 when it has none.
func batchKeyOf(msg jetstream.Msg) uint64 {
	id := msg.Headers().Get(bus.HeaderBatch)
	if id == "" {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	return max(h.Sum64(), 1) // 0 means none
}

// replayed reports whether msg may be stored already, marked so by ingest
// (a file read again after a crash or imported again) or the
// pseudonymiser (a raw batch it had before).
func replayed(msg jetstream.Msg) bool {
	return msg.Headers().Get(bus.HeaderReplay) != ""
}

// redelivered reports whether NATS delivered msg before: the replica that
// had it may have stored it, or still be storing it.
func redelivered(msg jetstream.Msg) bool {
	md, err := msg.Metadata()
	return err == nil && md.NumDelivered > 1
}

// unixDay is the UTC day of t, as ClickHouse's toDate of a UTC timestamp
// counts it; the requests table is partitioned by it.
func unixDay(t time.Time) int64 {
	ms := t.UnixMilli()
	d := ms / 86_400_000
	if ms < 0 && ms%86_400_000 != 0 {
		d--
	}
	return d
}

// due reports whether the batch must be flushed: it is full by rows or
// bytes, or its first message has waited FlushInterval.
func (b *batch) due(now time.Time, cfg *Config) bool {
	if len(b.msgs) == 0 {
		return false
	}
	return b.rows.len() >= cfg.BatchRows ||
		b.rows.size >= cfg.BatchBytes ||
		!now.Before(b.first.Add(cfg.FlushInterval))
}

func (b *batch) reset() {
	clear(b.msgs) // let the messages' payloads be collected
	b.msgs = b.msgs[:0]
	clear(b.keys)
	clear(b.atRisk)
	b.split = false
	b.rows.reset()
	b.first = time.Time{}
}

// token derives the batch's insert_deduplication_token from its messages
// in order: each one's Nats-Msg-Id and a digest of its payload. The payload
// digest matters: message ids are only unique within the stream's duplicate
// window, and a reused id with other content must never make ClickHouse
// drop a batch as already stored.
func (b *batch) token() string {
	return batchToken(b.msgs)
}

func batchToken(msgs []jetstream.Msg) string {
	h := sha256.New()
	var n [8]byte
	for _, m := range msgs {
		id := m.Headers().Get(jetstream.MsgIDHeader)
		binary.LittleEndian.PutUint64(n[:], uint64(len(id)))
		h.Write(n[:])
		h.Write([]byte(id))
		d := sha256.Sum256(m.Data())
		h.Write(d[:])
	}
	return "vakt-" + hex.EncodeToString(h.Sum(nil)[:20])
}

// jitter spreads d by ±20% so that replicas retrying against the same
// server do not retry in lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// inserter writes a batch's rows to ClickHouse under a deduplication token
// and finds which rows of an ingest batch are stored.
type inserter interface {
	insert(ctx context.Context, token string, r *rows) error
	// stored returns the ingest batch keys among keys with rows among
	// sites between the Unix milliseconds lo and hi, each with the UTC
	// days (unixDay) it has rows in.
	stored(ctx context.Context, keys []uint64, sites []string, lo, hi int64) (map[keyDay]bool, error)
}

// keyDay is an ingest batch key's rows of one UTC day: a partition holds
// them all or none, since an insert writes each partition atomically.
type keyDay struct {
	key uint64
	day int64
}

// minFreeForInsert is the free space an insert needs on ClickHouse's disk
// (min_free_disk_bytes_to_perform_insert): below it the server refuses the
// insert before writing a part (NOT_ENOUGH_SPACE), and the batch is held
// and retried like after any failed insert. A part written while the disk
// ran full could be committed with an empty marks file, which failed every
// later read of the table (the embedded engine, once in
// TestDiskFullRecovers).
const minFreeForInsert = 64 << 20

type chInserter struct {
	conn    driver.Conn
	query   string
	lookup  string
	types   []clickhouse.ColumnNameAndType
	cluster bool
	minFree int64 // minFreeForInsert
	// noFreeCheck is set once the server rejects minFree's setting (one
	// older than it).
	noFreeCheck atomic.Bool
}

func newCHInserter(conn driver.Conn, db string, cluster bool) *chInserter {
	return &chInserter{conn: conn, query: insertSQL(db), lookup: lookupSQL(db), types: columnTypes(), cluster: cluster, minFree: minFreeForInsert}
}

// insertSettings make a retried batch land once, in the rows and in the
// rollups its INSERT feeds.
func (c *chInserter) insertSettings(token string) clickhouse.Settings {
	set := clickhouse.Settings{
		"insert_deduplicate":         1,
		"insert_deduplication_token": token,
		// The materialized views check the token themselves (against their
		// tables' own windows), so a retry whose first attempt stored the
		// rows but failed in a view completes the view without counting
		// twice. With 0, a retry of a stored batch counts again in the
		// rollups (measured on the embedded engine).
		"deduplicate_blocks_in_dependent_materialized_views": 1,
		// An asynchronous insert is acknowledged before it is in a part and
		// is not deduplicated by token unless the server says so: a batch
		// is large enough to be its own part.
		"async_insert": 0,
	}
	if !c.noFreeCheck.Load() {
		set["min_free_disk_bytes_to_perform_insert"] = c.minFree
	}
	if c.cluster {
		// Ack only after every shard committed, and split the batch by the
		// (deterministic) sharding key now, so a retry sends each shard the
		// same block under the same token.
		set["distributed_foreground_insert"] = 1
	}
	return set
}

func (c *chInserter) stored(ctx context.Context, keys []uint64, sites []string, lo, hi int64) (map[keyDay]bool, error) {
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = strconv.FormatUint(k, 10)
	}
	ctx = clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"keys": "[" + strings.Join(ks, ",") + "]", "sites": arrayParam(sites),
		"lo": strconv.FormatInt(lo, 10), "hi": strconv.FormatInt(hi, 10),
	}))
	rs, err := c.conn.Query(ctx, c.lookup)
	if err != nil {
		return nil, fmt.Errorf("look up batches: %w", err)
	}
	defer rs.Close()
	out := map[keyDay]bool{}
	for rs.Next() {
		var (
			k uint64
			d uint32
		)
		if err := rs.Scan(&k, &d); err != nil {
			return nil, fmt.Errorf("look up batches: %w", err)
		}
		out[keyDay{k, int64(d)}] = true
	}
	return out, rs.Err()
}

// lookupSQL finds the days ingest batches have rows in. Site and time
// bound the read to the granules the batches can be in.
func lookupSQL(db string) string {
	return "SELECT DISTINCT batch_key, toUInt32(toDate(ts)) FROM " + tableName(db, RequestsTable) +
		" WHERE site IN {sites:Array(String)}" +
		" AND ts >= fromUnixTimestamp64Milli({lo:Int64}, 'UTC') AND ts <= fromUnixTimestamp64Milli({hi:Int64}, 'UTC')" +
		" AND batch_key IN {keys:Array(UInt64)}"
}

// quoteEscaper escapes a string for a single-quoted ClickHouse literal.
var quoteEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// arrayParam formats strings as a ClickHouse Array(String) literal, the
// text form server-side query parameters take (clickhouse-go passes
// parameters as strings and has no encoder for arrays).
func arrayParam(ss []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\'')
		b.WriteString(quoteEscaper.Replace(s))
		b.WriteByte('\'')
	}
	b.WriteByte(']')
	return b.String()
}

func (c *chInserter) insert(ctx context.Context, token string, r *rows) error {
	err := c.send(ctx, token, r)
	if err != nil && !c.noFreeCheck.Load() && strings.Contains(err.Error(), "min_free_disk_bytes_to_perform_insert") &&
		!strings.Contains(err.Error(), "NOT_ENOUGH_SPACE") && !strings.Contains(err.Error(), "enough free space") {
		// A server without the setting: insert without it from now on.
		c.noFreeCheck.Store(true)
		err = c.send(ctx, token, r)
	}
	return err
}

func (c *chInserter) send(ctx context.Context, token string, r *rows) error {
	// Settings travel with the INSERT query, which PrepareBatch sends (native)
	// or records (HTTP), so they go on its context. A driver batch is
	// single-use: each attempt prepares a new one from the kept rows.
	ctx = clickhouse.Context(ctx,
		clickhouse.WithSettings(c.insertSettings(token)),
		clickhouse.WithColumnNamesAndTypes(c.types),
	)
	b, err := c.conn.PrepareBatch(ctx, c.query)
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer b.Close()
	if err := appendColumns(b, r); err != nil {
		_ = b.Abort()
		return err
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send %d rows: %w", r.len(), err)
	}
	return nil
}
