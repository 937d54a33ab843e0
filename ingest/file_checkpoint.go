package ingest

// Checkpoints: how a followed file is read exactly once across restarts.
//
// A file's content is named by its generation id G, a hash of its first
// line (at most fpBytes bytes; see fingerprint). A file renamed by
// rotation keeps its G; a file truncated and rewritten (copytruncate), or a
// new file on a reused inode, gets a new one; a copy of a file (the
// ".1" that copytruncate leaves) and its compressed form (".gz") have the
// same G as the original, so a rotated file that reappears under another
// name is continued where reading stopped instead of read again.
//
// Lines are published in batches, each covering a byte range [start, end)
// of the file, with Nats-Msg-Id "G:start-end". The checkpoint of G, one
// entry in the KV bucket bus.CheckpointBucket, holds
//
//	Offset: every line before it is in a batch JetStream has acknowledged;
//	Ends:   the end of every batch after Offset that may have been
//	        published, in order.
//
// Rules:
//
//  1. A batch's end is in a checkpoint written (synchronously, to
//     JetStream file storage) before the batch is published. Batches are
//     written in groups: one KV put for all batches read in one poll (at
//     most groupBatches), then they are published asynchronously.
//  2. Offset moves to the end of a batch only when that batch and every
//     batch before it are handed over: acknowledged by JetStream (PubAck:
//     stored, or dropped as a duplicate of a stored one) and then taken
//     from the RAW stream by a pseudonymiser (handover.go). The RAW
//     stream is in memory, so a PubAck alone does not survive a restart
//     of NATS; a batch the stream loses is published again.
//  3. After a restart, reading resumes at Offset, and batches end exactly
//     at the recorded Ends, at no other line, until the last of them is
//     passed (sink.forced). Only then does ordinary batching (full batch,
//     flush interval, end of data) resume. A shutdown in the middle of
//     that replay publishes no partial batch, and the Ends not yet passed
//     stay in every checkpoint written meanwhile (tracker.replay), so a
//     crash during the replay leaves them for the next one.
//
// Why no line is lost: a line is skipped at a restart only if it lies
// before Offset, and then its batch reached a pseudonymiser, which acks a
// batch only once its events are in the (file-backed) events stream (rule
// 2). Lines after Offset are read again.
//
// Why no line is stored twice: every batch published before the crash that
// covers lines after Offset has its range in the checkpoint (rule 1: its
// end is recorded, and its start is Offset or the end before it). The
// replay (rule 3) rebuilds exactly those ranges from the same bytes, hence
// the same message ids, and marks them (bus.HeaderReplay). Each is then
// dropped by whichever stage still knows it: the RAW stream's duplicate
// window while its NATS server lives, the events stream's (rebuilt from
// its file store after a restart) while the events wait there, and the
// store, which looks a replayed batch's id (bus.HeaderBatch) up among the
// stored rows. Ranges beyond the last recorded end were never published.
// The records in a replayed batch may differ from the original (a line
// rejected as too far in the future may be accepted now); that does not
// matter, because a batch is either dropped as a whole, the original
// having been stored, or stored for the first time.
//
// Limits: lines written to a file after a copytruncate copied it and
// before it truncated it are lost by logrotate itself.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
)

// groupBatches bounds the batches recorded in one checkpoint write before
// they are published.
const groupBatches = 16

// checkpoint is the durable state of one file generation, stored as JSON.
type checkpoint struct {
	Offset int64   `json:"offset"`
	Ends   []int64 `json:"ends,omitempty"`
	// FPBytes is how many leading bytes the generation id covers.
	FPBytes int `json:"fp_bytes"`
	// Path, Dev and Ino say where the generation was last read, to find it
	// again after a rotation while vakt was down.
	Path string `json:"path"`
	Dev  uint64 `json:"dev,omitempty"`
	Ino  uint64 `json:"ino,omitempty"`
	// Done marks a file read to its end for good (a compressed file).
	Done bool `json:"done,omitempty"`
	// Since is when the generation was first seen; Updated when this was
	// written.
	Since   time.Time `json:"since"`
	Updated time.Time `json:"updated"`
}

// checkpoints are the checkpoints of one source, cached in memory.
//
// Only one process may follow a source (host and patterns) at a time: two
// would publish the same lines in differently cut batches. Every write is
// conditional on the revision this process last wrote or read, so a second
// process is detected at its first write (or the first one at its next),
// and the one that finds a revision it did not write stops following the
// source (errNotOwner).
type checkpoints struct {
	kv     jetstream.KeyValue
	prefix string // "<host>.<source hash>"
	log    *slog.Logger
	lost   atomic.Bool // errNotOwner happened

	mu  sync.Mutex
	m   map[string]checkpoint // generation id → last written
	rev map[string]uint64     // key → revision last written or read
}

