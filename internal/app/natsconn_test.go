package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/vakt-dev/vakt/internal/bus"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/pseudonymize"
)

// natsOnlyConfig is a data dir whose owner runs the embedded NATS only (the
// process's one embedded ClickHouse engine belongs to TestMain), with the
// store key off the data dir.
func natsOnlyConfig(t *testing.T) config.Config {
	cfg := config.Defaults()
	work := t.TempDir()
	cfg.DataDir = filepath.Join(work, "data")
	cfg.NATS.Listen = "127.0.0.1:0"
	cfg.NATS.StoreKeyFile = filepath.Join(work, "conf", "nats-store.key")
	cfg.ClickHouse.Addr = []string{"127.0.0.1:1"}
	cfg.HTTP.Listen = ""
	return cfg
}

// TestEmbeddedNATSStageUsers: the owner of a data dir connects each stage
// in process as its own user; a command that does not own the data dir
// connects over the listener with the password from the data dir; nobody
// connects without one; only vakt_pseudonymize reaches the salts.
func TestEmbeddedNATSStageUsers(t *testing.T) {
	ctx := context.Background()
	cfg := natsOnlyConfig(t)
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true}, "run", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if !eng.Owner || eng.natsURL == "" {
		t.Fatalf("owner %v, listener %q", eng.Owner, eng.natsURL)
	}
	if u := eng.NC.Opts.User; u != bus.UserOps {
		t.Errorf("the all-in-one command's own connection is %q, want %s", u, bus.UserOps)
	}
	for stage, user := range map[bus.Stage]string{bus.StageIngest: bus.UserIngest, bus.StagePseudonymize: bus.UserPseudonymize, bus.StageStore: bus.UserStore} {
		js, err := eng.StageJS(stage)
		if err != nil {
			t.Fatalf("stage %s: %v", stage, err)
		}
		nc := js.Conn()
		if nc.Opts.User != user || nc.Opts.InProcessServer == nil {
			t.Errorf("stage %s: user %q, in process %v", stage, nc.Opts.User, nc.Opts.InProcessServer != nil)
		}
	}
	// The pipeline's pseudonymiser creates the epoch's salt.
	pjs, _ := eng.StageJS(bus.StagePseudonymize)
	salts, err := pseudonymize.NewSaltStore(ctx, pjs, cfg.Pseudonymize, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := salts.Current(ctx); err != nil {
		t.Fatal(err)
	}

	// No anonymous client, in process or over the listener.
	if nc, err := nats.Connect(eng.natsURL, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected to the embedded NATS")
	}
	for _, file := range []string{"nats-vakt_ops.password", "nats-vakt_shipper.password"} {
		if st, err := os.Stat(filepath.Join(cfg.DataDir, "credentials", file)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", file, st, err)
		}
	}

	// `vakt salts` while the owner runs: vakt_pseudonymize over TCP reads
	// the salt; `vakt ingest` pointed at the data dir may not.
	other, err := OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageSalts}, "salts", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if other.Owner || other.NC.Opts.User != bus.UserPseudonymize || other.NC.ConnectedUrl() == "" {
		t.Fatalf("second command: owner %v, user %q, url %q", other.Owner, other.NC.Opts.User, other.NC.ConnectedUrl())
	}
	kv, err := other.JS.KeyValue(ctx, bus.SaltBucket)
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := salts.EpochOf(time.Now())
	entry, err := kv.Get(ctx, "epoch."+itoa(cur))
	if err != nil || len(entry.Value()) < 32 {
		t.Fatalf("salt of the current epoch as vakt_pseudonymize: %v", err)
	}
	salt := bytes.Clone(entry.Value()[:32])
	ingest, err := OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageIngest}, "ingest", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer ingest.Close()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := ingest.JS.KeyValue(sctx, bus.SaltBucket); err == nil {
		t.Fatal("vakt_ingest opened the salt bucket")
	}

	// At rest: no file of the data dir holds the salt, raw or encoded.
	other.Close()
	ingest.Close()
	eng.Close()
	forms := [][]byte{salt, []byte(hex.EncodeToString(salt)), []byte(base64.StdEncoding.EncodeToString(salt)), []byte(base64.RawURLEncoding.EncodeToString(salt)), salt[:16], salt[16:]}
	files := 0
	err = filepath.WalkDir(cfg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, f := range forms {
			if bytes.Contains(b, f) {
				t.Errorf("%s holds the salt", p)
			}
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("scanned %d files: %v", files, err)
	}
	if strings.HasPrefix(cfg.NATS.StoreKeyFile, cfg.DataDir) {
		t.Fatal("the store key is in the data dir")
	}
}

// TestEmbeddedNATSWithoutListener: nats.listen "" serves the owner's stages
// in process only; other commands are told why they cannot connect.
func TestEmbeddedNATSWithoutListener(t *testing.T) {
	ctx := context.Background()
	cfg := natsOnlyConfig(t)
	cfg.NATS.Listen = ""
	eng, err := OpenEngines(ctx, cfg, Need{NATS: true}, "run", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if eng.natsURL != "" {
		t.Fatalf("listener %q with nats.listen empty", eng.natsURL)
	}
	if _, err := eng.StageJS(bus.StagePseudonymize); err != nil {
		t.Fatal(err)
	}
	_, err = OpenEngines(ctx, cfg, Need{NATS: true, Stage: bus.StageSalts}, "salts", quiet)
	if err == nil || !strings.Contains(err.Error(), "serves NATS in process only (nats.listen is empty)") {
		t.Fatalf("second command: %v", err)
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
