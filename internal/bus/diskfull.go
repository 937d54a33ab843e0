package bus

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// storeHeadroom is the free space the store's filesystem needs before
// JetStream is started again after a failed write: less, and the next
// write would fail again at once.
const storeHeadroom = 64 << 20

// OnJetStreamRestored sets what runs after JetStream was started again
// (watchStorage): the memory-only RAW stream is gone with the restart and
// must be created again; the file-backed streams and buckets come back
// from the store.
func (e *Embedded) OnJetStreamRestored(f func()) { e.restored.Store(&f) }

// storageWatch is the server's logger: it discards what the server says
// (which may name connections) except a failed write to the store, which
// it remembers. A file store whose write failed (a full disk) refuses
// every later write until it is loaded again, and a single server never
// does that by itself (only clustered servers react to running out of
// space), so the pipeline would stay stopped after the space came back.
type storageWatch struct {
	failed atomic.Bool
}

func (w *storageWatch) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, "Critical write error") || strings.Contains(msg, "no space left") || strings.Contains(msg, "out of") && strings.Contains(msg, "resources") {
		w.failed.Store(true)
	}
}
func (w *storageWatch) Noticef(string, ...any) {}
func (w *storageWatch) Warnf(string, ...any)   {}
func (w *storageWatch) Fatalf(string, ...any)  {}
func (w *storageWatch) Debugf(string, ...any)  {}
func (w *storageWatch) Tracef(string, ...any)  {}

// watchStorage restarts JetStream once there is disk space again after a
// write to the store failed (or JetStream stopped for want of it), so that
// the pipeline resumes by itself.
func (e *Embedded) watchStorage(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	reported := false
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		enabled := e.srv.JetStreamEnabled()
		if enabled && !e.watch.failed.Load() {
			reported = false
			continue
		}
		if !reported {
			reported = true
			e.log.Error("the embedded NATS server cannot write its store: the disk is full; the pipeline waits and resumes by itself once there is room",
				slog.String("dir", e.storeDir), slog.String("fix", "free space on that filesystem, or lower streams.events_max_bytes"))
		}
		if free, err := freeBytes(e.storeDir); err != nil || free < storeHeadroom {
			continue
		}
		if enabled {
			// Loading the stores again is what clears their write errors.
			e.srv.ShutdownJetStream()
		}
		e.watch.failed.Store(false)
		if err := e.srv.EnableJetStream(&server.JetStreamConfig{StoreDir: e.storeDir, MaxMemory: e.maxMemory}); err != nil {
			e.watch.failed.Store(true)
			e.log.Warn("cannot start JetStream again yet", slog.Any("err", err))
			continue
		}
		reported = false
		e.log.Info("disk space is back: the embedded NATS server's JetStream started again")
		if f := e.restored.Load(); f != nil {
			go (*f)()
		}
	}
}
