// Package app is vakt's composition root: the engines (embedded or
// external NATS and ClickHouse), the stages' wiring and their run and stop
// order. The commands' bodies live in the packages they drive; app opens
// the engines for them, as the NATS user each may use. cmd/vakt only
// parses flags and calls in here.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/chserver"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/internal/datadir"
	"github.com/vakt-dev/vakt/internal/health"
	"github.com/vakt-dev/vakt/internal/secrets"
	"github.com/vakt-dev/vakt/store"
)

// runtimeFile, in the data dir, tells other vakt commands where the owner
// serves its embedded engines.
const runtimeFile = datadir.RuntimeFile

// Engines are the NATS and ClickHouse connections a command uses, and the
// embedded engines it runs if it owns the data dir.
type Engines struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	CH     driver.Conn
	CHAddr string // host:port of the ClickHouse endpoint in use
	// CHConfig is the resolved ClickHouse connection (the embedded endpoint's
	// address when embedded).
	CHConfig store.ClickHouseConfig

	// Owner is true when this process runs the embedded engines.
	Owner   bool
	natsSrv *bus.Embedded
	nats    *bus.StageConns // per-stage connections to the embedded server
	chSrv   *chserver.Server
	natsURL string
	chAddr  string
	owner   *datadir.Owner
	dataDir string
	log     *slog.Logger
	// insertHealth, set where this process runs the store stage, makes
	// failing inserts a readiness failure (internal/health).
	insertHealth func() store.InsertHealth
}

// Need says which engines a command uses.
type Need struct {
	NATS, ClickHouse bool
	// Stage is what of JetStream the command sets up on connecting: a
	// stage's NATS user may touch only what its stage uses.
	Stage bus.Stage
}

// OpenEngines connects to the configured engines. For the embedded ones it
// either becomes the data dir's owner and starts them, or, when another vakt
// owns the data dir, connects to the endpoints that process serves.
func OpenEngines(ctx context.Context, cfg config.Config, need Need, name string, log *slog.Logger) (*Engines, error) {
	e := &Engines{dataDir: cfg.DataDir, log: log}
	if (need.NATS && cfg.EmbeddedNATS()) || (need.ClickHouse && cfg.EmbeddedClickHouse()) {
		if err := e.ownOrFind(ctx, cfg, need, log); err != nil {
			e.Close()
			return nil, err
		}
	}
	if need.NATS {
		if err := e.connectNATS(cfg, need, name); err != nil {
			e.Close()
			return nil, err
		}
	}
	if need.ClickHouse {
		chCfg, err := clickHouseConfig(cfg)
		if err != nil {
			e.Close()
			return nil, err
		}
		if cfg.EmbeddedClickHouse() {
			chCfg.Addr = []string{e.chAddr}
			chCfg.Protocol = "http"
		}
		conn, err := store.Open(ctx, chCfg)
		if err != nil {
			e.Close()
			return nil, store.WithHint(err)
		}
		e.CH, e.CHAddr, e.CHConfig = conn, chCfg.Addr[0], chCfg
	}
	return e, nil
}

