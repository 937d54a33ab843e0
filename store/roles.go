package store

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Roles `vakt migrate --roles` creates on a ClickHouse server. Users get
// them with GRANT vakt_ops TO alice (and SET DEFAULT ROLE).
const (
	// RoleWriter may only insert: the store stage's user.
	RoleWriter = "vakt_writer"
	// RoleSecurity reads requests and per-client activity: threat hunting.
	RoleSecurity = "vakt_security"
	// RoleOps reads the health rollup only, which has no client ids.
	RoleOps = "vakt_ops"
)

// grant is one privilege of a role on one of vakt's tables.
type grant struct {
	privilege, table, role string
}

var grants = []grant{
	// The rollups are written by materialized views within the writer's
	// INSERT. Views run as their definer on current servers; the grants on
	// the rollups cover servers where they run as the inserting user.
	{"INSERT", RequestsTable, RoleWriter},
	{"INSERT", HealthTable, RoleWriter},
	{"INSERT", ClientsTable, RoleWriter},
	{"INSERT", SignalsTable, RoleWriter},
	{"INSERT", PathsTable, RoleWriter},
	{"INSERT", PathsWeeklyTable, RoleWriter},
	{"INSERT", HealthHourlyTable, RoleWriter},
	{"INSERT", SourcesTable, RoleWriter},
	{"INSERT", SignalRowsTable, RoleWriter},
	{"INSERT", EpochsTable, RoleWriter},
	// The findings reports keep per epoch (analyze): a user that may also
	// insert keeps them for the next report; security alone reads them.
	{"INSERT", RuleResultsTable, RoleWriter},
	{"SELECT", RequestsTable, RoleSecurity},
	{"SELECT", ClientsTable, RoleSecurity},
	{"SELECT", SignalsTable, RoleSecurity},
	{"SELECT", SignalRowsTable, RoleSecurity},
	// The newer health rollups are the security role's, like the
	// requests they come from; ops keeps the per-minute health only.
	{"SELECT", HealthHourlyTable, RoleSecurity},
	{"SELECT", PathsTable, RoleSecurity},
	{"SELECT", PathsWeeklyTable, RoleSecurity},
	{"SELECT", SourcesTable, RoleSecurity},
	{"SELECT", EpochsTable, RoleSecurity},
	{"SELECT", RuleResultsTable, RoleSecurity},
	{"SELECT", HealthTable, RoleOps},
}

// RoleSQL is the SQL that creates the roles and their grants. In a cluster
// each grant covers the Distributed table and its local table, since the
// shards check the initial user's rights too (with an inter-server secret).
func RoleSQL(cfg SchemaConfig) ([]string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := newSchema(cfg)
	var out []string
	for _, r := range []string{RoleWriter, RoleSecurity, RoleOps} {
		out = append(out, "CREATE ROLE IF NOT EXISTS "+quoteIdent(r)+s.onCluster())
	}
	for _, g := range grants {
		tables := []string{g.table}
		if s.c.Cluster != "" {
			tables = append(tables, s.storage(g.table))
		}
		for _, t := range tables {
			out = append(out, "GRANT"+s.onCluster()+" "+g.privilege+" ON "+s.name(t)+" TO "+quoteIdent(g.role))
		}
	}
	return out, nil
}

// CreateRoles runs RoleSQL. It needs a user with access management.
func CreateRoles(ctx context.Context, conn driver.Conn, cfg SchemaConfig) error {
	stmts, err := RoleSQL(cfg)
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		if err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}
