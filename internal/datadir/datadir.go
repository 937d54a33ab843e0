// Package datadir is the ownership of a data dir: one process holds its
// lock and runs the embedded engines, and publishes in the runtime file
// where it serves them, so that later commands on the data dir use them.
package datadir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// RuntimeFile, in the data dir, tells other vakt commands where the process
// that owns the data dir serves its embedded engines.
const RuntimeFile = "vakt.runtime.json"

// lockFile is held (flock) by the process that owns the data dir: one
// nats-server store and one ClickHouse engine per directory.
const lockFile = "vakt.lock"

// Runtime is what the runtime file holds.
type Runtime struct {
	PID           int       `json:"pid"`
	NATSURL       string    `json:"nats_url,omitempty"`
	NATSInProcess bool      `json:"nats_in_process_only,omitempty"` // nats.listen: "" (no listener)
	ClickHouseURL string    `json:"clickhouse_http,omitempty"`
	Started       time.Time `json:"started"`
}

// Owner is the held lock of a data dir.
type Owner struct {
	dir  string
	lock *os.File
}

// Lock creates dir if need be and takes its lock. It returns nil, and no
// error, when another process owns dir.
func Lock(dir string) (*Owner, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w (set data_dir, VAKT_DATA_DIR or --data-dir to a directory vakt may create and write)", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock data dir %s: %w", dir, err)
		}
		return nil, nil
	}
	return &Owner{dir: dir, lock: lf}, nil
}

// Publish writes the runtime file, atomically.
func (o *Owner) Publish(info Runtime) error {
	b, _ := json.MarshalIndent(info, "", "  ")
	tmp := filepath.Join(o.dir, RuntimeFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("runtime file: %w", err)
	}
	return os.Rename(tmp, filepath.Join(o.dir, RuntimeFile))
}

// Release removes the runtime file and lets the lock go.
func (o *Owner) Release() {
	os.Remove(filepath.Join(o.dir, RuntimeFile))
	o.lock.Close()
}

// Find reads the owner's runtime file, waiting up to a minute for an owner
// that is still starting its engines: until complete says the file holds
// what the caller needs.
func Find(ctx context.Context, dir string, complete func(Runtime) bool) (Runtime, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, RuntimeFile))
		var info Runtime
		if err == nil && json.Unmarshal(b, &info) == nil && info.PID > 0 && processAlive(info.PID) && complete(info) {
			return info, nil
		}
		if time.Now().After(deadline) {
			return Runtime{}, fmt.Errorf("data dir %s is locked by another vakt process that does not publish its engines in %s; stop it or use another --data-dir", dir, RuntimeFile)
		}
		select {
		case <-ctx.Done():
			return Runtime{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}