func (e *Engines) ownOrFind(ctx context.Context, cfg config.Config, need Need, log *slog.Logger) error {
	owner, err := datadir.Lock(cfg.DataDir)
	if err != nil {
		return err
	}
	if owner == nil {
		return e.find(ctx, cfg, need)
	}
	e.owner, e.Owner = owner, true
	info := datadir.Runtime{PID: os.Getpid(), Started: time.Now().UTC()}
	// The owner runs the embedded engines it needs: a command that needs
	// ClickHouse only (vakt sql, migrate, retention) does not wait for
	// NATS to recover its store, which after a long run can take minutes.
	if cfg.EmbeddedNATS() && need.NATS {
		srv, err := startNATS(cfg, log)
		if err != nil {
			return err
		}
		e.natsSrv, e.natsURL = srv, srv.ClientURL()
		info.NATSURL, info.NATSInProcess = e.natsURL, e.natsURL == ""
	}
	if cfg.EmbeddedClickHouse() {
		own, reader := embeddedAccounts(cfg)
		users, err := chserver.Users(cfg.DataDir, own, reader)
		if err != nil {
			return err
		}
		ch := cfg.ClickHouse
		chCfg := chserver.Config{
			DataDir: cfg.ClickHouseDir(), Listen: ch.Listen, LibPath: ch.LibPath, Log: log, Users: users,
			AllowedHosts: ch.AllowedHosts, MaxQueryMemory: ch.MaxQueryMemory, MaxExecutionTime: ch.MaxExecutionTime.D(),
			MaxConcurrentQueries: ch.MaxConcurrentQueries, MaxConnections: ch.MaxConnections,
		}
		srv, err := chserver.Start(ctx, chCfg)
		if err != nil && isAddrInUse(err) {
			// Another vakt (on another data dir) has the port: take any.
			log.Warn("clickhouse endpoint port busy, using a free one", "listen", cfg.ClickHouse.Listen)
			chCfg.Listen = "127.0.0.1:0"
			srv, err = chserver.Start(ctx, chCfg)
		}
		if err != nil {
			return fmt.Errorf("embedded ClickHouse: %w", err)
		}
		e.chSrv, e.chAddr = srv, srv.Addr()
		info.ClickHouseURL = srv.URL()
	}
	return owner.Publish(info)
}

// find uses the engines of the process that owns the data dir.
func (e *Engines) find(ctx context.Context, cfg config.Config, need Need) error {
	info, err := datadir.Find(ctx, cfg.DataDir, func(info datadir.Runtime) bool {
		return (!need.NATS || !cfg.EmbeddedNATS() || info.NATSURL != "" || info.NATSInProcess) &&
			(!need.ClickHouse || !cfg.EmbeddedClickHouse() || info.ClickHouseURL != "")
	})
	if err != nil {
		return err
	}
	e.natsURL = info.NATSURL
	if info.ClickHouseURL != "" {
		e.chAddr = info.ClickHouseURL[len("http://"):]
	}
	e.log.Debug("using the engines of the vakt that owns the data dir", "pid", info.PID)
	return nil
}

// Close closes connections, then stops the embedded engines.
func (e *Engines) Close() {
	if e.nats != nil {
		e.nats.CloseAll()
	}
	if e.NC != nil {
		e.NC.Drain()
		e.NC.Close()
	}
	if e.CH != nil {
		e.CH.Close()
	}
	if e.chSrv != nil {
		e.chSrv.Close()
	}
	if e.natsSrv != nil {
		e.natsSrv.Shutdown()
	}
	if e.owner != nil {
		e.owner.Release()
	}
}

// HTTPTokenName is the generated credential of vakt's HTTP listener, under
// <data>/credentials/ (health.Serve).
const HTTPTokenName = health.TokenName

// ready checks the engines this process uses (health.Check): /readyz.
func (e *Engines) ready(ctx context.Context) health.Readiness {
	return health.Check(ctx, health.Deps{NC: e.NC, JS: e.JS, CH: e.CH, InsertHealth: e.insertHealth})
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// clickHouseConfig is how vakt connects: the clickhouse section, with
// the embedded endpoint's own account when vakt runs the engine.
func clickHouseConfig(c config.Config) (store.ClickHouseConfig, error) {
	user := c.ClickHouse.User
	password, err := secrets.ValueOrFile(c.ClickHouse.Password, c.ClickHouse.PasswordFile, "clickhouse.password_file")
	if err == nil && c.EmbeddedClickHouse() {
		// vakt's own account of the embedded endpoint, generated if need be.
		own, _ := embeddedAccounts(c)
		user, password, err = own.Resolve(c.DataDir)
	}
	if err != nil {
		return store.ClickHouseConfig{}, err
	}
	return store.ClickHouseConfig{
		Addr:     c.ClickHouse.Addr,
		Protocol: c.ClickHouse.Protocol,
		Database: c.ClickHouse.Database,
		Username: user,
		Password: password,
		TLS:      c.ClickHouse.TLS,
		CAFile:   c.ClickHouse.CAFile,
		CertFile: c.ClickHouse.CertFile,
		KeyFile:  c.ClickHouse.KeyFile,
	}, nil
}
