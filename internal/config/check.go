package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vakt-dev/vakt/internal/chdb"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/pseudonymize/geodata"
)

// Check is the static part of `vakt check`: every problem of the
// configuration (and of loadErr, the error loading it) and of the files and
// directories it points at, each naming its key and the fix. loadRules
// loads the rule files of rules.dir (the analysis stage's), so that a
// broken one is named here too.
func Check(cfg Config, loadErr error, loadRules func(dir string) error) []Problem {
	ps := ProblemsOf(loadErr)
	ps = append(ps, cfg.Problems()...)
	add := func(key, problem, fix string) { ps = append(ps, Problem{Key: key, Problem: problem, Fix: fix}) }
	credentialProblems(cfg, add)
	globProblems(cfg, add)
	if err := loadRules(cfg.Rules.Dir); err != nil {
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
		dataDirProblems(cfg.DataDir, add)
	}
	return ps
}

// credentialProblems checks that the secret, CA and certificate files can
// be read and that client certificates come with their keys.
func credentialProblems(cfg Config, add func(key, problem, fix string)) {
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
}

// globProblems checks ingest's file patterns: valid, and matching a file.
func globProblems(cfg Config, add func(key, problem, fix string)) {
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
}

// dataDirProblems checks that the embedded engines can write the data dir.
func dataDirProblems(dataDir string, add func(key, problem, fix string)) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		add("data_dir", err.Error(), "use a directory vakt can create and write")
	} else if f, err := os.CreateTemp(dataDir, ".check-*"); err != nil {
		add("data_dir", fmt.Sprintf("%s is not writable: %v", dataDir, err), "use a directory vakt can write")
	} else {
		f.Close()
		os.Remove(f.Name())
	}
}

// geoIPProblems checks the configured GeoIP databases as the pseudonymiser
// will load them, for `vakt check`.
func geoIPProblems(cfg Config, add func(key, problem, fix string)) {
	g := cfg.Pseudonymize.GeoIP
	if g.OpenDataDir != "" && g.OpenData != pseudonymize.OpenDataOff && (g.CountryDB == "" || g.ASNDB == "") {
		if _, err := geodata.ReadManifest(g.OpenDataDir); err != nil {
			add("pseudonymize.geoip.open_data_dir", fmt.Sprintf("%s holds no built open GeoIP databases (%v)", g.OpenDataDir, err),
				"build them there with `vakt geoip build --dir "+g.OpenDataDir+"` (after `make geoip`), or clear the key for the default cache")
		}
	}
	for _, db := range []struct{ key, path string }{
		{"pseudonymize.geoip.country_db", g.CountryDB},
		{"pseudonymize.geoip.asn_db", g.ASNDB},
	} {
		if db.path == "" {
			continue
		}
		if _, err := os.Stat(db.path); errors.Is(err, os.ErrNotExist) {
			add(db.key, fmt.Sprintf("%s does not exist", db.path),
				"download it (e.g. with geoipupdate) or clear the key; until it appears that enrichment is off")
			continue
		}
		c := pseudonymize.GeoIPConfig{}
		if db.key == "pseudonymize.geoip.country_db" {
			c.CountryDB = db.path
		} else {
			c.ASNDB = db.path
		}
		if _, err := pseudonymize.NewGeoIP(c, nil); err != nil {
			problem, fix, ok := strings.Cut(strings.TrimPrefix(err.Error(), db.key+": "), "; ")
			if !ok {
				fix = "point it at a MaxMind-format (.mmdb) database of that kind"
			}
			add(db.key, problem, fix)
		}
	}
}
