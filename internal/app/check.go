package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/chdb"
	"github.com/vakt-dev/vakt/internal/config"
)

// Check is `vakt check`: every problem of the configuration and of what it
// points at, each naming its key and the fix. With connect, it also
// connects to the engines.
func Check(ctx context.Context, cfg config.Config, loadErr error, connect bool, log *slog.Logger) []config.Problem {
	ps := config.ProblemsOf(loadErr)
	ps = append(ps, cfg.Problems()...)
	add := func(key, problem, fix string) { ps = append(ps, config.Problem{Key: key, Problem: problem, Fix: fix}) }
	readable := func(key, path string) {
		if path == "" {
			return
		}
		f, err := os.Open(path)
		if err != nil {
			add(key, fmt.Sprintf("cannot read %s: %v", path, err), "point it at an existing, readable file")
			return
		}
		f.Close()
	}
	readable("nats.password_file", cfg.NATS.PasswordFile)
	readable("nats.token_file", cfg.NATS.TokenFile)
	readable("nats.credentials_file", cfg.NATS.CredentialsFile)
	readable("nats.nkey_seed_file", cfg.NATS.NKeySeedFile)
	readable("nats.ca_file", cfg.NATS.CAFile)
	readable("nats.cert_file", cfg.NATS.CertFile)
	readable("nats.key_file", cfg.NATS.KeyFile)
	readable("clickhouse.password_file", cfg.ClickHouse.PasswordFile)
	readable("clickhouse.ca_file", cfg.ClickHouse.CAFile)
	readable("clickhouse.cert_file", cfg.ClickHouse.CertFile)
	readable("clickhouse.key_file", cfg.ClickHouse.KeyFile)
	readable("clickhouse.readonly_password_file", cfg.ClickHouse.ReadonlyPasswordFile)
	clientCert := func(section, cert, key string) {
		if (cert == "") != (key == "") {
			add(section+".cert_file", "cert_file and key_file must be set together", "set both for TLS client authentication, or neither")
		}
	}
	clientCert("nats", cfg.NATS.CertFile, cfg.NATS.KeyFile)
	clientCert("clickhouse", cfg.ClickHouse.CertFile, cfg.ClickHouse.KeyFile)
	if cfg.NATS.User != "" && cfg.NATS.Password == "" && cfg.NATS.PasswordFile == "" {
		add("nats.password", "user is set without a password", "set nats.password, nats.password_file or VAKT_NATS_PASSWORD")
	}
	var globs [][2]string // key, pattern
	for i, glob := range cfg.Ingest.Files {
		globs = append(globs, [2]string{fmt.Sprintf("ingest.files[%d]", i), glob})
	}
	for k, src := range cfg.Ingest.Sources {
		for i, glob := range src.Files {
			globs = append(globs, [2]string{fmt.Sprintf("ingest.sources[%d].files[%d]", k, i), glob})
		}
	}
	for _, kg := range globs {
		key, glob := kg[0], kg[1]
		if _, err := filepath.Match(glob, ""); err != nil {
			add(key, fmt.Sprintf("%q is not a valid glob: %v", glob, err), "fix the pattern")
			continue
		}
		if m, _ := filepath.Glob(glob); len(m) == 0 {
			add(key, fmt.Sprintf("%q matches no file yet", glob), "check the path; vakt also picks up files created later")
		}
	}
	if _, err := analyze.LoadRules(cfg.Rules.Dir); err != nil {
		errs := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		}
		for _, e := range errs {
			add("rules.dir", e.Error(), "fix or remove the rule file (format: analyze/rules/README.md)")
		}
	}
	geoIPProblems(cfg, add)
	if cfg.EmbeddedClickHouse() {
		if _, err := chdb.FindLib(cfg.ClickHouse.LibPath); err != nil {
			add("clickhouse.lib_path", err.Error(), "or set clickhouse.addr to use a ClickHouse server")
		}
	}
	if cfg.EmbeddedNATS() || cfg.EmbeddedClickHouse() {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			add("data_dir", err.Error(), "use a directory vakt can create and write")
		} else if f, err := os.CreateTemp(cfg.DataDir, ".check-*"); err != nil {
			add("data_dir", fmt.Sprintf("%s is not writable: %v", cfg.DataDir, err), "use a directory vakt can write")
		} else {
			f.Close()
			os.Remove(f.Name())
		}
	}
	if connect && len(ps) == 0 {
		eng, err := OpenEngines(ctx, cfg, Need{NATS: true, ClickHouse: true}, "check", log)
		if err != nil {
			add("(connect)", err.Error(), "check the addresses, credentials and that the servers run")
		} else {
			eng.Close()
		}
	}
	return ps
}
