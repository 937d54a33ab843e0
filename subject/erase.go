package subject

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/store"
	"github.com/vakt-dev/vakt/subject/marks"
)

// Erased says what `vakt subject erase` removed.
type Erased struct {
	Epochs        []uint32 `json:"epochs"`
	Requests      uint64   `json:"requests_erased"`
	ClientRollups uint64   `json:"client_rollup_rows_erased"`
	// StoreConfirmed is false when the store did not confirm within its
	// ack wait that every event delivered before the erasure was stored
	// (a store stuck mid-insert): rows may then arrive after the command.
	StoreConfirmed bool `json:"store_confirmed"`
	// AlertsForgotten counts the alerts bucket's memories of alerts on
	// the client that were removed.
	AlertsForgotten int         `json:"alerts_forgotten"`
	Unlinkable      *Unlinkable `json:"not_identifiable,omitempty"`
	Note            string      `json:"note"`
}

// healthNote is said with every erasure.
const healthNote = "Per-minute site health rollups hold no client ids and are kept: they count every visitor's requests together."

// EraseOptions are what erasure needs beyond Deps.
type EraseOptions struct {
	// JS reaches the subjects bucket and the store's consumer.
	JS jetstream.JetStream
	// Replicas of the subjects bucket (streams.replicas).
	Replicas int
	// EventsMaxAge is how long events can wait for the store
	// (streams.events_max_age): tombstones live at least that long.
	EventsMaxAge time.Duration
	// AlertRules are the names of the rules alerts are raised by, whose
	// memories of the client are forgotten.
	AlertRules []string
	Log        *slog.Logger
}

// Erase removes the target's rows from every table holding its ids, so
// that when it returns they are gone from the data directory too:
//
//  1. a tombstone per epoch makes the store drop the client's events
//     logged before now that are still on their way;
//  2. it waits until every event delivered to the store before the
//     tombstone is stored (the consumer's ack floor), so no insert that
//     missed the tombstone is still open;
//  3. a synchronous DELETE mutation per table removes the rows, and it
//     waits until the parts the mutation replaced are deleted from disk.
func Erase(ctx context.Context, d Deps, t *Target, o EraseOptions) (*Erased, error) {
	res := &Erased{Epochs: t.Living(), Unlinkable: t.Unlinkable, Note: healthNote, StoreConfirmed: true}
	if len(t.Epochs) == 0 {
		return res, nil
	}
	now := time.Now()
	kv, err := marks.Ensure(ctx, o.JS, o.Replicas)
	if err != nil {
		return nil, err
	}
	for _, e := range t.Epochs {
		until := e.End.Add(o.EventsMaxAge)
		if e.DestroyAt.After(until) {
			until = e.DestroyAt
		}
		ttl := until.Sub(now)
		if err := marks.PutErasure(ctx, kv, e.Epoch, e.clientID, now, ttl); err != nil {
			return nil, err
		}
	}
	if res.StoreConfirmed, err = waitStored(ctx, o.JS); err != nil {
		return nil, err
	}
	qctx := t.ctx(ctx)
	for _, tb := range []struct {
		name string
		n    *uint64
	}{{store.RequestsTable, &res.Requests}, {store.ClientsTable, &res.ClientRollups}} {
		if err := d.CH.QueryRow(qctx, "SELECT count() FROM "+d.table(tb.name)+" WHERE "+whoWhere).Scan(tb.n); err != nil {
			return nil, chError("count rows to erase", err)
		}
	}
	if res.Requests+res.ClientRollups == 0 {
		return res, nil
	}
	sites, err := sitesOf(ctx, d, t)
	if err != nil {
		return nil, err
	}
	if err := deleteRows(ctx, d, t, o.Log); err != nil {
		return nil, err
	}
	if res.AlertsForgotten, err = forgetAlerts(ctx, o, t, sites); err != nil {
		return nil, err
	}
	return res, nil
}

// sitesOf lists the sites of the target's rows per epoch.
func sitesOf(ctx context.Context, d Deps, t *Target) (map[uint32][]string, error) {
	rows, err := d.CH.Query(t.ctx(ctx), "SELECT DISTINCT epoch, site FROM "+d.table(store.RequestsTable)+" WHERE "+whoWhere)
	if err != nil {
		return nil, chError("sites of the rows to erase", err)
	}
	defer rows.Close()
	out := map[uint32][]string{}
	for rows.Next() {
		var e uint32
		var site string
		if err := rows.Scan(&e, &site); err != nil {
			return nil, fmt.Errorf("sites of the rows to erase: %w", err)
		}
		out[e] = append(out[e], site)
	}
	return out, rows.Err()
}

