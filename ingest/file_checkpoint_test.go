package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/event"
	"github.com/vakt-dev/vakt/internal/testenv"
)

// TestTailRestartExactlyOnce crashes a follower in the middle (its NATS
// connection dies: acknowledgements and checkpoint writes in flight are
// lost) while lines are written and rotated at full speed, then starts
// another: every line is stored exactly once.
func TestTailRestartExactlyOnce(t *testing.T) {
	t.Parallel()
	e := testenv.RunNATS(t)
	// connect returns a connection and a function that kills it as a
	// crash would: the socket is closed under the client, so whatever it
	// had not sent yet is lost, and it does not reconnect.
	connect := func() (func(), jetstream.JetStream) {
		d := &killDialer{}
		nc, js, err := bus.Connect(bus.ConnConfig{URL: e.ClientURL(), Name: "test",
			Options: []nats.Option{nats.NoReconnect(), nats.SetCustomDialer(d)}}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return func() { d.kill(); nc.Close() }, js
	}
	closeMain, js := connect()
	defer closeMain()
	if err := bus.Ensure(context.Background(), js, bus.DefaultStreamConfig()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w := newSeqWriter(t, path)
	w.write(3000) // before the first start: read because of FromStart
	// Batches of 64 lines from bursts of 100: most batches are cut by the
	// end of what a poll finds, at places a restart would not cut them
	// again without the recorded boundaries.
	cfg := Config{Files: []string{filepath.Join(dir, "access.log*")}, FromStart: true, BatchLines: 64, MaxInFlight: 32,
		DrainTimeout: 300 * time.Millisecond}

	var writing atomic.Bool
	writing.Store(true)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for k := 1; writing.Load(); k++ {
			w.runFor(100*time.Millisecond, time.Hour, 100, nil)
			if k%2 == 0 {
				w.rotateRename(fmt.Sprintf("access.log.%d", k))
			} else {
				w.rotateCopyTruncate(fmt.Sprintf("access.log.%d", k))
			}
		}
	}()

	crashes, inFlight, replayed := 0, int64(0), int64(0)
	// Some kills come early, in the middle of replaying the boundaries the
	// previous crash left (a second crash must not forget them), others
	// late, with many batches stored but not yet checkpointed.
	killAt := []int64{2500, 1200, 6000, 1500}
	for round := range 4 {
		// While no follower runs, lines pile up; the next one starts
		// behind and is killed while catching up, with batches in flight.
		time.Sleep(150 * time.Millisecond)
		closeConn, js1 := connect()
		ing, stop := startFollow(t, cfg, js1, nil)
		for ing.Stats().LinesRead < killAt[round] {
			time.Sleep(100 * time.Microsecond)
		}
		closeConn()
		st := ing.Stats()
		stop()
		if st.LinesRead == 0 {
			t.Fatalf("round %d read nothing", round)
		}
		crashes++
		inFlight += st.LinesRead - st.Published - st.Duplicates
		replayed += st.Duplicates
		t.Logf("round %d: at the crash %+v", round, st)
	}
	if inFlight == 0 {
		t.Fatal("no crash left lines read but unacknowledged: the test tests nothing")
	}
	writing.Store(false)
	<-writerDone
	w.close()
	n := w.written()

	closeLast, js2 := connect()
	defer closeLast()
	var logs logBuf
	ing, stop := startFollow(t, cfg, js2, logs.logger())
	c := newSeqCounter(t, js)
	c.until("every line", 30*time.Second, func() bool { return len(c.counts) >= n })
	time.Sleep(300 * time.Millisecond) // time for any extra batch to arrive
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	c.fetch(300 * time.Millisecond)
	st := ing.Stats()
	replayed += st.Duplicates
	t.Logf("%d lines, %d rotations, %d crashes; last run %+v; records of replayed batches JetStream dropped as stored already: %d",
		n, w.rots, crashes, st, replayed)
	c.exactlyOnce(n)
	if replayed == 0 {
		t.Fatal("no restart replayed a batch stored before the crash: the test tests nothing")
	}
}

// killDialer dials NATS and can close the socket under the client.
type killDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *killDialer) Dial(network, addr string) (net.Conn, error) {
	c, err := net.Dial(network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *killDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
}

// TestCheckpointCoversPublished checks rule 1 of file_checkpoint.go as it
// happens: whenever a batch is in the stream, the checkpoint of its
// generation either has passed its end or lists its end.
func TestCheckpointCoversPublished(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w := newSeqWriter(t, path)
	_, stop := startFollow(t, Config{Files: []string{path}, BatchLines: 50}, js, nil)
	kv, err := js.KeyValue(context.Background(), bus.CheckpointBucket)
	if err != nil {
		t.Fatal(err)
	}
	prefix := sourceKey([]string{path})
	cons, err := js.Consumer(context.Background(), bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.runFor(600*time.Millisecond, 200*time.Millisecond, 37, func(k int) { w.rotateRename(fmt.Sprintf("access.log.%d", k)) })
	}()
	checked := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for msg := range batch.Messages() {
			id := msg.Headers().Get(jetstream.MsgIDHeader)
			var g string
			var start, end int64
			if k := strings.IndexByte(id, ':'); k < 0 {
				t.Fatalf("message id %q", id)
			} else if _, err := fmt.Sscanf(id[k+1:], "%d-%d", &start, &end); err != nil {
				t.Fatalf("message id %q: %v", id, err)
			} else {
				g = id[:k]
			}
			e, err := kv.Get(context.Background(), prefix+"."+g)
			if err != nil {
				t.Fatalf("batch %s stored, no checkpoint: %v", id, err)
			}
			var cp checkpoint
			if err := json.Unmarshal(e.Value(), &cp); err != nil {
				t.Fatal(err)
			}
			if end > cp.Offset && !slices.Contains(cp.Ends, end) {
				t.Fatalf("batch %s stored; its checkpoint (offset %d, ends %v) does not cover it", id, cp.Offset, cp.Ends)
			}
			checked++
			msg.Ack()
		}
	}
	stop()
	w.close()
	if checked < 100 {
		t.Fatalf("only %d batches checked", checked)
	}
}

