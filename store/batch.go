package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/event"
)

// batch is the messages a worker holds and their decoded rows. The rows are
// kept across insert retries, so each retry sends the same data under the
// same token.
type batch struct {
	msgs  []jetstream.Msg
	rows  rows
	first time.Time // when the first message arrived
}

// add decodes msg into the batch and keeps msg for acknowledgement. A
// message that does not decode leaves the batch unchanged.
func (b *batch) add(msg jetstream.Msg, now time.Time) (rows int, err error) {
	before := b.rows.len()
	err = event.RangeEvents(msg.Data(), func(e *event.Event) error {
		b.rows.add(e)
		return nil
	})
	if err != nil {
		b.rows.truncate(before)
		return 0, err
	}
	if len(b.msgs) == 0 {
		b.first = now
	}
	b.msgs = append(b.msgs, msg)
	return b.rows.len() - before, nil
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

// inserter writes a batch's rows to ClickHouse under a deduplication token.
type inserter interface {
	insert(ctx context.Context, token string, r *rows) error
}

type chInserter struct {
	conn    driver.Conn
	query   string
	types   []clickhouse.ColumnNameAndType
	cluster bool
}

func newCHInserter(conn driver.Conn, db string, cluster bool) *chInserter {
	return &chInserter{conn: conn, query: insertSQL(db), types: columnTypes(), cluster: cluster}
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
	if c.cluster {
		// Ack only after every shard committed, and split the batch by the
		// (deterministic) sharding key now, so a retry sends each shard the
		// same block under the same token.
		set["distributed_foreground_insert"] = 1
	}
	return set
}

func (c *chInserter) insert(ctx context.Context, token string, r *rows) error {
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