// forgetAlerts removes the alerts bucket's memories of alerts on the
// client (keyed by a hash of rule, site, id and epoch). A purge leaves a
// marker under the hashed key, which expires with the bucket's TTL (the
// longest rule window).
func forgetAlerts(ctx context.Context, o EraseOptions, t *Target, sites map[uint32][]string) (int, error) {
	kv, err := o.JS.KeyValue(ctx, bus.AlertsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return 0, nil // no alert loop ever ran
	}
	if err != nil {
		return 0, fmt.Errorf("alerts bucket: %w", err)
	}
	n := 0
	for _, e := range t.Epochs {
		for _, site := range sites[e.Epoch] {
			for _, rule := range o.AlertRules {
				key := analyze.AlertKey(rule, analyze.Offender{Site: site, Scope: "client", ID: strconv.FormatUint(e.clientID, 10), Epoch: e.Epoch})
				if _, err := kv.Get(ctx, key); errors.Is(err, jetstream.ErrKeyNotFound) {
					continue
				} else if err != nil {
					return n, fmt.Errorf("alerts bucket: %w", err)
				}
				if err := kv.Purge(ctx, key); err != nil {
					return n, fmt.Errorf("alerts bucket: %w", err)
				}
				n++
			}
		}
	}
	return n, nil
}

// waitStored waits until the store has acknowledged every event delivered
// to it so far. A store acknowledges only after its insert committed, and
// each insert starts by reading the tombstones, so afterwards no insert
// that could hold the erased client's earlier events is still open. A
// store that does not get there within its ack wait is reported, not
// waited for forever: its messages are then redelivered and checked.
func waitStored(ctx context.Context, js jetstream.JetStream) (bool, error) {
	cons, err := js.Consumer(ctx, bus.EventsStream, bus.StoreConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return true, nil // no store ever ran
	}
	if err != nil {
		return false, fmt.Errorf("the store's consumer: %w", err)
	}
	info := cons.CachedInfo()
	target := info.Delivered.Stream
	deadline := time.Now().Add(max(info.Config.AckWait, 10*time.Second))
	for {
		if info.AckFloor.Stream >= target || info.NumAckPending == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if info, err = cons.Info(ctx); err != nil {
			return false, fmt.Errorf("the store's consumer: %w", err)
		}
	}
}

// deleteRows runs the DELETE mutations and waits until the parts they
// replaced are gone from disk: the tables keep replaced parts for
// old_parts_lifetime (8 minutes), lowered to 0 while the erasure runs.
//
// A mutation's text stays on disk (mutation_N.txt, the last 100 of them),
// so on one node the ids go through a Memory table the mutation reads and
// that is dropped afterwards: the text names the table, not the ids. A
// cluster's mutation runs on every node, where that table does not exist:
// there the text holds the ids (docs/privacy.md).
func deleteRows(ctx context.Context, d Deps, t *Target, log *slog.Logger) error {
	// The findings reports keep per epoch (store.RuleResultsTable) may
	// name the client: those of its epochs go, and the next report
	// evaluates the epochs again.
	tables := append(slices.Clone(store.ClientTables), store.RuleResultsTable)
	if d.Cluster == "" {
		for _, r := range store.RebuiltRollups {
			tables = append(tables, r.Table)
		}
	}
	onCluster := onCluster(d)
	if d.Cluster != "" {
		for i := range tables {
			tables[i] += "_local"
		}
	}
	for _, tb := range tables {
		if err := d.CH.Exec(ctx, "ALTER TABLE "+d.table(tb)+onCluster+" MODIFY SETTING old_parts_lifetime = 0"); err != nil {
			return chError("prepare "+tb+" for erasure", err)
		}
	}
	defer func() {
		for _, tb := range tables {
			if err := d.CH.Exec(context.WithoutCancel(ctx), "ALTER TABLE "+d.table(tb)+onCluster+" RESET SETTING old_parts_lifetime"); err != nil {
				log.Warn("could not reset the table's old_parts_lifetime after an erasure", "table", tb, "err", err)
			}
		}
	}()
	cond := whoWhere
	if d.Cluster == "" {
		work, drop, err := workTable(ctx, d, t)
		if err != nil {
			return err
		}
		defer drop()
		cond = "(epoch, client_id) IN (SELECT epoch, client_id FROM " + work + ")"
	}
	mctx := clickhouse.Context(t.ctx(ctx), clickhouse.WithSettings(clickhouse.Settings{"mutations_sync": 2}))
	var refill map[string]func() error
	if d.Cluster == "" {
		var drop func()
		var err error
		if refill, drop, err = prepareRebuilds(mctx, d, cond); err != nil {
			return err
		}
		defer drop()
	}
	for _, tb := range tables {
		if rebuild, ok := refill[tb]; ok {
			if err := rebuild(); err != nil {
				return err
			}
			continue
		}
		where := cond
		if strings.TrimSuffix(tb, "_local") == store.RuleResultsTable {
			where = "has(" + uint32List(t.Living()) + ", epoch)"
		}
		if err := d.CH.Exec(mctx, "ALTER TABLE "+d.table(tb)+onCluster+" DELETE WHERE "+where); err != nil {
			return chError("erase rows of "+tb, err)
		}
	}
	return waitPartsRemoved(ctx, d, tables)
}

