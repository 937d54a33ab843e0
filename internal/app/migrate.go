package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vakt-dev/vakt/analyze"
	"github.com/vakt-dev/vakt/internal/config"
	"github.com/vakt-dev/vakt/store"
)

// MigrateOptions are the flags of `vakt migrate`.
type MigrateOptions struct {
	// Roles also creates the roles vakt_writer, vakt_security and vakt_ops.
	Roles bool
	// PrintSQL prints the statements instead of connecting.
	PrintSQL bool
}

// MigrateCommand is `vakt migrate`: it applies the schema migrations and
// the configured retention, and with Roles creates the roles, printing
// what it did.
func MigrateCommand(ctx context.Context, cfg config.Config, opts MigrateOptions, log *slog.Logger, out io.Writer) error {
	sc := schemaConfig(cfg)
	if opts.PrintSQL {
		ddl, err := store.SchemaSQL(sc)
		if err != nil {
			return err
		}
		fmt.Fprint(out, ddl)
		if opts.Roles {
			roles, err := store.RoleSQL(sc)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\n-- roles\n\n%s;\n", strings.Join(roles, ";\n"))
		}
		return nil
	}
	eng, err := OpenEngines(ctx, cfg, Need{ClickHouse: true}, "migrate", log)
	if err != nil {
		return err
	}
	defer eng.Close()
	rep, err := store.MigrateReport(ctx, eng.CH, sc)
	if rep != nil {
		printMigration(out, eng.CHAddr, rep)
	}
	if err != nil {
		return err
	}
	if !opts.Roles {
		return nil
	}
	if err := store.CreateRoles(ctx, eng.CH, sc); err != nil {
		if isAccessDenied(err) && cfg.EmbeddedClickHouse() {
			return fmt.Errorf("roles: the embedded engine has no access management, so it cannot create roles (%w); "+
				"run vakt migrate --roles against a ClickHouse server (clickhouse.addr), or use clickhouse.readonly_user for a read-only account here; "+
				"vakt migrate --roles --print-sql shows the SQL", err)
		}
		return fmt.Errorf("roles: %w (the ClickHouse user needs access management: access_management = 1)", err)
	}
	fmt.Fprintf(out, "roles: %s (INSERT only), %s (SELECT on %s and %s), %s (SELECT on %s, which has no client ids)\n",
		store.RoleWriter, store.RoleSecurity, store.RequestsTable, store.ClientsTable, store.RoleOps, store.HealthTable)
	fmt.Fprintf(out, "  give one to a user with: GRANT %s TO alice; ALTER USER alice DEFAULT ROLE %s\n", store.RoleOps, store.RoleOps)
	return nil
}

func printMigration(out io.Writer, addr string, rep *store.MigrationReport) {
	fmt.Fprintf(out, "database %s on %s: schema version %d\n", rep.Database, addr, rep.Version)
	if len(rep.Applied) == 0 {
		fmt.Fprintln(out, "  no migration to apply")
	}
	for _, m := range rep.Applied {
		fmt.Fprintf(out, "  applied migration %d: %s\n", m.Version, m.Name)
	}
	for _, c := range rep.TTLChanges {
		from := "no TTL vakt set"
		if c.From > 0 {
			from = analyze.DaysText(c.From)
		}
		fmt.Fprintf(out, "  retention of %s: %s, was %s\n", c.Table, analyze.DaysText(c.To), from)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(out, "  warning: %s\n", w)
	}
}

// migrateOnStart runs the migrations as a stage starts. A ClickHouse user
// that may not change the schema (vakt_writer, INSERT only) is expected in
// production: then an administrator runs `vakt migrate`, and the stage
// goes on.
func migrateOnStart(ctx context.Context, conn driver.Conn, cfg config.Config, log *slog.Logger) error {
	rep, err := store.MigrateReport(ctx, conn, schemaConfig(cfg))
	if err != nil {
		if isAccessDenied(err) {
			log.Warn("the ClickHouse user may not change the schema; assuming an administrator ran `vakt migrate` for this version and retention", "err", err)
			return nil
		}
		return fmt.Errorf("schema: %w", err)
	}
	for _, m := range rep.Applied {
		log.Info("schema migration applied", "version", m.Version, "name", m.Name)
	}
	for _, c := range rep.TTLChanges {
		log.Info("retention changed", "table", c.Table, "days", int(c.To.Hours()/24), "was_days", int(c.From.Hours()/24))
	}
	for _, w := range rep.Warnings {
		log.Warn(w)
	}
	return nil
}

// isAccessDenied reports ClickHouse's ACCESS_DENIED (497).
func isAccessDenied(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == 497
}

// schemaConfig is the tables' set-up: the clickhouse and retention
// sections.
func schemaConfig(c config.Config) store.SchemaConfig {
	return store.SchemaConfig{
		Database:         c.ClickHouse.Database,
		Cluster:          c.ClickHouse.Cluster,
		RequestsTTL:      c.Retention.Requests.D(),
		ClientRollupsTTL: c.Retention.ClientRollups.D(),
		HealthRollupsTTL: c.Retention.HealthRollups.D(),
	}
}