// errNotOwner reports that another process writes the same checkpoints.
var errNotOwner = errors.New("another process follows the same files (same host and patterns) and writes the same checkpoints")

const startedKey = "started"

// openCheckpoints loads the checkpoints of the source with the given key
// prefix, retrying while NATS is unavailable, until ctx ends.
func openCheckpoints(ctx context.Context, js jetstream.JetStream, prefix string, log *slog.Logger) (*checkpoints, bool, error) {
	c := &checkpoints{prefix: prefix, log: log, m: map[string]checkpoint{}, rev: map[string]uint64{}}
	var started bool
	err := retry(ctx, log, "loading checkpoints", func() error {
		kv, err := js.KeyValue(ctx, bus.CheckpointBucket)
		if err != nil {
			return fmt.Errorf("kv bucket %s: %w", bus.CheckpointBucket, err)
		}
		c.kv = kv
		w, err := kv.WatchFiltered(ctx, []string{prefix + ".*"}, jetstream.IgnoreDeletes())
		if err != nil {
			return err
		}
		defer w.Stop()
		for e := range w.Updates() {
			if e == nil {
				return nil // initial values done
			}
			g := e.Key()[len(prefix)+1:]
			if g == startedKey {
				started = true
				continue
			}
			c.rev[e.Key()] = e.Revision()
			var cp checkpoint
			if json.Unmarshal(e.Value(), &cp) != nil {
				log.Warn("ignoring an unreadable checkpoint", slog.String("key", e.Key()))
				continue
			}
			c.m[g] = cp
		}
		return ctx.Err()
	})
	return c, started, err
}

func (c *checkpoints) get(g string) (checkpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.m[g]
	return cp, ok
}

// put writes the checkpoint of g, retrying until it is stored or ctx ends.
func (c *checkpoints) put(ctx context.Context, g string, cp checkpoint) error {
	cp.Updated = time.Now().UTC()
	data, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if err := c.write(ctx, c.prefix+"."+g, data); err != nil {
		return err
	}
	c.mu.Lock()
	c.m[g] = cp
	c.mu.Unlock()
	return nil
}

// write stores data under key if the key is still at the revision this
// process knows (absent if it knows none), retrying transient failures.
func (c *checkpoints) write(ctx context.Context, key string, data []byte) error {
	if c.lost.Load() {
		return errNotOwner
	}
	return retry(ctx, c.log, "writing a checkpoint", func() error {
		c.mu.Lock()
		rev, known := c.rev[key]
		c.mu.Unlock()
		var n uint64
		var err error
		if known {
			n, err = c.kv.Update(ctx, key, data, rev)
		} else {
			n, err = c.kv.Create(ctx, key, data)
		}
		if err != nil && (errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)) {
			// Our own earlier attempt may have been stored after all.
			e, gerr := c.kv.Get(ctx, key)
			switch {
			case gerr == nil && bytes.Equal(e.Value(), data):
				n, err = e.Revision(), nil
			case gerr != nil && !errors.Is(gerr, jetstream.ErrKeyNotFound):
				return gerr
			default:
				c.lost.Store(true)
				return errNotOwner
			}
		}
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.rev[key] = n
		c.mu.Unlock()
		return nil
	})
}

func (c *checkpoints) delete(ctx context.Context, g string) error {
	key := c.prefix + "." + g
	c.mu.Lock()
	rev := c.rev[key]
	c.mu.Unlock()
	if err := c.kv.Purge(ctx, key, jetstream.LastRevision(rev)); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.m, g)
	delete(c.rev, key)
	c.mu.Unlock()
	return nil
}

// markStarted records that the source has been followed, so that later
// runs read files that appeared meanwhile from their start.
func (c *checkpoints) markStarted(ctx context.Context) error {
	return retry(ctx, c.log, "writing a checkpoint", func() error {
		_, err := c.kv.Put(ctx, c.prefix+"."+startedKey, []byte(time.Now().UTC().Format(time.RFC3339)))
		return err
	})
}

// all returns a copy of the cached checkpoints.
func (c *checkpoints) all() map[string]checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]checkpoint, len(c.m))
	for g, cp := range c.m {
		out[g] = cp
	}
	return out
}

// retry runs f until it succeeds or ctx ends, with backoff, warning once.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	backoff := minBackoff
	for warned := false; ; {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, errors.Join(err, ctx.Err()))
		}
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, errNotOwner) {
			return fmt.Errorf("%s: %w", what, err) // for good
		}
		if !warned {
			log.Warn(what+" failed; retrying", slog.Any("err", err))
			warned = true
		}
		select {
		case <-time.After(backoff/2 + rand.N(backoff)):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, maxBackoff)
	}
}