// workTable holds the target's (epoch, id) pairs in memory for the
// mutations to read.
func workTable(ctx context.Context, d Deps, t *Target) (string, func(), error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	name := d.table("subject_erase_" + hex.EncodeToString(b[:]))
	if err := d.CH.Exec(ctx, "CREATE TABLE "+name+" (epoch UInt32, client_id UInt64) ENGINE = Memory"); err != nil {
		return "", nil, chError("erasure work table", err)
	}
	drop := func() {
		_ = d.CH.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+name+" SYNC")
	}
	if err := d.CH.Exec(t.ctx(ctx), "INSERT INTO "+name+" SELECT p.1, p.2 FROM (SELECT arrayJoin({pairs:Array(Tuple(UInt32, UInt64))}) AS p)"); err != nil {
		drop()
		return "", nil, chError("erasure work table", err)
	}
	return name, drop, nil
}

// waitPartsRemoved waits until the parts the mutations replaced are gone
// from disk. Parts that become inactive later were active after the
// mutations finished, so they never held the erased rows.
func waitPartsRemoved(ctx context.Context, d Deps, tables []string) error {
	parts := "system.parts"
	if d.Cluster != "" {
		parts = "clusterAllReplicas(`" + d.Cluster + "`, system.parts)"
	}
	pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"db": d.DB, "tables": stringList(tables)}))
	where := " WHERE database = {db:String} AND has({tables:Array(String)}, table)"
	var replaced []string
	rows, err := d.CH.Query(pctx, "SELECT concat(table, '/', name) FROM "+parts+where+" AND NOT active")
	if err != nil {
		return chError("list the replaced parts", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("list the replaced parts: %w", err)
		}
		replaced = append(replaced, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list the replaced parts: %w", err)
	}
	if len(replaced) == 0 {
		return nil
	}
	lctx := clickhouse.Context(pctx, clickhouse.WithParameters(clickhouse.Parameters{"db": d.DB, "tables": stringList(tables),
		"replaced": stringList(replaced)}))
	q := "SELECT count() FROM " + parts + where + " AND has({replaced:Array(String)}, concat(table, '/', name))"
	start := time.Now()
	deadline, nudged := start.Add(5*time.Minute), start
	for {
		var left uint64
		if err := d.CH.QueryRow(lctx, q).Scan(&left); err != nil {
			return chError("check the replaced parts", err)
		}
		if left == 0 {
			return nil
		}
		// An idle table's background job sleeps up to 10 minutes between
		// runs; a mutation that matches nothing wakes it, and the run
		// removes the replaced parts (they must be a second old first).
		if time.Since(nudged) >= 2*time.Second {
			for _, tb := range tables {
				if err := d.CH.Exec(ctx, "ALTER TABLE "+d.table(tb)+onCluster(d)+" DELETE WHERE 0"); err != nil {
					return chError("wake the cleanup of "+tb, err)
				}
			}
			nudged = time.Now()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the rows are deleted, but %d replaced parts are still on disk after 5 minutes; they go within old_parts_lifetime", left)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func onCluster(d Deps) string {
	if d.Cluster == "" {
		return ""
	}
	return " ON CLUSTER `" + d.Cluster + "`"
}

func stringList(v []string) string {
	out := "["
	for i, s := range v {
		if i > 0 {
			out += ","
		}
		out += "'" + s + "'"
	}
	return out + "]"
}

// Write writes the answer as table (plain words) or json.
func (r *Erased) Write(format string, out io.Writer) error {
	if format == "json" {
		return writeJSON(out, r)
	}
	switch {
	case len(r.Epochs) == 0:
		fmt.Fprintln(out, "No salt epoch lives: no stored row can be tied to this address, so none was erased.")
	case r.Requests+r.ClientRollups == 0:
		fmt.Fprintf(out, "Nothing held for this address in the %d epoch(s) whose salts live; events of it still on their way will not be stored.\n", len(r.Epochs))
	default:
		fmt.Fprintf(out, "Erased %d request rows and %d hourly client-activity rows in %d epoch(s); the replaced parts are deleted from disk,\n"+
			"and events of this address logged before now that were still on their way will not be stored.\n", r.Requests, r.ClientRollups, len(r.Epochs))
	}
	if r.AlertsForgotten > 0 {
		fmt.Fprintf(out, "Forgot %d alert(s) raised on this client (the alert loop's memory); alerts already delivered are with their recipients.\n", r.AlertsForgotten)
	}
	if !r.StoreConfirmed {
		fmt.Fprintln(out, "WARNING: the store did not confirm within its ack wait that it stored every event delivered before the erasure "+
			"(is an insert failing?). Run the erasure again once the store is healthy.")
	}
	fmt.Fprintln(out, r.Note)
	if r.Unlinkable != nil {
		fmt.Fprintln(out, "\n"+r.Unlinkable.Statement)
	}
	return nil
}