// TestTailRotatedWhileDown: while no follower runs, the log is rotated
// twice (once by rename, once by copytruncate, then once more by rename)
// and written to; the pattern matches only the live file. The next
// follower finds the rest of the generation it was reading and the
// generations it never saw next to it, and every line arrives once.
func TestTailRotatedWhileDown(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	w := newSeqWriter(t, path)
	cfg := Config{Files: []string{path}}
	var logs logBuf
	_, stop := startFollow(t, cfg, js, logs.logger())
	testenv.WaitFor(t, 10*time.Second, "follower", func() bool { return strings.Contains(logs.String(), "following log files") })
	w.write(1000)
	c := newSeqCounter(t, js)
	c.until("lines before the stop", 10*time.Second, func() bool { return c.total >= 1000 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	w.write(500)                         // the rest of the generation being read
	w.rotateRename("access.log.1")       // ... renamed away, then 50 more lines
	w.write(700)                         // a generation never seen
	w.rotateCopyTruncate("access.log-2") // ... copied away
	w.write(300)                         // another one never seen
	w.rotateRename("access.log.3")       // ... renamed away, then 50 more lines
	w.write(200)                         // the live file

	var logs2 logBuf
	_, stop2 := startFollow(t, cfg, js, logs2.logger())
	n := w.written()
	c.until("every line", 10*time.Second, func() bool { return len(c.counts) >= n })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to arrive: exactlyOnce below checks none did
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	c.fetch(100 * time.Millisecond)
	c.exactlyOnce(n)
	w.close()
	if got := strings.Count(logs2.String(), "reading a rotated log file never seen"); got != 2 {
		t.Errorf("%d unseen generations found, want 2\n%s", got, logs2.String())
	}
}

// TestCheckpointGC: checkpoints of generations no file holds any more are
// deleted once older than MaxAge; those of files still there are kept.
func TestCheckpointGC(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	dir := t.TempDir()
	keep, gone := filepath.Join(dir, "keep.log"), filepath.Join(dir, "gone.log")
	var b []byte
	for seq := range 10 {
		b = appendSeqLine(b, seq, time.Now())
	}
	os.WriteFile(keep, b, 0o600)
	os.WriteFile(gone, appendSeqLine(nil, 99, time.Now()), 0o600)
	pattern := filepath.Join(dir, "*.log")
	cfg := Config{Files: []string{pattern}, FromStart: true}
	ing, stop := startFollow(t, cfg, js, nil)
	testenv.WaitFor(t, 10*time.Second, "both files", func() bool { return ing.Stats().Published == 11 })
	stop()
	os.Remove(gone)

	ing, err := New(Config{Files: []string{pattern}, Follow: true, MaxAge: time.Nanosecond}, js, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cps, started, err := openCheckpoints(ctx, ing.js, sourceKey([]string{pattern}), ing.log)
	if err != nil || !started || len(cps.all()) != 2 {
		t.Fatalf("checkpoints %v %v %d", err, started, len(cps.all()))
	}
	fl := &follower{ing: ing, owner: map[fileKey]*tailSource{}, active: map[string]bool{}}
	s := &tailSource{fl: fl, ing: ing, src: Source{Files: []string{pattern}}, patterns: []string{pattern}, cps: cps,
		log: ing.log, files: map[fileKey]*tailFile{}, skip: map[fileKey]skipEntry{}}
	rctx, cancel := context.WithCancel(ctx)
	defer func() { cancel(); s.wg.Wait() }()
	s.scan(rctx, ctx, false) // keep.log is followed again
	testenv.WaitFor(t, 10*time.Second, "keep.log followed", func() bool { return len(s.held()) == 1 })
	s.gc(ctx)
	if n := len(cps.all()); n != 1 {
		t.Fatalf("%d checkpoints after gc, want 1", n)
	}
}

// TestReplayKeepsRecordedEnds: while a restarted follower replays the
// batch boundaries an earlier run recorded, the checkpoints it writes keep
// the boundaries it has not reached, so that a second crash in the middle
// of the replay does not forget them. The RAW stream is full, so the
// follower stops after its first batch and the checkpoint can be looked at.
func TestReplayKeepsRecordedEnds(t *testing.T) {
	t.Parallel()
	sc := bus.DefaultStreamConfig()
	sc.RawMaxBytes = 8 << 10
	js := startNATS(t, sc)
	ctx := context.Background()
	if _, err := js.Publish(ctx, bus.RawSubject("filler"), make([]byte, 8000)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "access.log")
	var data []byte
	var lineEnds []int64
	for seq := range 20 {
		data = appendSeqLine(data, seq, time.Now())
		lineEnds = append(lineEnds, int64(len(data)))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	g, n, ok := fingerprintOf(data[:fpBytes])
	if !ok {
		t.Fatal("no fingerprint")
	}
	// What a crashed run left: nothing acknowledged, four batches recorded.
	ends := []int64{lineEnds[2], lineEnds[6], lineEnds[11], lineEnds[19]}
	cps, _, err := openCheckpoints(ctx, js, sourceKey([]string{path}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := cps.put(ctx, g, checkpoint{Offset: 0, Ends: ends, FPBytes: n, Path: path}); err != nil {
		t.Fatal(err)
	}
	if err := cps.markStarted(ctx); err != nil {
		t.Fatal(err)
	}
	key := sourceKey([]string{path}) + "." + g
	first, err := cps.kv.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}

	_, stop := startFollow(t, Config{Files: []string{path}, MaxInFlight: 1, DrainTimeout: 100 * time.Millisecond}, js, nil)
	var cp checkpoint
	testenv.WaitFor(t, 10*time.Second, "the replay's first checkpoint", func() bool {
		e, err := cps.kv.Get(ctx, key)
		if err != nil || e.Revision() == first.Revision() {
			return false
		}
		return json.Unmarshal(e.Value(), &cp) == nil
	})
	for _, e := range ends {
		if e > cp.Offset && !slices.Contains(cp.Ends, e) {
			t.Fatalf("checkpoint during the replay (offset %d, ends %v) forgot the recorded end %d", cp.Offset, cp.Ends, e)
		}
	}
	if cp.Offset != 0 {
		t.Logf("the stream took batches: offset %d", cp.Offset)
	}
	stop()
}

// TestReplayCutsAtRecordedEnds: after a restart, batches end exactly at
// the boundaries the crashed run recorded, so they get the ids they had,
// and a batch the crashed run stored is dropped by JetStream.
func TestReplayCutsAtRecordedEnds(t *testing.T) {
	t.Parallel()
	js := startNATS(t, bus.DefaultStreamConfig())
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "access.log")
	var data []byte
	var lineEnds []int64
	for seq := range 30 {
		data = appendSeqLine(data, seq, time.Now())
		lineEnds = append(lineEnds, int64(len(data)))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	g, n, _ := fingerprintOf(data[:fpBytes])
	ends := []int64{lineEnds[2], lineEnds[6], lineEnds[11], lineEnds[19]}
	cps, _, err := openCheckpoints(ctx, js, sourceKey([]string{path}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := cps.put(ctx, g, checkpoint{Offset: 0, Ends: ends, FPBytes: n, Path: path}); err != nil {
		t.Fatal(err)
	}
	if err := cps.markStarted(ctx); err != nil {
		t.Fatal(err)
	}
	// The crashed run had stored its second batch (lines 3 to 6).
	stored := fmt.Sprintf("%s:%d-%d", g, ends[0], ends[1])
	if _, err := js.Publish(ctx, bus.RawSubject("default"), event.AppendRaw(nil, &event.Raw{Time: time.Now(), Target: "/t/3"}),
		jetstream.WithMsgID(stored)); err != nil {
		t.Fatal(err)
	}

	ing, stop := startFollow(t, Config{Files: []string{path}, BatchLines: 1000}, js, nil)
	testenv.WaitFor(t, 10*time.Second, "every line", func() bool { return ing.Stats().Published+ing.Stats().Duplicates == 30 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := ing.Stats(); st.Duplicates != 4 {
		t.Fatalf("stats %+v: the stored batch (4 lines) was not recognised", st)
	}
	cons, err := js.Consumer(ctx, bus.RawStream, bus.PseudonymizeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(100, jetstream.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for msg := range batch.Messages() {
		ids = append(ids, msg.Headers().Get(jetstream.MsgIDHeader))
	}
	want := []string{
		stored,
		fmt.Sprintf("%s:%d-%d", g, 0, ends[0]),
		fmt.Sprintf("%s:%d-%d", g, ends[1], ends[2]),
		fmt.Sprintf("%s:%d-%d", g, ends[2], ends[3]),
		fmt.Sprintf("%s:%d-%d", g, ends[3], lineEnds[29]), // after the replay: ordinary batching
	}
	slices.Sort(ids) // published asynchronously: in any order
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("message ids\n got %v\nwant %v", ids, want)
	}
}
