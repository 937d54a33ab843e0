package config

import (
	"path/filepath"

	"github.com/vakt-dev/vakt/ingest"
	"github.com/vakt-dev/vakt/pseudonymize"
	"github.com/vakt-dev/vakt/store"
)

// The stages' configurations with what each takes from other sections.

// IngestStage is the ingest section and what the command decides: a
// following ingest (vakt run, vakt ingest) or an import, which reads only
// the files named (no demo, syslog or from_start). Lines older than the
// request retention are refused, and a stop publishes for at most
// shutdown_timeout.
func (c Config) IngestStage(follow bool) ingest.Config {
	ic := c.Ingest
	ic.Follow = follow
	ic.MaxAge = c.Retention.Requests.D()
	ic.DrainTimeout = c.ShutdownTimeout.D()
	if !follow {
		ic.Demo, ic.FromStart, ic.Syslog = false, false, ingest.SyslogConfig{}
	}
	return ic
}

// PseudonymizeStage is the pseudonymise stage's configuration with the
// signatures directory of rules.dir.
func (c Config) PseudonymizeStage() pseudonymize.Config {
	pc := c.Pseudonymize
	if c.Rules.Dir != "" {
		pc.SignatureDirs = []string{filepath.Join(c.Rules.Dir, "signatures")}
	}
	return pc
}

// Schema is the tables' set-up: the clickhouse and retention sections.
func (c Config) Schema() store.SchemaConfig {
	return store.SchemaConfig{
		Database:         c.ClickHouse.Database,
		Cluster:          c.ClickHouse.Cluster,
		RequestsTTL:      c.Retention.Requests.D(),
		ClientRollupsTTL: c.Retention.ClientRollups.D(),
		HealthRollupsTTL: c.Retention.HealthRollups.D(),
	}
}

// StoreStage is the store section with the connection, the schema and the
// final flush of a stopping vakt (shutdown_timeout).
func (c Config) StoreStage(ch store.ClickHouseConfig) store.Config {
	sc := c.Store
	sc.ClickHouse, sc.Schema, sc.ShutdownTimeout = ch, c.Schema(), c.ShutdownTimeout.D()
	return sc
}
